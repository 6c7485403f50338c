"""Language Confusion Benchmark tasks for lm-evaluation-harness (0.4.x), with langlock's detector as the metric.

`tasks/` is an lm-eval include path (`langlock lm-eval-path` prints it): `lcb_monolingual_<lang>` and
`lcb_crosslingual_<lang>` (one per language of the benchmark's test sets), the groups
`lcb_language_confusion_monolingual`, `lcb_language_confusion_crosslingual` and `lcb_language_confusion`
("lcb" here is the Language Confusion Benchmark, never LiveCodeBench). Each task reads the test sets that
`langlock lcb fetch` cached (`langlock.lcb.cached_test_sets`), generates greedily (at most 100 new tokens, the
benchmark's length) and reports LPR, WPR (ar/hi/ja/ko/ru/zh) and LCPR of the `lcb` detector profile with the
benchmark's averaging (per source, then the mean over sources), so that `langlock score` on the
`samples_*.jsonl` lm-eval writes gives the same numbers. `tasks/utils.py` holds the task functions;
`scripts/make_lmeval_tasks.py` writes the YAML files.
"""

from __future__ import annotations

from pathlib import Path

TASKS_DIR = Path(__file__).with_name("tasks")


def include_path() -> Path:
    """The folder to pass to `lm_eval --include_path`."""
    return TASKS_DIR
