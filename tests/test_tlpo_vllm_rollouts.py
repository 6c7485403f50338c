"""`TLPOConfig.use_vllm` without vLLM (the main environment): one clear error, exit 2; and the parts of
`train.vllm_rollouts` that need no engine: the replayed stopping rule equals the trainer's
`_StopAtConfusion`, the pushed weights equal PEFT's own merge, the sampling settings equal `generate`'s.
The engine itself is tested in tests/vllm_engine/test_vllm_rollouts.py (`make test-vllm`)."""

from __future__ import annotations

import pytest
import torch
import yaml

from langlock.cli.main import main
from langlock.train.vllm_rollouts import merged_weights, sampling_options, stop_length, vllm_installed

from _tlpo_fixtures import smollm2_tokenizer, tiny_llama

needs_no_vllm = pytest.mark.skipif(vllm_installed(), reason="this environment has vLLM")


@needs_no_vllm
def test_use_vllm_without_vllm_exits_2_with_one_line(tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({
        "model": "smollm2-135m-instruct", "output_dir": str(tmp_path / "out"), "target_language": "ko",
        "use_cpu": True, "max_steps": 1, "use_vllm": True}))
    assert main(["train", "tlpo", "--config", str(cfg)]) == 2
    err = capsys.readouterr().err.strip()
    assert "use_vllm needs vLLM in this environment" in err and "make install-vllm" in err
    assert len(err.splitlines()) == 1
    assert not (tmp_path / "out").exists()


@needs_no_vllm
def test_use_vllm_config_without_vllm_raises_usage_error(tmp_path):
    from langlock.errors import UsageError
    from langlock.train.tlpo_config import TLPOConfig

    with pytest.raises(UsageError, match="use_vllm needs vLLM"):
        TLPOConfig(output_dir=str(tmp_path), use_cpu=True, target_language="ko", use_vllm=True)
    assert TLPOConfig(output_dir=str(tmp_path), use_cpu=True, target_language="ko").use_vllm is False


RESPONSES = [
    "안녕하세요! 저는 학생입니다. I like to study 수학 and 과학 every day.",
    "The capital of Korea is Seoul. 서울은 아름다운 도시입니다.",
    "한국의 수도는 서울입니다. 서울에는 많은 사람들이 살고 있습니다.",
    "오늘은 날씨가 좋아요. 今天天气很好。 내일도 좋을 거예요.",
    "Hello",
]


@pytest.mark.parametrize("every", [1, 3, 4, 16])
def test_stop_length_replays_the_trainers_stopping_criteria(every):
    """Feeding each response to `_StopAtConfusion` token by token, as `generate` does, stops it exactly at
    `stop_length` (or never, when `stop_length` keeps it whole)."""
    from langlock.detect import get_detector
    from langlock.train.tlpo_trainer import _StopAtConfusion

    tok = smollm2_tokenizer()
    det = get_detector("tlpo", "ko", ignore_english=False)
    prompt = [1, 2, 3]
    cut_somewhere = 0
    for text in RESPONSES:
        ids = tok(text, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
        crit = _StopAtConfusion(tok, det, len(prompt), every)
        stopped = len(ids)
        for n in range(1, len(ids) + 1):
            if crit(torch.tensor([prompt + ids[:n]]), None)[0]:
                stopped = n
                break
        assert stop_length(tok, det, ids, every) == stopped, (text, every)
        cut_somewhere += stopped < len(ids)
    assert cut_somewhere >= 2  # the rule does cut confused responses (the test is not vacuous)


def _lora_model(seed=0):
    from peft import get_peft_model

    from langlock.train import PeftSettings

    torch.manual_seed(seed)
    model = get_peft_model(tiny_llama(300, seed=seed), PeftSettings(r=4, alpha=8).lora_config())
    for name, p in model.named_parameters():  # a trained-looking adapter (B starts at zero)
        if "lora_B" in name:
            p.data.normal_(0, 0.05)
    return model


def test_merged_weights_equal_peft_merge_and_leave_the_model_untouched():
    import copy

    model = _lora_model()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    pushed = dict(merged_weights(model))
    assert {k: v for k, v in model.state_dict().items()}.keys() == before.keys()
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k  # nothing merged into the trainer's weights
    merged = copy.deepcopy(model).merge_and_unload().state_dict()
    assert set(pushed) == set(merged)  # Hugging Face names, no adapter parameters
    base = {k.removeprefix("base_model.model.").replace(".base_layer", ""): v for k, v in before.items()
            if "lora_" not in k}
    for name, tensor in pushed.items():
        torch.testing.assert_close(tensor, merged[name], rtol=0, atol=1e-6)
    changed = {n for n, t in pushed.items() if not torch.equal(t, base[n])}
    assert changed and all(n.endswith(("q_proj.weight", "v_proj.weight", "k_proj.weight", "o_proj.weight",
                                       "gate_proj.weight", "up_proj.weight", "down_proj.weight")) for n in changed)
    plain = tiny_llama(300, seed=1)
    assert {k: v.data_ptr() for k, v in merged_weights(plain)} == {k: v.data_ptr() for k, v in plain.named_parameters()}


def test_sampling_options_are_generates_own_resolution(tmp_path):
    from langlock.errors import UsageError
    from langlock.train.tlpo_config import TLPOConfig

    def cfg(**kw):
        return TLPOConfig(output_dir=str(tmp_path), use_cpu=True, target_language="ko", **kw)

    model = tiny_llama(300, seed=0)
    # transformers' defaults for unset values (top_k=50, top_p=1.0), exactly what `generate` samples with
    assert sampling_options(model, cfg(temperature=0.6)) == {
        "temperature": 0.6, "top_p": 1.0, "top_k": 50, "min_p": 0.0, "repetition_penalty": 1.0}
    assert sampling_options(model, cfg(temperature=0.9, top_p=0.8, top_k=7))["top_k"] == 7
    model.generation_config.top_p = 0.7  # the model's generation_config comes before the defaults
    model.generation_config.repetition_penalty = 1.2
    opts = sampling_options(_peft(model), cfg())
    assert (opts["top_p"], opts["repetition_penalty"]) == (0.7, 1.2)
    model.generation_config.typical_p = 0.9
    with pytest.raises(UsageError, match="typical_p"):
        sampling_options(model, cfg())


def _peft(model):
    from peft import get_peft_model

    from langlock.train import PeftSettings

    return get_peft_model(model, PeftSettings(r=2, alpha=4).lora_config())
