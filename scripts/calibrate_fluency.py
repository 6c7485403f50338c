"""Calibrate the fluency signal of a judge model: per-byte NLL limits per language, from genuine text.

Genuine text: answers of command-r-plus in the LCB outputs (`--per-lang` per language, seeded sample; the
dev set's genuine answers come from another model, command-r). Limit, `--method quantile`: quantile `--q` of
their NLLs + `--margin` nats/byte; `--method separate` (default): `choose_limit` between those answers and
word salad made from `--tune-n` other command-r-plus answers of the language (a tuning split: the dev set is
built from command-r's answers, so its numbers stay held out). Writes the calibration JSON that `FluencyJudge` reads (the default judge's ships as
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
from langlock.quality.corrupt import make_salad
from langlock.quality.fluency import DEFAULT_JUDGE, calibrate, choose_limit
from langlock.quality.nll_cache import cached_nlls

LANGS = ("ko", "ja", "zh", "de", "es", "fr")
CAL_MODEL = "command-r-plus"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lcb", default="../shared/lcb")
    ap.add_argument("--judge-model", default=DEFAULT_JUDGE)
    ap.add_argument("--per-lang", type=int, default=60)
    ap.add_argument("--tune-n", type=int, default=40, help="word-salad tuning answers per language")
    ap.add_argument("--method", choices=("separate", "quantile"), default="separate")
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
    salad: dict[str, list[str]] = {}
    for lang in LANGS:
        mine = [r["completion"] for r in rows if r["language"] == lang]
        random.Random(f"cal-{lang}").shuffle(mine)
        texts[lang] = mine[: args.per_lang]
        rng = random.Random(f"tune-{lang}")
        salad[lang] = [make_salad(t, lang, rng) for t in mine[args.per_lang : args.per_lang + args.tune_n]]
    flat = [t for lang in LANGS for t in texts[lang]]
    flat_salad = [t for lang in LANGS for t in salad[lang]] if args.method == "separate" else []
    nlls = cached_nlls(flat + flat_salad, args.judge_model, args.max_tokens, args.nll_cache)
    by_lang, bad, i = {}, {}, 0
    for lang in LANGS:
        by_lang[lang] = [v for v in nlls[i : i + len(texts[lang])] if v is not None]
        i += len(texts[lang])
    for lang in LANGS if flat_salad else ():
        bad[lang] = [v for v in nlls[i : i + len(salad[lang])] if v is not None]
        i += len(salad[lang])
    languages = calibrate(by_lang, args.q, args.margin)
    if args.method == "separate":
        for lang, entry in languages.items():
            entry["limit"] = round(choose_limit(by_lang[lang], bad[lang]), 4)
            entry["salad_median"] = round(sorted(bad[lang])[len(bad[lang]) // 2], 4)
    cal = {"judge": args.judge_model, "max_tokens": args.max_tokens, "method": args.method,
           **({"q": args.q, "margin": args.margin} if args.method == "quantile" else
              {"tuning": f"word salad of {args.tune_n} other {CAL_MODEL} answers per language, "
                         "limit weighted by the targets (5 % genuine rejected, 15 % salad accepted)"}),
           "genuine_text": f"{CAL_MODEL} answers in the LCB outputs, {args.per_lang} per language (seeded)",
           "languages": languages}
    write_json_atomic(args.out, cal)
    print(json.dumps(cal["languages"]), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
