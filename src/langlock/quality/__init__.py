"""Answer validity: is a passing answer an answer at all?

A language check passes an answer whose script is right; a policy trained against it learns to echo the
prompt, loop or emit syllable noise (docs/tlpo.md). This package gives every answer a verdict from
independent signals (docs/quality.md):
- `signals`: echo of the prompt and degenerate text (loops, near-empty) — pure functions, no model;
- `fluency`: per-byte NLL under a judge model against a per-language calibration (imports torch lazily);
- `verdict`: `judge_records(records, prompts=None, judge=None) -> list[Verdict]`, the one call callers use;
- `join`: prompts for the benchmark's CSV outputs, joined from the LCB test sets by `id`.
Importing this package does not import torch.
"""

from __future__ import annotations

from .signals import DEFAULT_THRESHOLDS, Thresholds
from .verdict import REASONS, Verdict, judge_answer, judge_records

__all__ = ["DEFAULT_THRESHOLDS", "REASONS", "Thresholds", "Verdict", "judge_answer", "judge_records"]
