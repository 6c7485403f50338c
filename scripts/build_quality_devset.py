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
import re
import sys
from collections import Counter
from pathlib import Path

from langlock.bench.prompts import load_lcb

LANGS = ("ko", "ja", "zh", "de", "es", "fr")
NO_SPACE = ("ja", "zh")
GENUINE_MODEL = "command-r"


def words(text: str, lang: str, rng: random.Random) -> list[str]:
    if lang == "zh":
        chars = re.sub(r"\s+", "", text)
        return [chars[i : i + 2] for i in range(0, len(chars), 2)]
    if lang == "ja":
        return re.findall(r"[\u4e00-\u9fff]+|[\u3040-\u309f]+|[\u30a0-\u30ff]+|[^\s\u3040-\u30ff\u4e00-\u9fff]+", text)
    return text.split()


def join(ws: list[str], lang: str) -> str:
    return "".join(ws) if lang in NO_SPACE else " ".join(ws)


def make_echo(prompt: str, rng: random.Random) -> str:
    p = prompt.strip()
    variant = rng.randrange(4)
    if variant == 0:
        return p
    if variant == 1:
        return p + "\n" + p
    if variant == 2:
        return p + " " + p[: max(1, len(p) // 4)]
    return p[: max(1, int(len(p) * 0.8))]


def make_loop(answer: str, lang: str, rng: random.Random) -> str:
    ws = [w for w in words(answer, lang, rng) if w.strip()] or [answer[:4]]
    k = rng.randint(1, min(3, len(ws)))
    start = rng.randrange(len(ws) - k + 1)
    unit = join(ws[start : start + k], lang) + ("" if lang in NO_SPACE else " ")
    if rng.random() < 0.3:  # a short syllable loop such as "동안동안동안"
        unit = unit.strip()[:2]
    reps = max(4, len(answer) // max(1, len(unit)) // (2 if rng.random() < 0.5 else 1))
    body = unit * reps
    if rng.random() < 0.5:
        return answer[: len(answer) // 4] + body
    return body


def make_noise(answer: str, lang: str, rng: random.Random) -> str:
    chars = Counter(ch for ch in answer if ch.isalpha())
    pool, weights = list(chars), list(chars.values())
    lengths = [len(w) for w in answer.split() if any(c.isalpha() for c in w)] or [3]
    out, total = [], 0
    while total < len([c for c in answer if c.isalpha()]):
        n = rng.choice(lengths) if lang not in NO_SPACE else rng.randint(5, 30)
        out.append("".join(rng.choices(pool, weights, k=n)))
        total += n
    return ("。" if lang in NO_SPACE else " ").join(out)


def make_salad(answer: str, lang: str, rng: random.Random) -> str:
    ws = words(answer, lang, rng)
    rng.shuffle(ws)
    return join(ws, lang)


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
