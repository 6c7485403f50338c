"""Stage 2 of `langlock compare`, training: the model each method × seed is evaluated with.

``base``, ``lock``, ``fewshot`` and ``site`` train no weights (the model as it is; they differ only in their decoding,
`compare.methods`; ``site`` fits its steering file here); a method named in
``checkpoints`` takes that directory; every other method is trained through ONE function, `train_one`, with the
same shared budget (``train``: optimiser steps, prompts per step, learning rate, LoRA) and its own
``method_args``; a ``joint-M`` method is method M on the pooled data of ``joint_languages`` (`data.joint_data`),
its run's language unset (the data holds several). `run_fields` is the whole translation of a compare config into a training run, in the fields of
the library's run API (`langlock.train.RunConfig`: method, model, output_dir, language, data, seed, max_steps,
per_device_train_batch_size, learning_rate, peft, dtype, save_merged, method_args); `_run` hands them to
`langlock.train.run`.
A run whose output is finished is not retrained; one trained (again) loses any unfinished evaluation in its folder.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from ..errors import InputError, UsageError
from .config import JOINT, UNTRAINED, CompareConfig, run_dir, say

#: shared ``train`` keys that are the budget or the LoRA settings (every other key is a baseline's method arg)
BUDGET = ("max_steps", "per_device_train_batch_size", "learning_rate")
PEFT = {"lora": "enabled", "lora_r": "r", "lora_alpha": "alpha", "lora_dropout": "dropout",
        "lora_target_modules": "target_modules"}
#: method -> training file of the shared data folder
DATA_FILE = {"sft": "sft.jsonl", "grpo": "prompts.jsonl", "tlpo": "prompts.jsonl"}


def model_path(cfg: CompareConfig, method: str, seed: int) -> str:
    """The model (path or spec) that `method` at `seed` is evaluated with, as `model_for` returns it, without
    training or checking anything."""
    if method in UNTRAINED:
        return str(cfg.model)
    if method in cfg.checkpoints:
        return str(Path(str(cfg.checkpoints[method]).replace("{seed}", str(seed))).expanduser())
    return str(run_dir(cfg, method, seed) / "model")


def model_for(cfg: CompareConfig, method: str, seed: int, data_dir: Path | None) -> str:
    """The model (path or spec) that `method` at `seed` is evaluated with; trains it when needed."""
    if method in UNTRAINED:  # SITE's steering file is the decoding's, fitted by `run_compare` (`methods.FITS`)
        return str(cfg.model)
    if method in cfg.checkpoints:
        path = Path(model_path(cfg, method, seed))
        if not ((path / "config.json").is_file() or (path / "adapter_config.json").is_file()):
            raise InputError(f"checkpoints.{method} for seed {seed}: {path} is not a model or adapter directory")
        return str(path)
    if method in JOINT:
        from .data import joint_data

        data_dir = joint_data(cfg)
    if data_dir is None:
        raise UsageError(f"{method}: no training data was built")
    return train_one(cfg, method, seed, data_dir)


def run_fields(cfg: CompareConfig, method: str, seed: int, data_dir: Path) -> dict:
    """The training run of `method` at `seed`, as `langlock.train.RunConfig` fields (``peft`` as a dict of
    `PeftSettings` fields; only the LoRA settings the config gives)."""
    base_method = method.removeprefix("joint-").split("-")[0]
    shared = {**cfg.train}
    peft = {PEFT[k]: shared.pop(k) for k in list(shared) if k in PEFT}
    peft.setdefault("enabled", True)
    budget = {k: shared.pop(k) for k in BUDGET if k in shared}
    # the TRL baselines take the other shared keys (max_length...); TLPO only its own method_args
    extra = {} if method == "tlpo" else shared
    args = {**extra, **cfg.method_args.get(method, {})}
    for k in BUDGET:  # a per-method override of the budget
        if k in args:
            budget[k] = args.pop(k)
    if method.startswith("tbpo-"):
        args["tbpo_variant"] = method.split("-")[1]
    if base_method in ("grpo", "tlpo"):
        args.setdefault("ignore_english", cfg.pair_ignore_english)
    if base_method == "grpo":
        # comparable budget: the same prompts per optimiser step, each with num_generations completions
        budget["per_device_train_batch_size"] = (budget.get("per_device_train_batch_size", 4)
                                                 * args.get("num_generations", 4))
    return {"method": base_method, "model": str(cfg.model), "output_dir": str(run_dir(cfg, method, seed)),
            "language": None if method in JOINT else cfg.language, "data": str(data_dir / DATA_FILE.get(base_method, "pairs.jsonl")),
            "seed": seed, **budget, "peft": peft, "dtype": cfg.dtype, "save_merged": False, "method_args": args}


def train_one(cfg: CompareConfig, method: str, seed: int, data_dir: Path) -> str:
    """Train `method` at `seed` on the shared data unless its run is finished; return its model directory."""
    fields = run_fields(cfg, method, seed, data_dir)
    out = Path(fields["output_dir"])
    if not _finished(out):
        stale = out / "eval"  # begun on weights that are gone (a folder kept without them): not this model's answers
        if stale.exists():
            shutil.rmtree(stale)
            say(f"{method} seed {seed}: removed the unfinished evaluation of weights that are no longer there")
        t0 = time.time()
        steps = _run(fields)
        say(f"trained {method} seed {seed}: {steps} steps, {time.time() - t0:.0f} s")
    return str(out / "model")


def _finished(out: Path) -> bool:
    from ..train import is_finished

    return is_finished(out)


def _run(f: dict) -> int:
    """Execute the fields through the one run API; returns the optimiser steps taken."""
    from ..train import PeftSettings, RunConfig, run

    return run(RunConfig(**{**f, "peft": PeftSettings(**f["peft"])})).global_step
