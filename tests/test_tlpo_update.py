"""The trainer's update wired end to end: gradients and losses of real `TLPOTrainer` steps equal a hand
computation of the TLPO loss in float64 (issue 12, bugs 1 and 3).

A tiny float64 Llama with SmolLM2's tokenizer trains one data batch. Spies record what the trainer explored
(prefixes, candidates, lookahead) and, at each of its loss computations, recompute by hand and independently
of `tlpo_branch` / `tlpo_ops`: each prefix's own full forward (no padding, no `logits_to_keep`), the
candidates' log-probs, the reference's (adapter disabled, or the separate reference model), the branch scores
from the detector, the advantage, the ratio, the clipped surrogate, the k3 penalty and the normalisation;
then the gradient by autograd. The gradient the trainer's own backward leaves on the parameters must equal it.
The reference differs from the policy (LoRA initialised non-zero; a different reference model for full
fine-tuning), so the KL term is not zero and a swapped argument or a flipped sign changes the result.
"""

from __future__ import annotations

import pytest
import torch

from langlock.train import tlpo_branch as br
from langlock.train import tlpo_ops as ops

from _tlpo_fixtures import smollm2_tokenizer, tiny_llama

PROMPTS = ["한국의 수도는 어디인가요?", "좋아하는 음식을 소개해 주세요.", "오늘 날씨에 대해 이야기해 주세요.",
           "여름 방학 계획을 알려 주세요."]
BETA = 0.1


class LetterDetector:
    """The first letter 'e' is "confusion" (frequent in a random model's output, so CPs and mixed scores)."""

    class _Det:
        def __init__(self, cp):
            self.first_confusion_char = cp

    def detect(self, text):
        return self._Det(text.find("e"))


def _trainer(tmp_path, *, peft: bool, **kw):
    from peft import LoraConfig

    from langlock.train.tlpo_config import TLPOConfig
    from langlock.train.tlpo_trainer import TLPOTrainer

    tok = smollm2_tokenizer()
    model = tiny_llama(len(tok), seed=0, dtype=torch.float64)
    ref_model = None if peft else tiny_llama(len(tok), seed=1, dtype=torch.float64)
    # init_lora_weights=False: B is random too, so the adapted policy differs from the reference at step 0
    peft_config = LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, target_modules=["q_proj", "v_proj"],
                             task_type="CAUSAL_LM", init_lora_weights=False) if peft else None
    cfg = dict(output_dir=str(tmp_path), use_cpu=True, max_steps=1, per_device_train_batch_size=2,
               num_generations=2, max_completion_length=12, confusion_check_every=4, num_branches=4,
               branch_length=2, learning_rate=1e-2, warmup_steps=0, save_strategy="no", seed=3,
               dataloader_num_workers=0, disable_tqdm=True, target_language="ko", beta=BETA)
    cfg.update(kw)
    return TLPOTrainer(model=model, args=TLPOConfig(**cfg), train_dataset=[{"prompt": p} for p in PROMPTS],
                       processing_class=tok, peft_config=peft_config, detector=LetterDetector(),
                       ref_model=ref_model)


def _last_logprobs(model, prefixes, cand_ids):
    """Each prefix alone through the full model; log-softmax of the last position; the candidates' entries."""
    rows = []
    for c, p in enumerate(prefixes):
        logits = model(input_ids=torch.tensor([p])).logits[0, -1]
        rows.append(torch.log_softmax(logits, -1)[cand_ids[c]])
    return torch.stack(rows)


def _hand_advantage(tok, det, batch, probs):
    """Scores +1/−1 of each decoded branch (candidate + real lookahead), then spec §1.7 written out."""
    n_cp, k = batch.cand_ids.shape
    adv = torch.zeros((n_cp, k), dtype=torch.float64)
    for c in range(n_cp):
        s = []
        for i in range(k):
            toks = [int(batch.cand_ids[c, i])] + [int(t) for t, m in
                                                  zip(batch.lookahead[c, i], batch.lookahead_mask[c, i]) if m]
            text = tok.decode(toks, skip_special_tokens=True)
            s.append(-1.0 if det.detect(text).first_confusion_char >= 0 else 1.0)
        s = torch.tensor(s, dtype=torch.float64)
        p = probs[c]
        mu = (p * s).sum() / p.sum()
        w = p * (s - mu)
        z = w.abs().sum()
        adv[c] = w / z if z > 0 else torch.zeros_like(w)
    return adv


class Spy:
    """Records the trainer's exploration and, at each loss computation, the hand loss and gradient."""

    def __init__(self, trainer, monkeypatch, *, ppo_ratio: bool):
        self.tr, self.ppo = trainer, ppo_ratio
        self.explored = []  # (prefixes, batch, old_logp, ref_logp, adv) per exploration
        self.calls = []  # per loss computation: dict(hand_loss, hand_grads, hand_lp, hand_clip, loss, parts)
        self.grads = []  # the trainer's gradients right after each of its backward passes
        self._explore, self._loss = br.explore_branches, ops.clipped_token_loss
        monkeypatch.setattr(br, "explore_branches", self.explore_branches)
        monkeypatch.setattr(ops, "clipped_token_loss", self.clipped_token_loss)
        backward = trainer.accelerator.backward

        def spy_backward(loss, **kw):
            backward(loss, **kw)
            self.grads.append({n: p.grad.detach().clone() for n, p in self._trainable()})

        monkeypatch.setattr(trainer.accelerator, "backward", spy_backward)

    def _trainable(self):
        return [(n, p) for n, p in self.tr.model.named_parameters() if p.requires_grad]

    def explore_branches(self, model, prefixes, **kw):
        batch = self._explore(model, prefixes, **kw)
        with torch.no_grad():
            old = _last_logprobs(model, prefixes, batch.cand_ids)
            if self.tr.use_peft:
                with model.disable_adapter():
                    ref = _last_logprobs(model, prefixes, batch.cand_ids)
            else:
                ref = _last_logprobs(self.tr.ref_model, prefixes, batch.cand_ids)
        adv = _hand_advantage(self.tr.processing_class, self.tr.detector, batch, old.exp())
        self.explored.append((prefixes, batch, old, ref, adv))
        return batch

    def clipped_token_loss(self, *args, **kw):
        prefixes, batch, old, ref, adv = self.explored[-1]
        a = self.tr.args
        lo, hi = a.epsilon, a.epsilon if a.epsilon_high is None else a.epsilon_high
        names, params = zip(*self._trainable())
        lp = _last_logprobs(self.tr.model, prefixes, batch.cand_ids)
        ratio = torch.exp(lp - (old if self.ppo else lp.detach()))
        surrogate = torch.minimum(ratio * adv, torch.clamp(ratio, 1 - lo, 1 + hi) * adv)
        d = ref - lp
        k3 = torch.exp(d) - d - 1
        hand = -(surrogate - BETA * k3).sum() / (len(prefixes) * a.num_branches)
        grads = torch.autograd.grad(hand, params)
        r = ratio.detach()
        clipped = ((r < 1 - lo) & (adv < 0)) | ((r > 1 + hi) & (adv > 0))
        parts = self._loss(*args, **kw)
        self.calls.append(dict(hand_loss=hand.item(), hand_grads=dict(zip(names, grads)), hand_lp=lp.detach(),
                               hand_clip=clipped.double().mean().item(), loss=parts.loss.item(), parts=parts))
        return parts


def _assert_grads_equal(got: dict, want: dict, rel=1e-9):
    assert set(got) == set(want) and got
    scale = max(float(g.abs().max()) for g in want.values())
    assert scale > 0
    for n in want:
        assert float((got[n] - want[n]).abs().max()) <= rel * scale, n


@pytest.mark.parametrize("peft", [True, False], ids=["lora", "full"])
def test_one_update_step_gradient_equals_hand_computation(tmp_path, monkeypatch, peft):
    tr = _trainer(tmp_path, peft=peft)
    spy = Spy(tr, monkeypatch, ppo_ratio=False)
    tr.train()
    assert len(spy.explored) == 1 and len(spy.calls) == 1 and len(spy.grads) == 1
    prefixes, batch, old, ref, adv = spy.explored[0]
    assert len(prefixes) >= 2 and (adv != 0).any()  # CPs were found and some scores differ
    kl = torch.exp(ref - old) - (ref - old) - 1
    assert float(kl.max()) > 1e-3  # the reference really differs, so the KL term matters
    call = spy.calls[0]
    assert call["loss"] == pytest.approx(call["hand_loss"], rel=1e-10, abs=0)
    _assert_grads_equal(spy.grads[0], call["hand_grads"])
    assert tr.state.log_history[0]["kl"] == pytest.approx(float(kl.mean()), rel=1e-9)


def _two_iterations(tmp_path, monkeypatch, *, ppo_ratio: bool | None):
    """One data batch, `num_iterations=2`, a learning rate that moves the policy; every iteration's loss and
    gradient checked against the hand computation (`ppo_ratio=None`: the config's default, expected off).
    Returns (the second iteration's record, the step's log)."""
    kw = {} if ppo_ratio is None else {"ppo_ratio": ppo_ratio}
    tr = _trainer(tmp_path, peft=True, num_iterations=2, epsilon=0.01, epsilon_high=0.005, **kw)
    spy = Spy(tr, monkeypatch, ppo_ratio=bool(ppo_ratio))
    tr.train()
    assert len(spy.explored) == 1 and len(spy.calls) == 2 and len(spy.grads) == 2
    first, second = spy.calls
    # the first optimiser step moved the policy (lr 1e-2), so a ratio against exploration time is not 1
    assert float((second["hand_lp"] - first["hand_lp"]).abs().max()) > 0.02
    for call, grads in zip(spy.calls, spy.grads):
        assert call["loss"] == pytest.approx(call["hand_loss"], rel=1e-10, abs=0)
        _assert_grads_equal(grads, call["hand_grads"])
    assert first["hand_clip"] == 0  # before any step, the policy is the exploration policy
    log = tr.state.log_history[0]
    assert log["loss"] == pytest.approx(second["hand_loss"], rel=1e-6)  # the step's loss: the last iteration's
    return second, log


def test_ppo_ratio_clips_the_second_iteration(tmp_path, monkeypatch):
    second, log = _two_iterations(tmp_path, monkeypatch, ppo_ratio=True)
    assert second["hand_clip"] >= 0.2  # many rows outside [1 - 0.01, 1 + 0.005]
    parts = second["parts"]
    assert float(parts.clip_low + parts.clip_high) == pytest.approx(second["hand_clip"], abs=1e-12)
    logged = log["clip_ratio/low_mean"] + log["clip_ratio/high_mean"]
    assert logged == pytest.approx(second["hand_clip"] / 2, abs=1e-12)  # mean over the 2 iterations


def test_faithful_default_never_clips(tmp_path, monkeypatch):
    """The default is today's (and the reference code's) behaviour: old = current detached, ratio ≡ 1 on every
    iteration, so the second iteration's loss is the unclipped formula although the policy moved."""
    second, log = _two_iterations(tmp_path, monkeypatch, ppo_ratio=None)
    assert second["hand_clip"] == 0
    assert log["clip_ratio/low_mean"] == 0 and log["clip_ratio/high_mean"] == 0
