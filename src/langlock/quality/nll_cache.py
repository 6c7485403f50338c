"""Per-byte NLLs of many texts under a judge model, cached in a JSON file keyed by text hash, so the
calibration and dev-set scripts can be re-run with other thresholds without model time."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ..io_utils import write_json_atomic


def cached_nlls(texts: list[str], judge_model: str, max_tokens: int, cache: str | Path | None) -> list[float | None]:
    """NLL per byte of every text; computed texts are stored in `cache` (when given) under model+text."""
    keys = [hashlib.sha1(f"{judge_model}\x00{max_tokens}\x00{t}".encode()).hexdigest() for t in texts]
    store = json.loads(Path(cache).read_text(encoding="utf-8")) if cache and Path(cache).is_file() else {}
    todo = sorted({i for i, k in enumerate(keys) if k not in store})
    if todo:
        from ..models import load_model_and_tokenizer
        from .fluency import FluencyJudge

        model, tok, _ = load_model_and_tokenizer(judge_model)
        judge = FluencyJudge(model, tok, max_tokens=max_tokens, name=judge_model)
        step = 64
        for s in range(0, len(todo), step):
            chunk = todo[s : s + step]
            for i, v in zip(chunk, judge.nll_per_byte([texts[i] for i in chunk])):
                store[keys[i]] = v
            if cache:
                write_json_atomic(cache, store)
    return [store[k] for k in keys]
