"""Stage 2 of `langlock compare`, training: the model each method × seed is evaluated with.

``base`` and ``lock`` train nothing (the model as it is; ``lock`` differs only in its decoding); a method named in
``checkpoints`` takes that directory; every other method is trained through ONE function, `train_one`, with the
same shared budget (``train``: optimiser steps, prompts per step, learning rate, LoRA) and its own
``method_args``. `run_fields` is the whole translation of a compare config into a training run, in the fields of
the library's run API (`langlock.train.RunConfig`: method, model, output_dir, language, data, seed, max_steps,
per_device_train_batch_size, learning_rate, peft, dtype, save_merged, method_args); `_run` executes those fields.
A run whose output is finished is not retrained.
"""

from __future__ import annotations

import time
from pathlib import Path

from ..errors import InputError, UsageError
from .config import UNTRAINED, CompareConfig, run_dir, say

#: shared ``train`` keys that are the budget or the LoRA settings (every other key is a baseline's method arg)
BUDGET = ("max_steps", "per_device_train_batch_size", "learning_rate")
PEFT = {"lora": "enabled", "lora_r": "r", "lora_alpha": "alpha", "lora_dropout": "dropout",
        "lora_target_modules": "target_modules"}
#: method -> training file of the shared data folder
DATA_FILE = {"sft": "sft.jsonl", "grpo": "prompts.jsonl", "tlpo": "prompts.jsonl"}


def model_for(cfg: CompareConfig, method: str, seed: int, data_dir: Path | None) -> str:
    """The model (path or spec) that `method` at `seed` is evaluated with; trains it when needed."""
    if method in UNTRAINED:
        return str(cfg.model)
    if method in cfg.checkpoints:
        path = Path(str(cfg.checkpoints[method]).replace("{seed}", str(seed))).expanduser()
        if not ((path / "config.json").is_file() or (path / "adapter_config.json").is_file()):
            raise InputError(f"checkpoints.{method} for seed {seed}: {path} is not a model or adapter directory")
        return str(path)
    if data_dir is None:
        raise UsageError(f"{method}: no training data was built")
    return train_one(cfg, method, seed, data_dir)


def run_fields(cfg: CompareConfig, method: str, seed: int, data_dir: Path) -> dict:
    """The training run of `method` at `seed`, as `langlock.train.RunConfig` fields (``peft`` as a dict of
    `PeftSettings` fields; only the LoRA settings the config gives)."""
    base_method = method.split("-")[0]
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
            "language": cfg.language, "data": str(data_dir / DATA_FILE.get(base_method, "pairs.jsonl")),
            "seed": seed, **budget, "peft": peft, "dtype": cfg.dtype, "save_merged": True, "method_args": args}


def train_one(cfg: CompareConfig, method: str, seed: int, data_dir: Path) -> str:
    """Train `method` at `seed` on the shared data unless its run is finished; return its model directory."""
    fields = run_fields(cfg, method, seed, data_dir)
    out = Path(fields["output_dir"])
    if not _finished(out):
        t0 = time.time()
        steps = _run(fields)
        say(f"trained {method} seed {seed}: {steps} steps, {time.time() - t0:.0f} s")
    return str(out / "model")


# Until `langlock.train.run` lands, `_finished` and `_run` execute the fields with the trainers of today
# (`baselines.trl_baselines.train_baseline`, `train.tlpo_trainer.TLPOTrainer`). With the run API they become:
#     from langlock.train import PeftSettings, RunConfig, is_finished, run
#     _finished = is_finished
#     def _run(f): return run(RunConfig(**{**f, "peft": PeftSettings(**f["peft"])})).global_step


def _finished(out: Path) -> bool:
    from ..baselines.trl_baselines import is_finished

    return is_finished(out)


def _lora_keys(peft: dict) -> dict:
    return {f"lora_{k}": v for k, v in peft.items() if k != "enabled"}


def _run(f: dict) -> int:
    if f["method"] == "tlpo":
        return _run_tlpo(f)
    from ..baselines.trl_baselines import BaselineConfig, train_baseline

    values = {**f["method_args"], **{k: f[k] for k in BUDGET if k in f}, "lora": f["peft"]["enabled"],
              **_lora_keys(f["peft"]), "dtype": f["dtype"]}
    bcfg = BaselineConfig.from_mapping(
        {**values, **{k: f[k] for k in ("method", "model", "data", "output_dir", "seed", "language")}},
        where=f"compare train/method_args for {f['method']}")
    return train_baseline(bcfg)["global_step"]


def _run_tlpo(f: dict) -> int:
    """TLPO through `langlock.train.TLPOTrainer` on the prompt-only data; ``method_args`` are `TLPOConfig`
    fields (num_generations, max_completion_length, num_branches, beta...)."""
    import torch
    from datasets import Dataset

    from ..baselines.trl_baselines import save_run
    from ..databuild.jsonl import read_rows, user_text
    from ..models import load_model_and_tokenizer
    from ..train.tlpo_config import TLPOConfig
    from ..train.tlpo_trainer import TLPOTrainer

    t0 = time.time()
    out = Path(f["output_dir"])
    lora = bool(f["peft"]["enabled"])
    lr = f.get("learning_rate")
    use_cpu = not torch.cuda.is_available()
    args = dict(output_dir=str(out / "trainer"), seed=f["seed"], max_steps=f.get("max_steps", -1),
                per_device_train_batch_size=f.get("per_device_train_batch_size", 4),
                learning_rate=lr if lr is not None else (1e-4 if lora else 5e-6), target_language=f["language"],
                save_strategy="no", use_cpu=use_cpu, disable_tqdm=True, dataloader_num_workers=0,
                **f["method_args"])
    try:
        targs = TLPOConfig(**args)
    except TypeError as err:
        raise UsageError(f"method_args.tlpo: {err}") from None
    model, tok, _ = load_model_and_tokenizer(f["model"], dtype=f["dtype"], device="cpu" if use_cpu else "cuda")
    model.train()
    rows = [{"prompt": user_text(r["prompt"])} for r in read_rows(Path(f["data"]), "prompts")]
    peft_config = None
    if lora:
        from peft import LoraConfig

        p = f["peft"]
        peft_config = LoraConfig(task_type="CAUSAL_LM", r=p.get("r", 16), lora_alpha=p.get("alpha", 32),
                                 lora_dropout=p.get("dropout", 0.05),
                                 target_modules=p.get("target_modules", "all-linear"))
    trainer = TLPOTrainer(model, targs, Dataset.from_list(rows), tok, peft_config=peft_config)
    result = trainer.train()
    log = save_run(trainer, result, out, lora=lora, method="tlpo", config={"run": f, **args}, start=t0)
    return log["global_step"]
