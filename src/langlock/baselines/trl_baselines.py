"""SFT, DPO, ORPO, GRPO (TRL's own trainers) and TBPO (our `TBPOTrainer`) from one config, LoRA or full.

`BaselineConfig` holds what every method shares (model, data, output, LoRA, budget, seed) plus the few
method-specific fields; anything else TRL's config accepts goes into ``trl_args`` (passed through unchanged, so
an unknown key is TRL's own error). `train_baseline(cfg)` trains and writes

    OUT/model/            the trained model (LoRA merged into the weights) + tokenizer, loadable by transformers
    OUT/train_log.json    config, TRL version, log history (loss per step), runtime — written last, so its
                          presence marks a finished run (`langlock compare` relies on it to resume)

Data (from `langlock data pairs`): SFT reads ``sft.jsonl`` ({prompt, completion}), DPO/ORPO/TBPO read
``pairs.jsonl`` ({prompt, chosen, rejected}), GRPO reads ``prompts.jsonl`` ({prompt, language}) and is rewarded by
`langlock.rewards.language_consistency_reward`. Conversational rows get the model's chat template from TRL.

Learning-rate defaults (when ``learning_rate`` is not set): 1e-4 with LoRA, 5e-6 for full fine-tuning.
ORPO lives in ``trl.experimental.orpo`` (TRL >= 0.26); the import is guarded and names the supported range.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from ..errors import InputError, UsageError
from ..io_utils import atomic_dir, write_json_atomic

METHODS = ("sft", "dpo", "orpo", "grpo", "tbpo")
SUPPORTED_TRL = ">=1.0,<2"
DATA_COLUMNS = {
    "sft": ("prompt", "completion"),
    "dpo": ("prompt", "chosen", "rejected"),
    "orpo": ("prompt", "chosen", "rejected"),
    "tbpo": ("prompt", "chosen", "rejected"),
    "grpo": ("prompt",),
}


@dataclass
class BaselineConfig:
    """One training run of a baseline. YAML keys are these field names (see `from_yaml`)."""

    method: str
    model: str
    data: str
    output_dir: str
    language: str | None = None  # GRPO reward target when the data has no `language` column
    seed: int = 0
    # budget
    max_steps: int = -1
    num_train_epochs: float = 1.0
    per_device_train_batch_size: int = 4
    gradient_accumulation_steps: int = 1
    learning_rate: float | None = None
    max_length: int = 512
    limit: int | None = None  # use only the first N rows of the data
    # adapters
    lora: bool = True
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    lora_target_modules: str | list[str] = "all-linear"
    dtype: str = "float32"
    # preference methods
    beta: float | None = None  # DPO/TBPO β, ORPO λ, GRPO KL β (None: TRL's default)
    # GRPO
    num_generations: int = 4
    max_completion_length: int = 128
    temperature: float = 1.0
    reward_profile: str = "tlpo"
    ignore_english: bool = True
    partial_credit: float = 0.5
    # TBPO
    tbpo_variant: str = "q"
    generator: str = "sba"
    bregman_lambda: float = 0.0
    bregman_scale: float = 4.0
    baseline_mlp_dim: int = 1024
    # anything else the TRL config accepts
    trl_args: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.method not in METHODS:
            raise UsageError(f"unknown method {self.method!r}; choose one of {', '.join(METHODS)}")
        if self.dtype not in ("float32", "bfloat16", "float16"):
            raise UsageError(f"unknown dtype {self.dtype!r}")
        if self.max_steps == 0 or self.num_train_epochs <= 0:
            raise UsageError("the training budget is empty (max_steps 0 or num_train_epochs <= 0)")

    @classmethod
    def from_mapping(cls, data: dict, where: str = "config") -> BaselineConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise UsageError(f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        missing = [k for k in ("method", "model", "data", "output_dir") if k not in data]
        if missing:
            raise UsageError(f"{where}: missing key(s) {', '.join(missing)}")
        return cls(**data)

    @classmethod
    def from_yaml(cls, path: str | Path, **overrides) -> BaselineConfig:
        from ..config_io import read_yaml

        p = Path(path)
        data = read_yaml(p)
        data.update({k: v for k, v in overrides.items() if v is not None})
        return cls.from_mapping(data, str(p))


def load_rows(cfg: BaselineConfig):
    """The training rows as a `datasets.Dataset` with only the columns the method uses."""
    from datasets import Dataset

    from ..databuild.jsonl import read_rows

    rows = read_rows(cfg.data, f"{cfg.method} data")
    need = DATA_COLUMNS[cfg.method]
    keep = need + (("language",) if cfg.method == "grpo" else ())
    for n, row in enumerate(rows, 1):
        missing = [c for c in need if c not in row]
        if missing:
            raise InputError(f"{cfg.data} row {n}: missing {', '.join(missing)} (the {cfg.method} data needs "
                             f"{', '.join(need)})")
    if cfg.limit is not None:
        rows = rows[: cfg.limit]
    cleaned = [{k: r[k] for k in keep if k in r} for r in rows]
    if cfg.method == "grpo" and any("language" not in r for r in cleaned):
        if cfg.language is None:
            raise UsageError(f"{cfg.data}: GRPO needs a target language (a `language` column or `language:`)")
        cleaned = [{**r, "language": r.get("language") or cfg.language} for r in cleaned]
    return Dataset.from_list(cleaned)


def _import_orpo():
    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
    try:
        from trl.experimental.orpo import ORPOConfig, ORPOTrainer
    except ImportError:
        import trl

        raise UsageError(
            f"ORPO needs trl.experimental.orpo (TRL >= 0.26); langlock supports trl{SUPPORTED_TRL}, "
            f"found trl {getattr(trl, '__version__', 'unknown')}"
        ) from None
    return ORPOConfig, ORPOTrainer


def _common_args(cfg: BaselineConfig, use_cpu: bool) -> dict:
    lr = cfg.learning_rate if cfg.learning_rate is not None else (1e-4 if cfg.lora else 5e-6)
    return dict(
        output_dir=str(Path(cfg.output_dir) / "trainer"), seed=cfg.seed, max_steps=cfg.max_steps,
        num_train_epochs=cfg.num_train_epochs, per_device_train_batch_size=cfg.per_device_train_batch_size,
        gradient_accumulation_steps=cfg.gradient_accumulation_steps, learning_rate=lr, logging_steps=1,
        save_strategy="no", report_to="none", use_cpu=use_cpu, bf16=cfg.dtype == "bfloat16" and not use_cpu,
        fp16=cfg.dtype == "float16" and not use_cpu, gradient_checkpointing=False, disable_tqdm=True,
        dataloader_num_workers=0,
    )


def build_trainer(cfg: BaselineConfig):
    """Load model, tokenizer and data and return the configured TRL trainer (not yet trained)."""
    import torch

    from ..models import load_model_and_tokenizer

    use_cpu = not torch.cuda.is_available()
    device = "cpu" if use_cpu else "cuda"
    model, tok, path = load_model_and_tokenizer(cfg.model, dtype=cfg.dtype, device=device)
    model.train()
    ds = load_rows(cfg)
    peft_config = None
    if cfg.lora:
        from peft import LoraConfig

        peft_config = LoraConfig(task_type="CAUSAL_LM", r=cfg.lora_r, lora_alpha=cfg.lora_alpha,
                                 lora_dropout=cfg.lora_dropout, target_modules=cfg.lora_target_modules)
    common = _common_args(cfg, use_cpu)
    extra = dict(cfg.trl_args)
    beta = {} if cfg.beta is None else {"beta": cfg.beta}

    def make(config_cls, **kw):
        try:
            return config_cls(**{**common, **kw, **extra})
        except TypeError as err:
            raise UsageError(f"trl_args: {err}") from None

    if cfg.method == "sft":
        from trl import SFTConfig, SFTTrainer

        args = make(SFTConfig, max_length=cfg.max_length)
        return SFTTrainer(model=model, args=args, train_dataset=ds, processing_class=tok, peft_config=peft_config)
    if cfg.method == "orpo":
        ORPOConfig, ORPOTrainer = _import_orpo()
        args = make(ORPOConfig, max_length=cfg.max_length, **beta)
        return ORPOTrainer(model=model, args=args, train_dataset=ds, processing_class=tok, peft_config=peft_config)
    if cfg.method == "grpo":
        from trl import GRPOConfig, GRPOTrainer

        from ..rewards import language_consistency_reward

        reward = language_consistency_reward(cfg.language, profile=cfg.reward_profile,
                                             ignore_english=cfg.ignore_english, partial_credit=cfg.partial_credit)
        bs = cfg.per_device_train_batch_size
        if bs % cfg.num_generations:
            raise UsageError(f"GRPO: per_device_train_batch_size ({bs}) must be a multiple of num_generations "
                             f"({cfg.num_generations})")
        args = make(GRPOConfig, num_generations=cfg.num_generations, max_completion_length=cfg.max_completion_length,
                    temperature=cfg.temperature, **beta)
        return GRPOTrainer(model=model, reward_funcs=[reward], args=args, train_dataset=ds, processing_class=tok,
                           peft_config=peft_config)
    # DPO and TBPO: an explicit frozen reference for full fine-tuning (LoRA uses the adapter-free base)
    ref = None
    if not cfg.lora:
        ref, _, _ = load_model_and_tokenizer(path, dtype=cfg.dtype, device=device)
    if cfg.method == "dpo":
        from trl import DPOConfig, DPOTrainer

        args = make(DPOConfig, max_length=cfg.max_length, **beta)
        return DPOTrainer(model=model, ref_model=ref, args=args, train_dataset=ds, processing_class=tok,
                          peft_config=peft_config)
    from .tbpo_trainer import TBPOConfig, TBPOTrainer

    args = make(TBPOConfig, max_length=cfg.max_length, tbpo_variant=cfg.tbpo_variant, generator=cfg.generator,
                bregman_lambda=cfg.bregman_lambda, bregman_scale=cfg.bregman_scale,
                baseline_mlp_dim=cfg.baseline_mlp_dim, **beta)
    return TBPOTrainer(model=model, ref_model=ref, args=args, train_dataset=ds, processing_class=tok,
                       peft_config=peft_config)


def is_finished(output_dir: str | Path) -> bool:
    out = Path(output_dir)
    return (out / "train_log.json").is_file() and (out / "model" / "config.json").is_file()


def train_baseline(cfg: BaselineConfig) -> dict:
    """Train, save the (merged) model into OUT/model, write OUT/train_log.json last; return the log."""
    start = time.time()
    trainer = build_trainer(cfg)
    result = trainer.train()
    return save_run(trainer, result, cfg.output_dir, lora=cfg.lora, method=cfg.method, config=asdict(cfg),
                    start=start)


def save_run(trainer, result, output_dir: str | Path, *, lora: bool, method: str, config: dict, start: float) -> dict:
    """Save a trained `trainer`'s model (LoRA merged) + tokenizer to OUT/model, then OUT/train_log.json."""
    import trl

    model = trainer.accelerator.unwrap_model(trainer.model)
    if lora:
        model = model.merge_and_unload()
    out = Path(output_dir)
    with atomic_dir(out / "model") as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        trainer.processing_class.save_pretrained(tmp)
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    log = {
        "method": method,
        "config": config,
        "trl_version": trl.__version__,
        "global_step": trainer.state.global_step,
        "train_loss": result.training_loss,
        "losses": losses,
        "log_history": trainer.state.log_history,
        "runtime_s": round(time.time() - start, 2),
    }
    write_json_atomic(out / "train_log.json", json.loads(json.dumps(log, default=str)))
    return log


__all__ = ["METHODS", "SUPPORTED_TRL", "BaselineConfig", "build_trainer", "is_finished", "load_rows", "save_run", "train_baseline"]
