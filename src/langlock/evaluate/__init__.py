"""Evaluation as data: an `EvalPlan` (suites, decoding with per-language logits processors, retention, reference
model for KL) executed by one function, `evaluate(model, plan, out_dir) -> EvalResult`, from the reports the
bench runner writes. `langlock compare` and the demo evaluate every method through it; a LanguageLock is part
of a plan's `Decoding`, not a method of its own.
"""

from __future__ import annotations

from .plan import Decoding, EvalPlan, Runtime, SuiteSpec
from .result import METRICS, EvalResult, Metrics, confusion_metrics, retention_metrics
from .run import evaluate, finished_evaluation

__all__ = ["METRICS", "Decoding", "EvalPlan", "EvalResult", "Metrics", "Runtime", "SuiteSpec", "confusion_metrics",
           "evaluate", "finished_evaluation", "retention_metrics"]
