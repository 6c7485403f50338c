"""SFT, DPO, ORPO, GRPO (TRL's own trainers) and TBPO (our `TBPOTrainer`): the trainers of the baseline methods.

A baseline run is a `langlock.train.RunConfig` like any other (`langlock.train.run` loads the model, trains
and writes the one output layout); this module only builds the method's trainer. `BaselineArgs` holds the
fields only the baselines know (the RunConfig's ``method_args``); anything else TRL's config accepts goes into
``trl_args`` (passed through unchanged, so an unknown key is TRL's own error). The LoRA configuration comes
from `RunConfig.peft` (`PeftSettings.lora_config`), the same for every method.

Data (from `langlock data pairs`): SFT reads ``sft.jsonl`` ({prompt, completion}), DPO/ORPO/TBPO read
``pairs.jsonl`` ({prompt, chosen, rejected}), GRPO reads ``prompts.jsonl`` ({prompt, language}) and is rewarded by
`langlock.rewards.language_consistency_reward`. Conversational rows get the model's chat template from TRL.

ORPO lives in ``trl.experimental.orpo`` (TRL >= 0.26); the import is guarded and names the supported range.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields

from ..errors import InputError, UsageError

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
class BaselineArgs:
    """The method arguments of a baseline run (`RunConfig.method_args`)."""

    # budget
    num_train_epochs: float = 1.0
    gradient_accumulation_steps: int = 1
    max_length: int = 512
    limit: int | None = None  # use only the first N rows of the data
    #: save OUT/checkpoint-N every this many optimiser steps (None: no checkpoints); a killed run then resumes
    #: from its last complete checkpoint (``resume_from_checkpoint``, as TLPO's)
    save_steps: int | None = None
    resume_from_checkpoint: bool | str | None = None
    #: a Jinja chat template set on the tokenizer before training (for a base model without one: its
    #: conversational data needs a template), saved with the trained model
    chat_template: str | None = None
    # preference methods
    beta: float | None = None  # DPO/TBPO β, ORPO λ, GRPO KL β (None: TRL's default)
    # GRPO
    num_generations: int = 4
    max_completion_length: int = 128
    temperature: float = 1.0
    reward_profile: str = "tlpo"
    ignore_english: bool = True
    capital_rule: bool = True  # the reward detector's rule that capitalised Latin words are English-neutral
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
        if self.num_train_epochs <= 0:
            raise UsageError("the training budget is empty (num_train_epochs <= 0)")
        if self.save_steps is not None and (isinstance(self.save_steps, bool) or not isinstance(self.save_steps, int)
                                            or self.save_steps < 1):
            raise UsageError(f"save_steps must be an integer >= 1, got {self.save_steps!r}")
        if self.tbpo_variant not in ("q", "a"):
            raise UsageError(f"tbpo_variant must be q or a, got {self.tbpo_variant!r}")

    @classmethod
    def of(cls, cfg) -> BaselineArgs:
        """The `BaselineArgs` of a `RunConfig` (its ``method_args``; keys were checked by the RunConfig)."""
        known = {f.name for f in fields(cls)}
        try:
            return cls(**{k: v for k, v in cfg.method_args.items() if k in known})
        except TypeError as err:
            raise UsageError(f"method_args: {err}") from None


def load_rows(cfg):
    """The training rows of a baseline `RunConfig` as a `datasets.Dataset` with only the columns it uses."""
    from datasets import Dataset

    from ..databuild.jsonl import read_rows

    args = BaselineArgs.of(cfg)
    rows = read_rows(cfg.data, f"{cfg.method} data")
    need = DATA_COLUMNS[cfg.method]
    keep = need + (("language",) if cfg.method == "grpo" else ())
    for n, row in enumerate(rows, 1):
        missing = [c for c in need if c not in row]
        if missing:
            raise InputError(f"{cfg.data} row {n}: missing {', '.join(missing)} (the {cfg.method} data needs "
                             f"{', '.join(need)})")
    if args.limit is not None:
        rows = rows[: args.limit]
    langs = {r["language"] for r in rows if isinstance(r.get("language"), str)}
    if cfg.language is None and len(langs) == 1:
        cfg.language = langs.pop()  # the target language of data from `langlock data pairs`
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


def _common_args(cfg, args: BaselineArgs, use_cpu: bool) -> dict:
    return dict(
        output_dir=str(cfg.output_dir), seed=cfg.seed, max_steps=cfg.max_steps,
        num_train_epochs=args.num_train_epochs, per_device_train_batch_size=cfg.per_device_train_batch_size,
        gradient_accumulation_steps=args.gradient_accumulation_steps, learning_rate=cfg.lr, logging_steps=1,
        **({"save_strategy": "steps", "save_steps": args.save_steps} if args.save_steps else {"save_strategy": "no"}),
        report_to="none", use_cpu=use_cpu, bf16=cfg.dtype == "bfloat16" and not use_cpu,
        fp16=cfg.dtype == "float16" and not use_cpu, gradient_checkpointing=False, disable_tqdm=True,
        dataloader_num_workers=0,
    )


def build_trainer(cfg, model, tok, model_path, dataset, peft_config):
    """The configured TRL trainer (not yet trained) of a baseline `RunConfig` for a loaded `model`/`tok`.

    `model_path` is where the model was loaded from (DPO/TBPO full fine-tuning load a frozen reference from
    it; with LoRA the reference is the adapter-free base); `peft_config` comes from `PeftSettings.lora_config`.
    """
    import torch

    from ..models import load_model_and_tokenizer

    args = BaselineArgs.of(cfg)
    use_cpu = not torch.cuda.is_available()
    model.train()
    common = _common_args(cfg, args, use_cpu)
    extra = dict(args.trl_args)
    beta = {} if args.beta is None else {"beta": args.beta}

    def make(config_cls, **kw):
        try:
            return config_cls(**{**common, **kw, **extra})
        except TypeError as err:
            raise UsageError(f"trl_args: {err}") from None

    if cfg.method == "sft":
        from trl import SFTConfig, SFTTrainer

        targs = make(SFTConfig, max_length=args.max_length)
        return SFTTrainer(model=model, args=targs, train_dataset=dataset, processing_class=tok,
                          peft_config=peft_config)
    if cfg.method == "orpo":
        ORPOConfig, ORPOTrainer = _import_orpo()
        targs = make(ORPOConfig, max_length=args.max_length, **beta)
        return ORPOTrainer(model=model, args=targs, train_dataset=dataset, processing_class=tok,
                           peft_config=peft_config)
    if cfg.method == "grpo":
        from trl import GRPOConfig, GRPOTrainer

        from ..rewards import language_consistency_reward

        reward = language_consistency_reward(cfg.language, profile=args.reward_profile,
                                             ignore_english=args.ignore_english, capital_rule=args.capital_rule,
                                             partial_credit=args.partial_credit)
        bs = cfg.per_device_train_batch_size
        if bs % args.num_generations:
            raise UsageError(f"GRPO: per_device_train_batch_size ({bs}) must be a multiple of num_generations "
                             f"({args.num_generations})")
        targs = make(GRPOConfig, num_generations=args.num_generations,
                     max_completion_length=args.max_completion_length, temperature=args.temperature, **beta)
        return GRPOTrainer(model=model, reward_funcs=[reward], args=targs, train_dataset=dataset,
                           processing_class=tok, peft_config=peft_config)
    # DPO and TBPO: an explicit frozen reference for full fine-tuning (LoRA uses the adapter-free base)
    ref = None
    if peft_config is None:
        ref, _, _ = load_model_and_tokenizer(model_path, dtype=cfg.dtype)
    if cfg.method == "dpo":
        from trl import DPOConfig, DPOTrainer

        targs = make(DPOConfig, max_length=args.max_length, **beta)
        return DPOTrainer(model=model, ref_model=ref, args=targs, train_dataset=dataset, processing_class=tok,
                          peft_config=peft_config)
    from .tbpo_trainer import TBPOConfig, TBPOTrainer

    targs = make(TBPOConfig, max_length=args.max_length, tbpo_variant=args.tbpo_variant, generator=args.generator,
                 bregman_lambda=args.bregman_lambda, bregman_scale=args.bregman_scale,
                 baseline_mlp_dim=args.baseline_mlp_dim, **beta)
    return TBPOTrainer(model=model, ref_model=ref, args=targs, train_dataset=dataset, processing_class=tok,
                       peft_config=peft_config)


__all__ = ["DATA_COLUMNS", "METHODS", "SUPPORTED_TRL", "BaselineArgs", "build_trainer", "load_rows"]
