"""Training: one run API for every method, TLPO's trainer and its pure maths.

    from langlock.train import RunConfig, run
    result = run(RunConfig.from_yaml("configs/tlpo/smollm2-135m-instruct_ko.yaml", ["max_steps=5"]))

- `run_config`: `METHODS`, `RunConfig` (one run of any method; flat YAML recipes) and `PeftSettings` (the one
  place a `peft.LoraConfig` is built);
- `runner`: `run(RunConfig) -> RunResult` (trains, or skips a finished run) and `is_finished`; the output layout;
- `tlpo_config`, `tlpo_trainer`, `tlpo_ops`, `tlpo_branch`: TLPO itself. The baselines' trainers are in
  `langlock.baselines`.

Nothing heavy (torch, transformers) is imported here.
"""

from .run_config import METHODS, PeftSettings, RunConfig
from .runner import RunResult, is_finished, run

__all__ = ["METHODS", "PeftSettings", "RunConfig", "RunResult", "is_finished", "run"]
