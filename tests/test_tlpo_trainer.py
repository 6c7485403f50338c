"""TLPOTrainer end to end on a tiny Llama with SmolLM2's tokenizer (CPU): LoRA and full fine-tuning steps,
logged metrics, the reference left untouched, and kill-and-resume reproducing an uninterrupted run."""

from __future__ import annotations

import pytest
import torch

from _tlpo_fixtures import smollm2_tokenizer, tiny_llama

PROMPTS = ["한국의 수도는 어디인가요?", "좋아하는 음식을 소개해 주세요.", "오늘 날씨에 대해 이야기해 주세요.",
           "여름 방학 계획을 알려 주세요."]


class LetterDetector:
    """A toy detector: the first letter 'e' is "confusion". A random tiny model writes English sub-words
    (which the real `tlpo` detector ignores with ignore_english), so this makes CPs and mixed branch scores
    frequent while exercising exactly the same trainer code paths."""

    class _Det:
        def __init__(self, cp):
            self.first_confusion_char = cp

    def detect(self, text):
        return self._Det(text.find("e"))


def _config(tmp_path, **kw):
    from langlock.train.tlpo_config import TLPOConfig

    base = dict(output_dir=str(tmp_path), use_cpu=True, max_steps=2, per_device_train_batch_size=2,
                num_generations=2, max_completion_length=12, confusion_check_every=4, num_branches=4,
                branch_length=2, learning_rate=1e-2, warmup_steps=0, save_strategy="no", seed=3,
                dataloader_num_workers=0, disable_tqdm=True, target_language="ko")
    base.update(kw)
    return TLPOConfig(**base)


def _trainer(tmp_path, *, peft=True, model=None, **kw):
    from peft import LoraConfig

    from langlock.train.tlpo_trainer import TLPOTrainer

    tok = smollm2_tokenizer()
    model = model or tiny_llama(len(tok), seed=0)
    peft_config = LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, target_modules=["q_proj", "v_proj"],
                             task_type="CAUSAL_LM") if peft else None
    return TLPOTrainer(model=model, args=_config(tmp_path, **kw), train_dataset=[{"prompt": p} for p in PROMPTS],
                       processing_class=tok, peft_config=peft_config, detector=LetterDetector())


def _lora_state(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items() if "lora_" in k}


def test_lora_steps_change_adapter_only_and_log_metrics(tmp_path):
    tr = _trainer(tmp_path)
    base_before = {k: v.clone() for k, v in tr.model.state_dict().items() if "lora_" not in k}
    lora_before = _lora_state(tr.model)
    tr.train()
    lora_after = _lora_state(tr.model)
    assert any(not torch.equal(lora_before[k], lora_after[k]) for k in lora_before)
    for k, v in tr.model.state_dict().items():
        if "lora_" not in k:
            assert torch.equal(base_before[k], v), k  # the reference (adapter-disabled base) is untouched
    logs = [h for h in tr.state.log_history if "confusion/rate" in h]
    assert len(logs) == 2
    for key in ("confusion/rate", "branches/num_trained", "step_time/generation", "step_time/branching",
                "step_time/update", "completions/mean_length"):
        assert key in logs[0]
    assert any(h.get("branches/num_trained", 0) > 0 for h in logs)
    trained = [h for h in logs if "kl" in h]
    assert trained and all(h["kl"] >= 0 for h in trained)
    assert trained[0]["clip_ratio/low_mean"] == 0 and trained[0]["clip_ratio/high_mean"] == 0  # ratio ≡ 1


def test_full_finetune_keeps_a_frozen_reference(tmp_path):
    tr = _trainer(tmp_path, peft=False, max_steps=1, context="retokenized", num_iterations=2)
    ref_before = {k: v.clone() for k, v in tr.ref_model.state_dict().items()}
    pol_before = {k: v.clone() for k, v in tr.model.state_dict().items()}
    tr.train()
    assert all(torch.equal(ref_before[k], v) for k, v in tr.ref_model.state_dict().items())
    assert tr.state.log_history[0]["branches/num_trained"] > 0  # seed 3 finds CPs, so the policy must move
    assert any(not torch.equal(pol_before[k], v) for k, v in tr.model.state_dict().items())


def test_kill_and_resume_gives_the_same_adapter(tmp_path):
    from transformers import TrainerCallback

    class Kill(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step == 2:
                control.should_training_stop = True

    kw = dict(max_steps=4, save_strategy="steps", save_steps=2)
    full = _trainer(tmp_path / "full", **kw)
    full.train()
    expected = _lora_state(full.model)

    first = _trainer(tmp_path / "resumed", **kw)
    first.add_callback(Kill())
    first.train()
    assert first.state.global_step == 2
    assert (tmp_path / "resumed" / "checkpoint-2").is_dir()
    second = _trainer(tmp_path / "resumed", **kw)
    second.train(resume_from_checkpoint=str(tmp_path / "resumed" / "checkpoint-2"))
    assert second.state.global_step == 4
    got = _lora_state(second.model)
    assert set(got) == set(expected)
    assert any(not torch.equal(got[k], _lora_state(first.model)[k]) for k in got)
    for k in got:
        assert torch.equal(got[k], expected[k]), k


def test_stop_after_steps_equals_that_step_of_the_full_schedule(tmp_path):
    from transformers import TrainerCallback

    class Snapshot(TrainerCallback):
        def on_step_end(self, args, state, control, model=None, lr_scheduler=None, **kwargs):
            if state.global_step == 2:
                self.lora, self.lr = _lora_state(model), lr_scheduler.get_last_lr()[0]

    kw = dict(max_steps=4, save_strategy="steps", save_steps=2)
    full = _trainer(tmp_path / "full", **kw)
    snap = Snapshot()
    full.add_callback(snap)
    full.train()
    stopped = _trainer(tmp_path / "stopped", stop_after_steps=2, **kw)
    stopped.train()
    assert stopped.state.global_step == 2 and (tmp_path / "stopped" / "checkpoint-2").is_dir()
    got = _lora_state(stopped.model)
    assert all(torch.equal(got[k], snap.lora[k]) for k in got)
    assert not all(torch.equal(got[k], _lora_state(full.model)[k]) for k in got)  # steps 3-4 changed it
    # the schedule spans max_steps=4 (a 2-step run would have decayed to min_lr by now)
    assert stopped.lr_scheduler.get_last_lr()[0] == snap.lr and snap.lr > stopped.args.lr_scheduler_kwargs["min_lr"]


def test_bad_config_values_raise_usage_errors(tmp_path):
    from langlock.errors import UsageError

    with pytest.raises(UsageError, match="num_branches"):
        _config(tmp_path, num_branches=1)
    with pytest.raises(UsageError, match="target_language"):
        _config(tmp_path, target_language="xx")
    with pytest.raises(UsageError, match="context"):
        _config(tmp_path, context="weird")
    with pytest.raises(UsageError, match="stop_after_steps"):
        _config(tmp_path, stop_after_steps=0)


def test_validity_guard_is_wired_into_branch_scoring(tmp_path):
    """`validity_guard=True`: a branch after a looping response scores −1 although the detector passes it;
    off (the default), the detector alone decides. A guarded step runs and logs the share of invalid branches."""
    from langlock.train.tlpo_trainer import ConfusedRollout

    item = ConfusedRollout(prefix=[1], cp_position=1, response_len=2, before="동안" * 20, prompt=PROMPTS[0])
    guarded = _trainer(tmp_path / "g", validity_guard=True, max_steps=1)
    plain = _trainer(tmp_path / "p", max_steps=1)
    assert guarded._branch_predicate(item)("좋아요") is True and plain._branch_predicate(item)("좋아요") is False
    assert guarded._branch_predicate(item)("e") is True and plain._branch_predicate(item)("e") is True
    guarded.train()
    logged = [h for h in guarded.state.log_history if "branches/frac_invalid" in h]
    assert logged and 0.0 <= logged[0]["branches/frac_invalid"] <= 1.0
