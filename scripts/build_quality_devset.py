"""Build the answer-validity development set (docs/quality.md) from the LCB material in ../shared/lcb.

Per language (ko, ja, zh, de, es, fr) and kind, seeded and deterministic:
- genuine: answers of command-r in the LCB outputs (a model the fluency calibration does not use: that one
  is built from command-r-plus answers), with their joined prompts;
- echo: a monolingual prompt of the language restated — once, twice, with a short tail, or 80 % of it;
- loop: a genuine answer's word or phrase repeated, alone or after the answer's opening;
- noise: characters drawn from a genuine answer's own character frequencies, in its word lengths
  (syllable noise in the right script);
- salad: a genuine answer's words shuffled (ja/zh: script runs / 2-character pieces, as they have no spaces).
Every row has the score fields (task, model, source, language, completion, id, prompt) plus `kind` and
`expected_valid`. No real bad outputs of SmolLM2 or a TLPO run exist in ../shared, so none are included.

    python scripts/build_quality_devset.py --lcb ../shared/lcb --out devset.jsonl [--per-kind 30]
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
from pathlib import Path

from langlock.bench.prompts import load_lcb
from langlock.quality.corrupt import make_echo, make_loop, make_noise, make_salad

LANGS = ("ko", "ja", "zh", "de", "es", "fr")
GENUINE_MODEL = "command-r"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lcb", default="../shared/lcb", help="the LCB folder (outputs/, test_sets/)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--per-kind", type=int, default=30)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    lcb = Path(args.lcb)
    csv.field_size_limit(sys.maxsize)
    prompts = load_lcb(lcb / "test_sets")
    index = {(p.task, p.source, p.language, p.id): p.prompt for p in prompts}
    with open(lcb / "outputs" / f"{GENUINE_MODEL}.csv", encoding="utf-8") as fh:
        answers = [r for r in csv.DictReader(fh) if r["language"] in LANGS and len(r["completion"].strip()) > 0]
    rows = []
    for lang in LANGS:
        rng = random.Random(f"{args.seed}-{lang}")
        mine = [r for r in answers if r["language"] == lang]
        rng.shuffle(mine)
        mono = [p for p in prompts if p.language == lang and p.task == "monolingual"]
        rng.shuffle(mono)

        def row(kind, text, src, prompt, i, lang=lang):
            return {"task": src.get("task", "monolingual"), "model": f"devset-{kind}",
                    "source": src.get("source", "lcb"), "language": lang, "completion": text, "id": f"{lang}-{kind}-{i}", "prompt": prompt,
                    "kind": kind, "expected_valid": kind == "genuine"}

        for i, r in enumerate(mine[: args.per_kind]):
            rows.append(row("genuine", r["completion"], r, index[(r["task"], r["source"], lang, r["id"])], i))
        pool = mine[args.per_kind :]
        for i, p in enumerate(mono[: args.per_kind]):
            rows.append(row("echo", make_echo(p.prompt, rng), {"task": p.task, "source": p.source}, p.prompt, i))
        for kind, fn in (("loop", make_loop), ("noise", make_noise), ("salad", make_salad)):
            for i, r in enumerate(rng.sample(pool, args.per_kind)):
                prompt = index[(r["task"], r["source"], lang, r["id"])]
                rows.append(row(kind, fn(r["completion"], lang, rng), r, prompt, i))
    with open(args.out, "w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(f"{len(rows)} rows -> {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
