"""TLPO rollouts on a colocated vLLM engine (`use_vllm`, `langlock.train.vllm_rollouts`) on SmolLM2-135M-Instruct
(float32, LoRA): after an optimiser step and a weight push the engine decodes greedily exactly what the
trainer's model decodes (and, without the push, what the model decoded before the step); a TLPO run through
the run API with `use_vllm: true` samples its rollouts on the engine and logs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from _vllm_support import EAGER, REPO

pytestmark = pytest.mark.vllm

PROMPTS = ["한국의 수도는 어디인가요?", "좋아하는 음식을 소개해 주세요.", "오늘 날씨에 대해 이야기해 주세요.",
           "여름 방학 계획을 알려 주세요."]
GREEDY_TOKENS = 24


def _hf_greedy(model, rows, eos_ids, *, adapter: bool = True) -> list[list[int]]:
    """The trainer's model decoding each prompt alone (no padding), cut after the first EOS."""
    import contextlib

    out = []
    ctx = contextlib.nullcontext() if adapter else model.disable_adapter()
    with torch.no_grad(), ctx:
        for r in rows:
            ids = model.generate(input_ids=torch.tensor([r]), attention_mask=torch.ones(1, len(r), dtype=torch.long),
                                 do_sample=False, max_new_tokens=GREEDY_TOKENS)[0, len(r):].tolist()
            cut = next((j + 1 for j, t in enumerate(ids) if t in eos_ids), len(ids))
            out.append(ids[:cut])
    return out


@pytest.fixture(scope="module")
def stepped(model_dir, tmp_path_factory):
    """A TLPO trainer (LoRA r=16 on all linear layers, as the SmolLM2 recipe) with use_vllm after one
    optimiser step: the engine still holds the weights it sampled that step's rollouts with."""
    from langlock.models import load_model_and_tokenizer
    from langlock.train import PeftSettings
    from langlock.train.tlpo_config import TLPOConfig
    from langlock.train.tlpo_trainer import TLPOTrainer

    model, tok, _ = load_model_and_tokenizer(model_dir)
    args = TLPOConfig(output_dir=str(tmp_path_factory.mktemp("tlpo_vllm")), use_cpu=True, max_steps=1,
                      per_device_train_batch_size=4, num_generations=2, max_completion_length=24,
                      num_branches=4, branch_length=2, learning_rate=5e-3, warmup_steps=0, save_strategy="no",
                      seed=3, disable_tqdm=True, target_language="ko", ignore_english=False, use_vllm=True,
                      vllm_enforce_eager=EAGER)
    model.train()
    trainer = TLPOTrainer(model=model, args=args, train_dataset=[{"prompt": p} for p in PROMPTS],
                          processing_class=tok, peft_config=PeftSettings().lora_config())

    def no_hf_rollouts(*a, **k):
        raise AssertionError("use_vllm sampled the rollouts with transformers")

    trainer._hf_rollouts = no_hf_rollouts
    trainer.train()
    log = trainer.state.log_history[0]
    assert log["branches/num_trained"] > 0, log  # the step did update the policy
    return trainer


def test_weight_push_makes_engine_greedy_equal_the_trainers_model(stepped, capsys):
    tr = stepped
    engine = tr.vllm_rollouts
    policy = tr.accelerator.unwrap_model(tr.model).eval()
    rows = [tr._chat_ids(p) for p in PROMPTS]
    seeds = list(range(len(rows)))
    hf_now = _hf_greedy(policy, rows, tr.eos_ids)
    hf_before_step = _hf_greedy(policy, rows, tr.eos_ids, adapter=False)  # LoRA B = 0 at step 0: the base
    stale = engine.generate(rows, seeds, max_tokens=GREEDY_TOKENS, greedy=True)
    # without a push the engine still decodes the pre-step policy, which the step has moved away from
    assert stale == hf_before_step
    assert stale != hf_now
    engine.sync_weights(policy)
    pushed = engine.generate(rows, seeds, max_tokens=GREEDY_TOKENS, greedy=True)
    same = sum(a == b for a, b in zip(pushed, hf_now))
    with capsys.disabled():
        print(f"\nRESULT tlpo_vllm_push_greedy_equal={same}/{len(rows)} "
              f"(before the push: {sum(a == b for a, b in zip(stale, hf_now))}/{len(rows)})")
    assert pushed == hf_now
    tr.model.train()


def test_tlpo_run_with_use_vllm_samples_on_the_engine_and_logs_the_rollouts(model_dir, tmp_path):
    """`langlock.train.run` on the SmolLM2 recipe with `use_vllm: true` (short rollouts, two steps)."""
    from langlock.train import RunConfig, is_finished, run

    out = tmp_path / "run"
    cfg = RunConfig.from_yaml(REPO / "configs/tlpo/smollm2-135m-instruct_ko.yaml", [
        f"model={model_dir}", f"output_dir={out}", "max_steps=2", "save_steps=100", "per_device_train_batch_size=2",
        "num_generations=2", "max_completion_length=24", "num_branches=4", "limit=4", "use_vllm=true",
        f"vllm_enforce_eager={str(EAGER).lower()}"])
    result = run(cfg)
    assert result.global_step == 2 and is_finished(out)
    rows = [json.loads(line) for line in (out / "log_history.jsonl").read_text().splitlines()]
    steps = [r for r in rows if "step_time/generation" in r]
    assert len(steps) == 2
    for r in steps:  # every step pushed the weights before sampling, then logged its rollouts
        assert r["step_time/weight_sync"] > 0 and r["step_time/generation"] >= r["step_time/weight_sync"]
        assert 0 < r["completions/mean_length"] <= 24 and 0 <= r["confusion/rate"] <= 1
        assert "branches/num_trained" in r
    resolved = Path(out / "config.resolved.yaml").read_text()
    assert "use_vllm: true" in resolved
