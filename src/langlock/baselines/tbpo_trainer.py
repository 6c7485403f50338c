"""`TBPOTrainer`: TRL's `DPOTrainer` with DPO's sequence loss replaced by TBPO's token-level loss.

Everything but the loss is TRL's DPO machinery: dataset preparation (standard or conversational preference data,
chat template applied), the collator (`[chosen; rejected]` batch with a `completion_mask`), the reference model
(a frozen copy, or the PEFT base with the adapter disabled), LoRA wrapping, logging and saving. The override
needs full logits (TBPO-A's exact KL) and hidden states (TBPO-Q's head), so it runs the model's ordinary forward
instead of TRL's fused log-prob head; maths in `langlock.baselines.tbpo`.

TBPO-Q's baseline head is trained by the same loss through log ŵ (the backbone hidden state is detached, so the
head never changes the LM). It is added as an extra parameter group (lr `baseline_lr`, no weight decay) of the
trainer's optimiser, so it follows the same schedule shape; it is not saved with the model (training-only).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import torch
from trl import DPOConfig, DPOTrainer

from .tbpo import (
    Generator,
    baseline_log_weights,
    k3_data_token,
    kl_per_position,
    make_baseline_head,
    pack,
    pack_order,
    paired_mask,
    tbpo_loss,
)

VARIANTS = ("q", "a", "unit")


@dataclass
class TBPOConfig(DPOConfig):
    """`DPOConfig` plus the TBPO fields of methods-spec §1.12 (`beta`, `label_smoothing` are DPO's own)."""

    tbpo_variant: str = field(default="q", metadata={"help": "q (baseline head), a (KL advantage) or unit (w=1)"})
    tbpo_level: str = field(default="token", metadata={"help": "token (TBPO) or sequence (BPO; = DPO with logistic)"})
    generator: str = field(default="sba", metadata={"help": "logistic, kliep, lsif, ba or sba"})
    bregman_lambda: float = 0.0
    bregman_scale: float = 4.0
    log_ratio_clip: float = 30.0
    baseline_mlp_dim: int = 1024
    baseline_lr: float = 1e-3
    baseline_clip: float = 10.0
    baseline_center: bool = True
    kl_estimator: str = field(default="exact", metadata={"help": "exact (full-vocabulary KL) or k3_data_token"})
    detach_kl: bool = False
    mask_shared_prefix: bool = False

    def __post_init__(self):
        super().__post_init__()
        if self.tbpo_variant not in VARIANTS:
            raise ValueError(f"unknown TBPO variant {self.tbpo_variant!r}; choose one of {', '.join(VARIANTS)}")
        if self.tbpo_level not in ("token", "sequence"):
            raise ValueError(f"unknown TBPO level {self.tbpo_level!r}; choose token or sequence")
        if self.kl_estimator not in ("exact", "k3_data_token"):
            raise ValueError(f"unknown kl_estimator {self.kl_estimator!r}; choose exact or k3_data_token")
        if self.precompute_ref_log_probs:
            raise ValueError("TBPO needs per-token reference log-probs; precompute_ref_log_probs is not supported")
        Generator(self.generator, self.bregman_lambda, self.bregman_scale)  # validates


class TBPOTrainer(DPOTrainer):
    """DPOTrainer whose loss is TBPO's (see the module docstring); same constructor as `trl.DPOTrainer`."""

    _tag_names = ["trl", "dpo", "tbpo", "langlock"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        a = self.args
        self.generator = Generator(a.generator, a.bregman_lambda, a.bregman_scale)
        self.baseline_head = None
        if a.tbpo_variant == "q":
            hidden = self.model.config.get_text_config().hidden_size
            torch.manual_seed(a.seed)
            self.baseline_head = make_baseline_head(hidden, a.baseline_mlp_dim).to(self.accelerator.device)

    def create_optimizer(self, model=None):
        fresh = self.optimizer is None
        optimizer = super().create_optimizer(model)
        if fresh and self.baseline_head is not None:
            optimizer.add_param_group(
                {"params": list(self.baseline_head.parameters()), "lr": self.args.baseline_lr, "weight_decay": 0.0}
            )
        return optimizer

    def _reference_logits(self, model_kwargs: dict) -> torch.Tensor:
        from accelerate.utils import is_peft_model
        from trl.models.utils import disable_gradient_checkpointing
        from trl.trainer.utils import use_adapter

        with torch.no_grad(), disable_gradient_checkpointing(self.model, self.args.gradient_checkpointing_kwargs):
            ctx = contextlib.nullcontext()
            ref = self.ref_model
            if is_peft_model(self.model) and self.ref_model is None:
                unwrapped = self.accelerator.unwrap_model(self.model)
                ctx = use_adapter(unwrapped, adapter_name="ref" if "ref" in unwrapped.peft_config else None)
                ref = self.model
            with ctx:
                return ref(**model_kwargs).logits

    def _compute_loss(self, model, inputs, return_outputs):
        args = self.args
        mode = "train" if self.model.training else "eval"
        model_kwargs = {"input_ids": inputs["input_ids"], "attention_mask": inputs["attention_mask"], "use_cache": False}
        want_hidden = args.tbpo_variant == "q"
        outputs = model(**model_kwargs, output_hidden_states=want_hidden)
        seq = inputs["input_ids"].size(1) - 1
        logits = outputs.logits[:, -seq - 1 : -1].float()
        labels = inputs["input_ids"][:, 1:]
        mask = inputs["completion_mask"][:, 1:].bool()
        logp = logits.log_softmax(-1).gather(-1, labels.unsqueeze(-1)).squeeze(-1)
        ref_logits = self._reference_logits(model_kwargs)[:, -seq - 1 : -1].float()
        ref_logp = ref_logits.log_softmax(-1).gather(-1, labels.unsqueeze(-1)).squeeze(-1)
        maskf = mask.to(logp.dtype)
        r = (logp - ref_logp) * maskf

        order = pack_order(mask)
        lengths = mask.sum(1)
        n = r.size(0) // 2
        len_w, len_l = lengths[:n], lengths[n:]
        width = max(int(torch.minimum(len_w, len_l).max()), 1)
        r_p = pack(r, order)[:, :width]
        tok = pack(labels, order)[:, :width]
        shared = (tok[:n], tok[n:]) if args.mask_shared_prefix else (None, None)
        m = paired_mask(len_w, len_l, width, *shared)

        log_w = None
        if args.tbpo_variant == "a":
            if args.kl_estimator == "exact":
                kl = kl_per_position(logits, ref_logits)
            else:
                kl = k3_data_token(logp, ref_logp)
            if args.detach_kl:
                kl = kl.detach()
            kl_p = pack(kl * maskf, order)[:, :width]
            log_w = (kl_p[n:] - kl_p[:n]) * m.to(kl_p.dtype)
        elif args.tbpo_variant == "q":
            hidden = outputs.hidden_states[-1][:, -seq - 1 : -1].detach()
            head_dtype = next(self.baseline_head.parameters()).dtype
            b = self.baseline_head(hidden.to(head_dtype)).float()
            b_p = pack(b, order)[:, :width]
            log_w = baseline_log_weights(
                b_p[:n], b_p[n:], m, center=args.baseline_center, clip=args.baseline_clip
            )

        res = tbpo_loss(
            r_p[:n], r_p[n:], m, log_w, beta=args.beta, gen=self.generator, clip=args.log_ratio_clip,
            label_smoothing=args.label_smoothing, level=args.tbpo_level, full_w=r[:n], full_l=r[n:],
        )
        self._log_tbpo(mode, r, maskf, n, res, log_w, m)
        if return_outputs:
            return res.loss, outputs
        return res.loss

    def _log_tbpo(self, mode, r, maskf, n, res, log_w, m):
        with torch.no_grad():
            seq_r = r.sum(1)
            chosen, rejected = self.beta * seq_r[:n], self.beta * seq_r[n:]
            g = self.accelerator.gather
            metrics = self._metrics[mode]
            metrics["rewards/chosen"].append(g(chosen).mean().item())
            metrics["rewards/rejected"].append(g(rejected).mean().item())
            metrics["rewards/margins"].append(g(chosen - rejected).mean().item())
            metrics["rewards/accuracies"].append(g((chosen > rejected).float()).mean().item())
            mf = m.float()
            denom = mf.sum().clamp(min=1)
            metrics["tbpo/mean_z"].append(float(res.z.sum() / denom) if res.z.dim() == 2 else float(res.z.mean()))
            metrics["tbpo/clipped_fraction"].append(res.clipped_fraction)
            metrics["tbpo/paired_tokens"].append(float(mf.sum()))
            if log_w is not None:
                metrics["tbpo/mean_abs_log_w"].append(float((log_w.abs() * mf).sum() / denom))


__all__ = ["VARIANTS", "TBPOConfig", "TBPOTrainer"]
