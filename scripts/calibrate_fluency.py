"""Calibrate the fluency signal of a judge model: per-byte NLL limits per language, from genuine text.

Genuine text: answers of command-r-plus in the LCB outputs (`--per-lang` per language, seeded sample; the
dev set's genuine answers come from another model, command-r). Limit = quantile `--q` of their NLLs +
`--margin` nats/byte. Writes the calibration JSON that `FluencyJudge` reads (the default judge's ships as
src/langlock/data/quality_calibration.json). `--nll-cache` keeps computed NLLs so a re-run with another
`--q`/`--margin` costs no model time.

    python scripts/calibrate_fluency.py --lcb ../shared/lcb --judge-model gemma3-270m \
        --out src/langlock/data/quality_calibration.json --nll-cache /tmp/nll-cache.json
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
from pathlib import Path

from langlock.io_utils import write_json_atomic
from langlock.quality.fluency import DEFAULT_JUDGE, calibrate
from langlock.quality.nll_cache import cached_nlls

LANGS = ("ko", "ja", "zh", "de", "es", "fr")
CAL_MODEL = "command-r-plus"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lcb", default="../shared/lcb")
    ap.add_argument("--judge-model", default=DEFAULT_JUDGE)
    ap.add_argument("--per-lang", type=int, default=40)
    ap.add_argument("--q", type=float, default=0.98)
    ap.add_argument("--margin", type=float, default=0.15)
    ap.add_argument("--max-tokens", type=int, default=32)
    ap.add_argument("--nll-cache")
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    csv.field_size_limit(sys.maxsize)
    with open(Path(args.lcb) / "outputs" / f"{CAL_MODEL}.csv", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r["language"] in LANGS and r["completion"].strip()]
    texts: dict[str, list[str]] = {}
    for lang in LANGS:
        mine = [r["completion"] for r in rows if r["language"] == lang]
        random.Random(f"cal-{lang}").shuffle(mine)
        texts[lang] = mine[: args.per_lang]
    flat = [t for lang in LANGS for t in texts[lang]]
    nlls = cached_nlls(flat, args.judge_model, args.max_tokens, args.nll_cache)
    by_lang, i = {}, 0
    for lang in LANGS:
        by_lang[lang] = [v for v in nlls[i : i + len(texts[lang])] if v is not None]
        i += len(texts[lang])
    cal = {"judge": args.judge_model, "max_tokens": args.max_tokens, "q": args.q, "margin": args.margin,
           "genuine_text": f"{CAL_MODEL} answers in the LCB outputs, {args.per_lang} per language (seeded)",
           "languages": calibrate(by_lang, args.q, args.margin)}
    write_json_atomic(args.out, cal)
    print(json.dumps(cal["languages"]), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
