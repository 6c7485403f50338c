"""Probe: does a model that answers "reply in X" in English answer the question once its answer is started in X?

Each held-out cross-lingual prompt of `builtin-confusion` for LANG is answered by MODEL with the answer begun by
OPENER (written in LANG; the generation core's `PromptItem.prefix`), at the benchmark's sampling (T 0.3, p 0.75).
Prints every answer with its language (`detect.lcb.answer_language`) and topic match (`quality.topic`), then one
line ``RESULT in_language=… on_topic=… n=…``. Read the answers: the topic match is a lower bound (docs/subjects.md).

    .venv/bin/python scripts/prefix_probe.py --lang ja --opener "良い質問ですね。まず、" [--model gemma3-270m-it]
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="gemma3-270m-it")
    ap.add_argument("--lang", required=True)
    ap.add_argument("--opener", required=True)
    ap.add_argument("--limit", type=int, default=20)
    ap.add_argument("--max-new-tokens", type=int, default=80)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()

    from langlock.detect.lcb import answer_language
    from langlock.generate import GenerationSettings, PromptItem
    from langlock.generate.hf import HFGenerator
    from langlock.models import resolve_model
    from langlock.quality.topic import in_language_requests, on_topic_share
    from langlock.suites import load_suite

    prompts = load_suite("builtin-confusion", task="crosslingual", langs=args.lang)[: args.limit]
    known = in_language_requests(args.lang)
    gen = HFGenerator(str(resolve_model(args.model)), batch_size=len(prompts), threads=args.threads)
    items = [PromptItem(p.key, p.prompt, language=p.language, prefix=args.opener) for p in prompts]
    texts: dict[str, str] = {}
    gen.generate(items, GenerationSettings(max_new_tokens=args.max_new_tokens, seed=args.seed),
                 lambda c: texts.__setitem__(c.key, args.opener + c.text))
    rows = [{"key": p.key, "language": p.language, "task": p.task, "completion": texts[p.key]} for p in prompts]
    for p, row in zip(prompts, rows):
        matcher, own = known.get(p.key, (None, None))
        topic = bool(matcher and matcher.matches(row["completion"], own))
        print(f"[{p.id}] {answer_language(row['completion'])} topic={int(topic)} {p.prompt!r}\n"
              f"    {row['completion'][:300]!r}")
    in_lang = sum(answer_language(r["completion"]) == args.lang for r in rows)
    on_topic = round(on_topic_share(args.lang, rows) * len(rows))  # the evaluation's metric, as a count
    print(f"RESULT in_language={in_lang} on_topic={on_topic} n={len(prompts)}")

if __name__ == "__main__":
    main()
