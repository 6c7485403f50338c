"""Report the validity judge on the dev set (scripts/build_quality_devset.py): per language x kind the share
of answers judged valid, and the ROC AUC of the fluency signal (NLL per byte) separating genuine answers
from noise and from word salad. Prints a Markdown table (docs/quality.md).

    python scripts/quality_devset_report.py devset.jsonl [--cheap] [--nll-cache FILE]

Without `--cheap` the judge model scores every answer (its NLLs cached in `--nll-cache`, so a re-run costs
no model time); the limits are the shipped calibration's (or `--judge-calibration`).
"""

from __future__ import annotations

import argparse
import json
import sys

from langlock.quality import judge_records
from langlock.quality.evaluate import roc_auc, valid_rates
from langlock.quality.fluency import DEFAULT_JUDGE, FluencyJudge, load_calibration
from langlock.quality.nll_cache import cached_nlls

KINDS = ("genuine", "echo", "loop", "noise", "salad")
TARGET = {"genuine": ">= 95", "echo": "<= 5", "loop": "<= 5", "noise": "<= 5", "salad": "<= 15"}


class CachedJudge(FluencyJudge):
    """The fluency judge with NLLs from the cache file (computed with the model where missing)."""

    def __init__(self, calibration: dict, cache: str | None, model: str):
        super().__init__(calibration=calibration, max_tokens=int(calibration.get("max_tokens", 32)), name=model)
        self.cache = cache

    def nll_per_byte(self, texts):
        return cached_nlls(list(texts), self.name, self.max_tokens, self.cache)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("devset")
    ap.add_argument("--cheap", action="store_true", help="only the model-free signals")
    ap.add_argument("--judge-model", default=DEFAULT_JUDGE)
    ap.add_argument("--judge-calibration")
    ap.add_argument("--nll-cache")
    args = ap.parse_args(argv)
    with open(args.devset, encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    judge = None if args.cheap else CachedJudge(load_calibration(args.judge_calibration), args.nll_cache,
                                                args.judge_model)
    verdicts = judge_records(rows, judge=judge)
    rates = valid_rates(rows, verdicts)
    langs = list(dict.fromkeys(r["language"] for r in rows))
    print("| language | " + " | ".join(f"{k} valid % (target {TARGET[k]})" for k in KINDS)
          + ("" if judge is None else " | fluency AUC genuine vs noise | vs salad") + " |")
    print("|" + "---|" * (len(KINDS) + 1 + (0 if judge is None else 2)))
    for lang in langs:
        cells = []
        for k in KINDS:
            ok, n = rates.get((lang, k), (0, 0))
            cells.append(f"{100 * ok / n:.1f} ({ok}/{n})" if n else "-")
        if judge is not None:
            nll = {k: [v.scores["nll_per_byte"] for r, v in zip(rows, verdicts)
                       if r["language"] == lang and r["kind"] == k and "nll_per_byte" in v.scores] for k in KINDS}
            for bad in ("noise", "salad"):
                auc = roc_auc(nll[bad], nll["genuine"])
                cells.append("-" if auc is None else f"{auc:.3f}")
        print(f"| {lang} | " + " | ".join(cells) + " |")
    reasons: dict[str, dict[str, int]] = {}
    for r, v in zip(rows, verdicts):
        for reason in v.invalid_reasons:
            reasons.setdefault(r["kind"], {}).setdefault(reason, 0)
            reasons[r["kind"]][reason] += 1
    print("\nreasons per kind: " + json.dumps(reasons, sort_keys=True), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
