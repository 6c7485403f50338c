"""`TLPOTrainer`: token-level policy optimisation on a `transformers.Trainer`, readable top to bottom.

One trainer step = one data batch of prompts:

1. `_generate_rollouts`: sample `num_generations` completions per prompt with the current policy, stopping a
   rollout once its confusion point (CP) is known; with `use_vllm` on a colocated vLLM engine that receives
   the weights after each optimiser step (`train.vllm_rollouts`), else with `transformers.generate`.
2. `_find_confusion_points`: run the detector on each completion and map the CP character to a token (the
   sampled ids via incremental-detokenisation offsets, or the reference's re-tokenised text).
3. `_branch_and_score`: at every CP at once, the top-`num_branches` next tokens and their greedy lookahead
   (one batched prefix forward, KV cache expanded), each branch scored by the detector, the advantage, and
   the reference log-probs of the candidates (computed once, here). The candidates' exploration-time
   log-probs are kept as the "old" policy of `TLPOConfig.ppo_ratio`.
4. `_update`: one prefix forward per CP (batched), the candidates' log-probs from one log-softmax at the CP,
   the clipped loss with the k3 KL penalty, backward. The Trainer then clips and steps the optimiser.

The maths are the pure functions of `tlpo_ops` / `tlpo_branch`, proven equal to the reference's naive
computation in `tests/test_tlpo_equivalence.py`.
"""

from __future__ import annotations

import copy
import logging
import time
from collections import defaultdict
from dataclasses import dataclass

import torch
from transformers import StoppingCriteria, StoppingCriteriaList, Trainer, TrainerCallback

from ..errors import UsageError
from . import tlpo_branch as br
from . import tlpo_ops as ops
from .tlpo_config import TLPOConfig

logger = logging.getLogger(__name__)


@dataclass
class ConfusedRollout:
    """A rollout with a confusion point: `prefix` is the context up to (not including) the CP token."""

    prefix: list[int]
    cp_position: int  # index of the CP token within the response (original_ids) or the full context
    response_len: int
    before: str = ""  # the response text before the confusion point (for `validity_guard`)
    prompt: str | None = None  # the user prompt (for `validity_guard`'s echo signal)


@dataclass
class ScoredBranches:
    """What `_update` trains on: C confusion points (CPs) with k candidates each (tensors `[C, k]`)."""

    prefixes: list[list[int]]  # context up to each CP
    cand_ids: torch.Tensor  # the top-k candidate tokens at each CP
    adv: torch.Tensor  # their advantages (`tlpo_ops.branch_advantage`)
    ref_logp: torch.Tensor  # the reference model's log-probs of the candidates
    old_logp: torch.Tensor  # the policy's log-probs of the candidates at exploration time (no grad)


class _StopAtConfusion(StoppingCriteria):
    """Marks a row done when two consecutive checks (every `every` tokens) find the same CP in its text."""

    def __init__(self, tokenizer, detector, prompt_len: int, every: int):
        self.tok, self.det, self.prompt_len, self.every = tokenizer, detector, prompt_len, every
        self.last: dict[int, int] = {}

    def __call__(self, input_ids, scores, **kwargs):
        done = torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
        n_new = input_ids.shape[1] - self.prompt_len
        if n_new == 0 or n_new % self.every:
            return done
        for row in range(input_ids.shape[0]):
            text = self.tok.decode(input_ids[row, self.prompt_len :].tolist(), skip_special_tokens=True)
            cp = self.det.detect(text).first_confusion_char
            if cp >= 0 and self.last.get(row) == cp:
                done[row] = True
            self.last[row] = cp
        return done


class _StopAfter(TrainerCallback):
    """Ends training after `steps` optimiser steps (`TLPOConfig.stop_after_steps`); the step's checkpoint, if
    one is due, is still written, since saving runs after this callback."""

    def __init__(self, steps: int):
        self.steps = steps

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step >= self.steps:
            control.should_training_stop = True
        return control


class TLPOTrainer(Trainer):
    """Token-level policy optimisation (Choo et al., ACL 2026, arXiv 2604.26553).

    Args:
        model: a causal LM (object). With `peft_config` it is wrapped with PEFT and the reference is the same
            model with its adapter disabled (no second copy); otherwise a frozen copy is the reference.
        args: `TLPOConfig`.
        train_dataset: rows with a `prompt` column (the user message; the chat template is applied here).
        processing_class: the tokenizer (a fast tokenizer; must have a chat template or `args.chat_template`).
        detector: anything with `.detect(text).first_confusion_char`; default the `tlpo` profile.
        ref_model: an explicit reference model for full fine-tuning (default: a frozen copy of `model`).
    """

    _name = "TLPO"
    _paper = {
        "title": "TLPO: Token-Level Policy Optimization for Mitigating Language Confusion in Large Language Models",
        "id": "2604.26553",
    }

    def __init__(self, model, args: TLPOConfig, train_dataset, processing_class, detector=None, ref_model=None,
                 peft_config=None, callbacks=None):
        tok = processing_class
        if args.chat_template:
            tok.chat_template = args.chat_template
        if not getattr(tok, "chat_template", None):
            raise UsageError("the tokenizer has no chat template; set chat_template in the config")
        if tok.pad_token_id is None:
            tok.pad_token = tok.eos_token
        self.use_peft = peft_config is not None
        if self.use_peft:
            from peft import get_peft_model
            from transformers import set_seed

            set_seed(args.seed)  # the adapter's initial weights depend only on the seed
            model = get_peft_model(model, peft_config)
            self.ref_model = None
        else:
            self.ref_model = ref_model if ref_model is not None else copy.deepcopy(model)
            self.ref_model.eval().requires_grad_(False)
        if detector is None:
            from ..detect import get_detector

            detector = get_detector("tlpo", args.target_language, ignore_english=args.ignore_english,
                                    capital_rule=args.capital_rule)
        self.detector = detector
        self._metrics: dict[str, list[float]] = defaultdict(list)
        super().__init__(model=model, args=args, train_dataset=train_dataset, processing_class=tok,
                         data_collator=lambda rows: rows, callbacks=callbacks)
        if args.stop_after_steps is not None:
            self.add_callback(_StopAfter(args.stop_after_steps))
        if self.ref_model is not None:
            self.ref_model.to(self.accelerator.device)
        eos = tok.eos_token_id
        gen_eos = getattr(self.accelerator.unwrap_model(model).generation_config, "eos_token_id", None)
        ids = {eos} | (set(gen_eos) if isinstance(gen_eos, list) else {gen_eos})
        self.eos_ids = sorted(i for i in ids if i is not None)
        self.vllm_rollouts = None
        if args.use_vllm:  # rollouts on a colocated vLLM engine (train.vllm_rollouts)
            from .vllm_rollouts import VLLMRollouts

            self.vllm_rollouts = VLLMRollouts(self.accelerator.unwrap_model(self.model), args, tok, detector,
                                              self.eos_ids)

    # ----------------------------------------------------------------------------------------- step

    def training_step(self, model, inputs, num_items_in_batch=None):
        """Rollouts → CPs → branches → one loss over all CPs of this data batch; returns the detached loss."""
        policy = self.accelerator.unwrap_model(model)
        prompts = [row["prompt"] for row in inputs]
        was_training = policy.training
        policy.eval()
        t0 = time.perf_counter()
        prompt_ids, responses = self._generate_rollouts(policy, prompts)
        t1 = time.perf_counter()
        items = self._find_confusion_points(prompt_ids, responses, prompts)
        branches = self._branch_and_score(policy, items)
        t2 = time.perf_counter()
        policy.train(was_training)
        model.train()
        loss = self._update(model, branches)
        t3 = time.perf_counter()
        m = self._metrics
        m["step_time/generation"].append(t1 - t0)
        m["step_time/branching"].append(t2 - t1)
        m["step_time/update"].append(t3 - t2)
        return loss

    # ------------------------------------------------------------------------------------ 1. rollouts

    def _chat_ids(self, prompt: str) -> list[int]:
        text = self.processing_class.apply_chat_template(
            [{"role": "user", "content": prompt}], add_generation_prompt=True, tokenize=False
        )
        return self.processing_class(text, add_special_tokens=False)["input_ids"]

    @torch.no_grad()
    def _generate_rollouts(self, policy, prompts: list[str]):
        """`num_generations` sampled completions per prompt. Returns (prompt ids per rollout, response ids)."""
        args = self.args
        per_prompt = [self._chat_ids(p) for p in prompts]
        rows = [ids for ids in per_prompt for _ in range(args.num_generations)]
        if self.vllm_rollouts is not None:
            responses = self.vllm_rollouts.rollouts(policy, rows, prompts, self.state.global_step, self._metrics)
        else:
            responses = self._hf_rollouts(policy, rows)
        lengths = [len(r) for r in responses]
        self._metrics["completions/mean_length"].append(sum(lengths) / max(len(lengths), 1))
        return rows, responses

    def _hf_rollouts(self, policy, rows: list[list[int]]) -> list[list[int]]:
        """Sample a completion of each prompt-id row with `transformers.generate` (cut after the first EOS)."""
        args, tok = self.args, self.processing_class
        input_ids, mask, _ = br.left_pad(rows, tok.pad_token_id, self.accelerator.device)
        stop = None
        if args.stop_at_confusion:
            stop = StoppingCriteriaList(
                [_StopAtConfusion(tok, self.detector, input_ids.shape[1], args.confusion_check_every)]
            )
        gen_kwargs = {"do_sample": True, "temperature": args.temperature, "max_new_tokens": args.max_completion_length,
                      "pad_token_id": tok.pad_token_id, "stopping_criteria": stop}
        if args.top_p is not None:
            gen_kwargs["top_p"] = args.top_p
        if args.top_k is not None:
            gen_kwargs["top_k"] = args.top_k
        out = policy.generate(input_ids=input_ids, attention_mask=mask, **gen_kwargs)
        responses = []
        for row in out[:, input_ids.shape[1] :].tolist():
            cut = len(row)
            for j, t in enumerate(row):
                if t in self.eos_ids:
                    cut = j + 1
                    break
            responses.append(row[:cut])
        return responses

    # -------------------------------------------------------------------------- 2. confusion points

    def _find_confusion_points(self, prompt_ids, responses, prompts=None) -> list[ConfusedRollout]:
        """Detector on each decoded response; map the first confusion character to a token. `prompts` (one per
        data row; rollouts are grouped by prompt) lets the validity guard judge echoes."""
        tok, items, positions, confused = self.processing_class, [], [], 0
        per = self.args.num_generations
        for k, (p_ids, r_ids) in enumerate(zip(prompt_ids, responses)):
            text, offsets = ops.incremental_offsets(tok, r_ids)
            cp_char = self.detector.detect(text).first_confusion_char
            if cp_char < 0:
                continue
            confused += 1
            if self.args.context == "original_ids":
                t = ops.char_to_token(offsets, cp_char)
                if t < 0:
                    continue
                prefix = list(p_ids) + list(r_ids[:t])
            else:
                ret = ops.retokenized_confusion_point(tok, p_ids, r_ids, cp_char)
                if ret.cp_token <= 0:
                    continue
                t = ret.cp_token
                prefix = ret.context_ids[:t]
            positions.append(t)
            items.append(ConfusedRollout(prefix=prefix, cp_position=t, response_len=len(r_ids), before=text[:cp_char],
                                         prompt=prompts[k // per] if prompts is not None else None))
        n = max(len(responses), 1)
        self._metrics["confusion/rate"].append(confused / n)
        if positions:
            self._metrics["confusion/first_token_mean"].append(sum(positions) / len(positions))
        return items

    # ------------------------------------------------------------------------------- 3. exploration

    @torch.no_grad()
    def _branch_and_score(self, policy, items: list[ConfusedRollout]) -> ScoredBranches | None:
        """Top-k + greedy lookahead for all CPs in one batch; detector scores; advantage; reference log-probs."""
        if not items:
            return None
        args, tok = self.args, self.processing_class
        prefixes = [it.prefix for it in items]
        batch = br.explore_branches(policy, prefixes, num_branches=args.num_branches,
                                    branch_length=args.branch_length, pad_id=tok.pad_token_id,
                                    eos_ids=self.eos_ids, device=self.accelerator.device)
        snippets = br.branch_snippets(tok, batch)
        scores = torch.tensor([ops.score_branches(row, self._branch_predicate(it)) for row, it in zip(snippets, items)],
                              dtype=batch.cand_logp.dtype, device=batch.cand_logp.device)
        if args.validity_guard:
            self._metrics["branches/frac_invalid"].append(self._invalid_share(snippets, items))
        adv = ops.branch_advantage(batch.cand_logp.exp(), scores)
        keep = (adv != 0).any(-1)
        self._metrics["branches/frac_nonzero_advantage"].append(keep.float().mean().item())
        if args.skip_zero_advantage:
            if not keep.any():
                return None
            idx = keep.nonzero()[:, 0]
            prefixes = [prefixes[i] for i in idx.tolist()]
            batch = br.BranchBatch(batch.cand_ids[idx], batch.cand_logp[idx], batch.lookahead[idx],
                                   batch.lookahead_mask[idx])
            adv = adv[idx]
        ref_logp = self._reference_logprobs(policy, prefixes, batch.cand_ids)
        return ScoredBranches(prefixes=prefixes, cand_ids=batch.cand_ids, adv=adv, ref_logp=ref_logp,
                              old_logp=batch.cand_logp)

    def _is_confused(self, text: str) -> bool:
        return self.detector.detect(text).first_confusion_char >= 0

    def _branch_predicate(self, item: ConfusedRollout):
        """A branch's −1 condition: the detector's, or with `validity_guard` also an invalid answer in context."""
        if not self.args.validity_guard:
            return self._is_confused
        from ..quality.guard import guarded_predicate

        return guarded_predicate(self._is_confused, item.before, item.prompt)

    @staticmethod
    def _invalid_share(snippets, items) -> float:
        from ..quality.guard import invalid_branch

        flags = [invalid_branch(it.before, it.prompt)(s) for row, it in zip(snippets, items) for s in row]
        return sum(flags) / max(len(flags), 1)

    def _reference_logprobs(self, policy, prefixes, cand_ids):
        if self.use_peft:
            with policy.disable_adapter():
                return br.candidate_logprobs(policy, prefixes, cand_ids, pad_id=self.processing_class.pad_token_id)
        return br.candidate_logprobs(self.ref_model, prefixes, cand_ids, pad_id=self.processing_class.pad_token_id)

    # ------------------------------------------------------------------------------------ 4. update

    def _update(self, model, branches: ScoredBranches | None):
        """The loss over this step's CPs, mean over all rows of all processes; backward. With
        `num_iterations` R > 1, R − 1 extra optimiser steps run here on the same items (same LR).

        The ratio's "old" log-probs: with `ppo_ratio` the exploration-time ones (proper PPO: clipping acts
        once the policy has moved, i.e. from the second iteration); without it (the faithful default) the
        current ones detached, so the ratio is 1 on every iteration and nothing is clipped."""
        args = self.args
        n_local = 0 if branches is None else branches.cand_ids.shape[0]
        counts = self.accelerator.gather(torch.tensor([n_local], device=self.accelerator.device))
        total_rows = int(counts.sum().item()) * args.num_branches
        self._metrics["branches/num_trained"].append(float(counts.sum().item()))
        if total_rows == 0:
            return torch.tensor(0.0, device=self.accelerator.device)
        if branches is None:  # this process found no CP but others did: a zero-weight forward keeps DDP in step
            prefixes = [[self.processing_class.pad_token_id, 0]]
        else:
            prefixes, cand_ids = branches.prefixes, branches.cand_ids
        scale = self.accelerator.num_processes  # DDP averages gradients over processes
        for it in range(args.num_iterations):
            if branches is None:
                ids = torch.zeros((1, args.num_branches), dtype=torch.long, device=self.accelerator.device)
                lp = br.candidate_logprobs(model, prefixes, ids, pad_id=self.processing_class.pad_token_id)
                loss = lp.sum() * 0.0
                parts = None
            else:
                lp = br.candidate_logprobs(model, prefixes, cand_ids, pad_id=self.processing_class.pad_token_id)
                old = branches.old_logp.to(lp.dtype) if args.ppo_ratio else None
                parts = ops.clipped_token_loss(lp, branches.ref_logp.to(lp.dtype), branches.adv.to(lp.dtype),
                                               beta=args.beta, epsilon_low=args.epsilon,
                                               epsilon_high=args.epsilon_high, old_logp=old,
                                               num_rows=total_rows)
                loss = parts.loss * scale
            self.accelerator.backward(loss)
            if parts is not None:
                self._metrics["kl"].append(parts.kl_mean.item())
                self._metrics["clip_ratio/low_mean"].append(parts.clip_low.item())
                self._metrics["clip_ratio/high_mean"].append(parts.clip_high.item())
            if it < args.num_iterations - 1:
                if args.max_grad_norm:
                    self.accelerator.clip_grad_norm_(model.parameters(), args.max_grad_norm)
                self.optimizer.step()
                self.optimizer.zero_grad()
        return loss.detach() / scale

    # ------------------------------------------------------------------------------------- logging

    def log(self, logs: dict, start_time: float | None = None) -> None:
        for key, values in self._metrics.items():
            if values:
                logs[key] = sum(values) / len(values)
        self._metrics.clear()
        super().log(logs, start_time)
