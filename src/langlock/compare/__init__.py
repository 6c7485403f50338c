"""`langlock compare`: train every selected method on the same model, data and budget; evaluate each the same
way; report mean and 95% interval over seeds, and each method's change against the base paired by seed, in one
table and one plot. Resumable at every stage.

Stages (modules of this package; each skips the work whose output is already there, so a rerun continues):

1. `data`: prompts → base-model samples → pairs / SFT / prompt-only data, once, shared by all methods and seeds;
2. `train`: per method × seed, ONE function (`train.train_one`) with the same shared budget; ``base``, ``lock``,
   ``fewshot`` and ``site`` train no weights (``site`` fits its SITE steering file per seed, `methods`),
   ``checkpoints`` names models trained elsewhere (``{seed}`` filled in);
3. `evaluate`: per method × seed, one `langlock.evaluate.EvalPlan` (a ``lock`` is the base model with a
   LanguageLock in its decoding, ``site`` with a steering file, ``fewshot`` with N demonstrations before each
   prompt, all for target-language requests: `methods.decoding_for`);
4. `report` with `statistics`: ``compare.md``, ``compare.csv``, ``compare.png`` and ``results.json`` (kind
   ``compare``) in the output folder.

`config.CompareConfig` holds the settings (configs/compare/*.yaml).
"""

from __future__ import annotations

from ..evaluate import METRICS
from .config import LOCKED, METHODS, UNTRAINED, CompareConfig
from .run import load_answers, load_evaluations, report_only, run_compare
from .statistics import mean_ci, paired_deltas, summarize
from .train import train_one

__all__ = ["LOCKED", "METHODS", "METRICS", "UNTRAINED", "CompareConfig", "load_answers", "load_evaluations", "mean_ci",
           "paired_deltas", "report_only", "run_compare", "summarize", "train_one"]
