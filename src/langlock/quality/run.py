"""Verdicts for `langlock score --quality`: prompts joined, the judge model loaded, every answer judged.

`MODES`: "full" runs every signal including the fluency judge model; "cheap" runs only the model-free
signals (echo, degenerate) and leaves fluency out of the verdicts.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..errors import UsageError
from .fluency import DEFAULT_JUDGE, FluencyJudge
from .join import attach_prompts, find_test_sets
from .verdict import Verdict, judge_records

MODES = ("full", "cheap")


def quality_verdicts(records: Sequence, files: Sequence[str | Path] = (), mode: str = "full",
                     judge_model: str = DEFAULT_JUDGE, calibration: str | Path | None = None,
                     test_sets: str | Path | None = None) -> tuple[list[Verdict], dict]:
    """Verdicts for `records` plus the settings used (for settings.json). The prompt of a record without
    one is joined from `test_sets` (default: the LCB `test_sets` folder next to the files' `outputs/`)."""
    if mode not in MODES:
        raise UsageError(f"unknown --quality mode {mode!r}; choose {' or '.join(MODES)}")
    sets = Path(test_sets) if test_sets else find_test_sets(files)
    needs_join = any(not r.prompt and r.id is not None for r in records)
    prompts = attach_prompts(records, sets if needs_join else None)
    judge = FluencyJudge.load(judge_model, calibration) if mode == "full" else None
    verdicts = judge_records(records, prompts, judge)
    info = {"quality": mode, "test_sets": str(sets) if sets and needs_join else None,
            "echo_not_judged": sum("echo" in v.not_judged for v in verdicts)}
    if judge is not None:
        info.update(judge_model=judge_model, judge_calibration=str(calibration) if calibration else "shipped",
                    judge_max_tokens=judge.max_tokens)
    return verdicts, info
