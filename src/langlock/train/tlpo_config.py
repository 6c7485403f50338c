"""`TLPOConfig`: every knob of a TLPO run, as a `transformers.TrainingArguments` subclass."""

from __future__ import annotations

from dataclasses import dataclass, field

from transformers import TrainingArguments

from ..errors import UsageError
from ..languages import TLPO_LANGUAGES

CONTEXTS = ("original_ids", "retokenized")


@dataclass
class TLPOConfig(TrainingArguments):
    r"""Configuration of `TLPOTrainer`. Shared concepts keep TRL's GRPO names.

    > Parameters that control generation (rollouts)
    - `num_generations` (8): rollouts per prompt. Paper code: `num_concurrent_solutions=8`.
    - `max_completion_length` (512): new tokens per rollout. Paper: 512.
    - `temperature` (0.6), `top_p` / `top_k` (None = the model's `generation_config`, as the reference).
    - `stop_at_confusion` (True): end a rollout once its confusion point (CP) is known; nothing after the CP is
      ever used. `confusion_check_every` (16): tokens between checks. A CP counts as known when two
      consecutive checks agree on it (a word being written can still change its verdict).
    - `use_vllm` (False): sample the rollouts on a vLLM engine colocated with the trainer (TRL GRPO's
      `vllm_mode="colocate"`): the weights are pushed to it after each optimiser step, the same sampling
      settings and stopping rule apply, and exploration and the update stay in `transformers`
      (`train.vllm_rollouts`; needs the vLLM environment, docs/vllm.md). `vllm_enforce_eager` (False): skip
      vLLM's start-up compilation (minutes on CPU) at the price of slower decoding.

    > Parameters that control branching (exploration at the CP)
    - `num_branches` (16): top-k next tokens of the current policy at the CP (raw logits, T = 1). Paper N=16.
    - `branch_length` (3): greedy tokens appended to each candidate before scoring it. Paper k=3 (the
      reference's hard-coded `gen_len=4` = candidate + 3).
    - `target_language` ("ko"), `ignore_english` (True): the `tlpo` detector profile that finds CPs and
      scores branches. `capital_rule` (True, faithful): capitalised Latin words are judged English-neutral;
      False closes that loophole (SmolLM2-135M learned to write "HANGUL:" under it, docs/tlpo.md).
    - `context` ("original_ids"): map the CP onto the sampled token ids through incremental detokenisation
      offsets (fixed), or "retokenized": decode with special tokens skipped, re-tokenise and map through the
      fast tokenizer's offsets (the reference's behaviour, spec §1.5).

    > Parameters that control the loss
    - `beta` (0.04): weight of the k3 KL penalty to the reference (the initial model).
    - `epsilon` (0.2), `epsilon_high` (None = `epsilon`): PPO clip range of the ratio π/π_old. It acts only
      with `ppo_ratio=True` (and then only from the second of `num_iterations` on, once the policy moved).
    - `ppo_ratio` (False, faithful): which "old" policy the ratio divides by.
      False = the reference code (spec §1.9): old = the current log-prob detached, so the ratio is exactly 1
      on every iteration and `epsilon` / `epsilon_high` never clip (REINFORCE on the candidates plus KL),
      even with `num_iterations` > 1. True = proper PPO: old = the candidates' log-probs at exploration time
      (computed once per data batch, before any update, detached), so iterations after the first are
      clipped to [1 − ε, 1 + ε_high]. Not in the reference.
    - `num_iterations` (1): optimiser steps per data batch on the same items (the reference's `ppo_reuse`;
      the paper reports 2). Steps inside one data batch share the LR, as in the reference. The reference's
      duplicated inner gradient (R× before clipping) is not reproduced.
    - `skip_zero_advantage` (False): drop CPs whose candidates all score alike (A ≡ 0). The reference keeps
      them (its guard tests the probabilities), so they add only the KL term.
    - `stop_after_steps` (None): end after this many optimiser steps while the learning-rate schedule still
      spans `max_steps`, so the result equals that step's checkpoint of the full recipe (an early operating
      point without a different schedule). Not in the reference.

    > TrainingArguments defaults changed to the paper's (reference `main.py`)
    `learning_rate` 5e-7, `lr_scheduler_type` "cosine_with_min_lr" with `min_lr` 5e-8, `warmup_steps` 0.1
    (a fraction), `weight_decay` 0.1, `adam_beta2` 0.95, `max_grad_norm` 1.0, `per_device_train_batch_size`
    4 prompts per process per step (the reference's 4 prompts × 8 rollouts per GPU), `logging_steps` 1,
    `report_to` "none", `remove_unused_columns` False, `bf16` False (the reference trains in fp32).

    One trainer step = one data batch of prompts; its optimiser step uses every CP found in it, with the
    loss averaged over their rows (C × `num_branches`) across all processes. The reference instead collects
    exactly 128 rows per step across batches; here leftovers are not carried (so resuming is exact).
    """

    num_generations: int = field(default=8, metadata={"help": "Rollouts sampled per prompt."})
    max_completion_length: int = field(default=512, metadata={"help": "Max new tokens per rollout."})
    temperature: float = field(default=0.6, metadata={"help": "Sampling temperature of the rollouts."})
    top_p: float | None = field(default=None, metadata={"help": "Nucleus sampling (None: generation_config)."})
    top_k: int | None = field(default=None, metadata={"help": "Top-k sampling (None: generation_config)."})
    stop_at_confusion: bool = field(default=True, metadata={"help": "Stop a rollout once its CP is known."})
    use_vllm: bool = field(default=False, metadata={
        "help": "Generate the rollouts on a colocated vLLM engine, weights pushed after each optimiser step."})
    vllm_enforce_eager: bool = field(default=False, metadata={"help": "vLLM engine without start-up compilation."})
    confusion_check_every: int = field(default=16, metadata={"help": "Tokens between CP checks."})
    num_branches: int = field(default=16, metadata={"help": "Top-k candidates explored at each CP (>= 2)."})
    branch_length: int = field(default=3, metadata={"help": "Greedy lookahead tokens scored with a candidate."})
    target_language: str = field(default="ko", metadata={"help": "Language the model should answer in."})
    ignore_english: bool = field(default=True, metadata={"help": "English (ASCII) is not confusion."})
    capital_rule: bool = field(default=True, metadata={
        "help": "The published detector's rule that capitalised Latin words are judged English-neutral (faithful: "
                "True). False closes the loophole a policy can learn ('HANGUL:' passing a Korean check)."})
    validity_guard: bool = field(default=False, metadata={
        "help": "Score a branch -1 also when the answer it leads to is invalid: an echo of the prompt, a loop or "
                "near-empty (langlock.quality.guard, cheap signals, no model). False: the detector alone (faithful)."})
    context: str = field(default="original_ids", metadata={"help": "CP context: original_ids | retokenized."})
    beta: float = field(default=0.04, metadata={"help": "k3 KL penalty weight."})
    epsilon: float = field(default=0.2, metadata={"help": "Lower clip range of the ratio."})
    epsilon_high: float | None = field(default=None, metadata={"help": "Upper clip range (None: epsilon)."})
    num_iterations: int = field(default=1, metadata={"help": "Optimiser steps per data batch (ppo_reuse)."})
    ppo_ratio: bool = field(default=False, metadata={
        "help": "PPO ratio against the exploration-time log-probs, so epsilon clips from the 2nd iteration on. "
                "False (faithful, the reference code): old = current detached, ratio 1, never clips."})
    skip_zero_advantage: bool = field(default=False, metadata={"help": "Drop CPs with all-equal scores."})
    stop_after_steps: int | None = field(default=None, metadata={
        "help": "End training after this many steps; the LR schedule still spans max_steps."})
    chat_template: str | None = field(default=None, metadata={"help": "Jinja chat template if the model has none."})

    # TrainingArguments defaults changed to the paper's
    learning_rate: float = field(default=5e-7, metadata={"help": "Peak learning rate (paper 5e-7)."})
    lr_scheduler_type: str = field(default="cosine_with_min_lr", metadata={"help": "LR schedule."})
    lr_scheduler_kwargs: dict | str | None = field(
        default_factory=lambda: {"min_lr": 5e-8}, metadata={"help": "Schedule options (paper end_lr 5e-8)."}
    )
    warmup_steps: float = field(default=0.1, metadata={"help": "Warm-up steps, or a fraction if < 1."})
    weight_decay: float = field(default=0.1, metadata={"help": "AdamW weight decay."})
    adam_beta2: float = field(default=0.95, metadata={"help": "AdamW beta2."})
    per_device_train_batch_size: int = field(default=4, metadata={"help": "Prompts per process per step."})
    logging_steps: float = field(default=1, metadata={"help": "Log every N steps."})
    report_to: str | list[str] | None = field(default="none", metadata={"help": "Trackers."})
    remove_unused_columns: bool = field(default=False, metadata={"help": "Keep the prompt column."})

    def __post_init__(self):
        validate_tlpo_fields(self)
        super().__post_init__()
        if self.gradient_accumulation_steps != 1:
            raise UsageError("TLPO: gradient_accumulation_steps must be 1 (one data batch per optimiser step)")


def validate_tlpo_fields(cfg) -> None:
    """Check the TLPO-specific fields; raise `UsageError` naming the first bad one (before any compute)."""
    if cfg.num_branches < 2:
        raise UsageError(f"num_branches must be >= 2 (an advantage needs two candidates), got {cfg.num_branches}")
    if cfg.branch_length < 0:
        raise UsageError(f"branch_length must be >= 0, got {cfg.branch_length}")
    if cfg.num_generations < 1:
        raise UsageError(f"num_generations must be >= 1, got {cfg.num_generations}")
    if cfg.max_completion_length < 1:
        raise UsageError(f"max_completion_length must be >= 1, got {cfg.max_completion_length}")
    if cfg.num_iterations < 1:
        raise UsageError(f"num_iterations must be >= 1, got {cfg.num_iterations}")
    if cfg.stop_after_steps is not None and cfg.stop_after_steps < 1:
        raise UsageError(f"stop_after_steps must be >= 1, got {cfg.stop_after_steps}")
    if cfg.confusion_check_every < 1:
        raise UsageError(f"confusion_check_every must be >= 1, got {cfg.confusion_check_every}")
    if not cfg.temperature > 0:
        raise UsageError(f"temperature must be > 0, got {cfg.temperature}")
    if cfg.context not in CONTEXTS:
        raise UsageError(f"context must be one of {', '.join(CONTEXTS)}, got {cfg.context!r}")
    lang = (cfg.target_language or "").strip().lower()
    if lang not in TLPO_LANGUAGES:
        raise UsageError(
            f"target_language {cfg.target_language!r} is not supported by the tlpo detector; "
            f"supported: {', '.join(sorted(TLPO_LANGUAGES))}"
        )
    cfg.target_language = lang
    if cfg.use_vllm:
        from .vllm_rollouts import check_available

        check_available()
