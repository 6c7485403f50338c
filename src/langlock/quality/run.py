"""Verdicts for `langlock score --quality`: prompts joined, the judge model loaded, every answer judged.

`MODES`: "full" runs every signal including the judge; "cheap" runs only the model-free signals (echo,
degenerate). `BACKENDS`: "model" = the fluency judge model (local, per-byte NLL); "openai" = an LLM judge
behind an OpenAI-compatible server (`llm_judge`), whose verdicts are cached per answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..errors import UsageError
from .fluency import DEFAULT_JUDGE, FluencyJudge
from .join import attach_prompts, find_test_sets
from .verdict import Verdict, judge_records

MODES = ("full", "cheap")
BACKENDS = ("model", "openai")


def quality_verdicts(records: Sequence, files: Sequence[str | Path] = (), mode: str = "full",
                     judge_model: str | None = None, calibration: str | Path | None = None,
                     test_sets: str | Path | None = None, backend: str = "model", judge_url: str | None = None,
                     judge_cache: str | Path | None = None,
                     examples: Sequence[Sequence[str]] | None = None) -> tuple[list[Verdict], dict]:
    """Verdicts for `records` plus the settings used (for settings.json). The prompt of a record without
    one is joined from `test_sets` (default: the LCB `test_sets` folder next to the files' `outputs/`);
    `examples`: per record, the answers of the in-context examples it was generated after (the copy signal)."""
    if mode not in MODES:
        raise UsageError(f"unknown --quality mode {mode!r}; choose {' or '.join(MODES)}")
    if backend not in BACKENDS:
        raise UsageError(f"unknown --judge-backend {backend!r}; choose {' or '.join(BACKENDS)}")
    llm = None
    if mode == "full" and backend == "openai":
        if not judge_url or not judge_model:
            raise UsageError("--judge-backend openai needs --judge-url URL and --judge-model NAME (the server's model)")
        llm = _llm_judge(judge_url, judge_model, judge_cache)
    judge_model = judge_model or DEFAULT_JUDGE
    sets = Path(test_sets) if test_sets else find_test_sets(files)
    needs_join = any(not r.prompt and r.id is not None for r in records)
    prompts = attach_prompts(records, sets if needs_join else None)
    judge = FluencyJudge.load(judge_model, calibration) if mode == "full" and llm is None else None
    verdicts = judge_records(records, prompts, judge, llm=llm, examples=examples)
    info = {"quality": mode, "test_sets": str(sets) if sets and needs_join else None,
            "echo_not_judged": sum("echo" in v.not_judged for v in verdicts)}
    if judge is not None:
        info.update(judge_model=judge_model, judge_calibration=str(calibration) if calibration else "shipped",
                    judge_max_tokens=judge.max_tokens)
    if llm is not None:
        from .llm_judge import PROMPT_VERSION

        info.update(judge_backend="openai", judge_url=judge_url, judge_model=judge_model,
                    judge_prompt_version=PROMPT_VERSION, judge_cache=str(llm.cache_path))
    return verdicts, info


def _llm_judge(url: str, model: str, cache: str | Path | None):
    """An `LLMJudge`, its cache by default `<langlock cache>/judge/<sha of url+model>.json`."""
    import hashlib

    from ..models import default_cache_dir
    from .llm_judge import LLMJudge

    if cache is None:
        digest = hashlib.sha256(f"{url}\x00{model}".encode()).hexdigest()[:16]
        cache = default_cache_dir().parent / "judge" / f"{digest}.json"
    return LLMJudge(url, model, cache)
