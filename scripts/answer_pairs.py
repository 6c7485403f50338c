"""Randomly drawn before/after answers from a `langlock compare` folder, printed unedited as Markdown.

For each drawn prompt of the target language (one task, default cross-lingual): the prompt (cut to
`--prompt-chars`, said so when cut), then every method's answer in full as generated, each headed by the LCB
detector's verdict and the validity judgement the evaluation made (`eval/confusion/lcb/samples.jsonl`). The draw
is `random.Random(--draw-seed).sample` over the prompts every listed method answered, sorted by key first, so the
same folder and seeds draw the same prompts.

    python scripts/answer_pairs.py results/h2h-gemma-it1200-ja --methods base,tlpo --seed 0 --n 10
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path


def load_samples(compare_dir: Path, method: str, seed: int, language: str, task: str) -> dict[str, dict]:
    """prompt key -> the scored sample of `method` at `seed` (the evaluation's LCB-profile samples)."""
    path = compare_dir / "runs" / method / f"seed{seed}" / "eval" / "confusion" / "lcb" / "samples.jsonl"
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist (is {method} seed {seed} evaluated?)")
    rows = (json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
    return {f"{r['task']}/{r['source']}/{r['id']}": r for r in rows
            if r["language"] == language and r["task"] == task}


def verdict(row: dict) -> str:
    det = row["detection"]
    lang = next((x["lang"] for x in det.get("lines", []) if x.get("judged")), None)
    valid = "valid" if row["valid"] else "invalid: " + ", ".join(row["invalid_reasons"])
    return f"LCB {det['status']}" + (f" (first judged line: {lang})" if lang else "") + f"; {valid}"


def fence(text: str) -> str:
    ticks = "````" if "```" in text else "```"
    return f"{ticks}text\n{text}\n{ticks}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("compare_dir", type=Path)
    ap.add_argument("--methods", default="base,tlpo", help="comma-separated; the first is 'before'")
    ap.add_argument("--seed", type=int, default=0, help="the runs' seed (training and decoding)")
    ap.add_argument("--n", type=int, default=10)
    ap.add_argument("--draw-seed", type=int, default=0)
    ap.add_argument("--task", default="crosslingual", choices=("crosslingual", "monolingual"))
    ap.add_argument("--language", help="default: the compare folder's target language")
    ap.add_argument("--prompt-chars", type=int, default=300)
    args = ap.parse_args(argv)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    cfg = args.compare_dir / "config.json"
    language = args.language or (json.loads(cfg.read_text(encoding="utf-8"))["language"] if cfg.is_file() else None)
    if not language or len(methods) < 2:
        print("answer_pairs: need a target language (--language) and at least two methods", file=sys.stderr)
        return 2
    try:
        runs = {m: load_samples(args.compare_dir, m, args.seed, language, args.task) for m in methods}
    except FileNotFoundError as err:
        print(f"answer_pairs: {err}", file=sys.stderr)
        return 2
    keys = sorted(set.intersection(*(set(r) for r in runs.values())))
    if len(keys) < args.n:
        print(f"answer_pairs: only {len(keys)} prompts answered by every method", file=sys.stderr)
        return 2
    drawn = random.Random(args.draw_seed).sample(keys, args.n)
    print(f"{args.n} of {len(keys)} {language} {args.task} prompts drawn with random.Random({args.draw_seed}); "
          f"{', '.join(methods)} at seed {args.seed}; answers unedited.\n")
    for i, key in enumerate(drawn, 1):
        prompt = runs[methods[0]][key]["prompt"]
        cut = len(prompt) > args.prompt_chars
        shown = prompt[:args.prompt_chars] + (f" […{len(prompt) - args.prompt_chars} more characters]" if cut else "")
        print(f"### {i}. `{key}`\n\n**Prompt:**\n\n{fence(shown)}\n")
        for m in methods:
            row = runs[m][key]
            print(f"**{m}** ({verdict(row)}):\n\n{fence(row['completion'])}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
