"""The `hf` side of the vLLM parity tests, run by the main environment's Python (transformers 5.23).

    python _hf_reference.py REQUEST.json OUT.json

REQUEST: {"model": spec, "prompts": [{"key", "text", "language"}], "settings": GenerationSettings fields,
"locks": {language: LanguageLock options}}. OUT: {"model_path": ..., "completions": {key: {"token_ids",
"text", "finish_reason", "n_tokens"}}}: langlock's own `hf` backend in float32, greedy or seeded as asked.
"""

from __future__ import annotations

import json
import sys


def main(request_path: str, out_path: str) -> None:
    from langlock.generate import GenerationSettings, PromptItem
    from langlock.generate.hf import DecodeOptions, HFGenerator
    from langlock.inference.lock import LockFactory

    req = json.load(open(request_path, encoding="utf-8"))
    gen = HFGenerator(req["model"], dtype="float32", batch_size=req.get("batch_size", 8))
    items = [PromptItem(p["key"], p["text"], language=p.get("language")) for p in req["prompts"]]
    settings = GenerationSettings(**req["settings"])
    options = DecodeOptions(processors=LockFactory(gen.tokenizer, req["locks"])) if req.get("locks") else None
    done = {}
    gen.generate(items, settings, lambda c: done.__setitem__(c.key, {
        "token_ids": c.token_ids, "text": c.text, "finish_reason": c.finish_reason, "n_tokens": c.n_tokens}),
        options)
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump({"model_path": gen.model_path, "completions": done}, f, ensure_ascii=False)


if __name__ == "__main__":
    main(*sys.argv[1:3])
