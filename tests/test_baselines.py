"""Every baseline trainer runs end to end on a tiny model: loss finite, parameters change, output loadable."""

from __future__ import annotations

import json
import math

import pytest

torch = pytest.importorskip("torch")

from langlock.baselines.trl_baselines import BaselineConfig, is_finished, train_baseline  # noqa: E402
from langlock.errors import InputError, UsageError  # noqa: E402

from _baseline_fixtures import preference_rows, tiny_model  # noqa: E402

CASES = [  # (method, variant, lora): LoRA and full fine-tuning both covered
    ("sft", None, False),
    ("dpo", None, True),
    ("orpo", None, False),
    ("grpo", None, True),
    ("tbpo", "q", False),
    ("tbpo", "a", True),
]


def _data(tmp_path, method) -> str:
    rows = preference_rows()
    if method == "sft":
        rows = [{"prompt": r["prompt"], "completion": r["chosen"]} for r in rows]
    elif method == "grpo":
        rows = [{"prompt": r["prompt"], "language": "ko"} for r in rows]
    path = tmp_path / f"{method}.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def _weights(path):
    from safetensors.torch import load_file

    return load_file(str(path / "model.safetensors"))


@pytest.mark.parametrize("method,variant,lora", CASES, ids=[f"{m}{'-' + v if v else ''}" for m, v, _ in CASES])
def test_trainer_end_to_end(tmp_path, method, variant, lora):
    from transformers import AutoModelForCausalLM

    model_dir = tiny_model(tmp_path)
    before = _weights(model_dir)
    extra = dict(tbpo_variant=variant, baseline_mlp_dim=8) if variant else {}
    if method == "grpo":
        # English counts as confusion, so the random tiny model's byte soup gets graded (not all-skip) rewards
        extra.update(num_generations=2, max_completion_length=12, ignore_english=False, temperature=1.5)
    cfg = BaselineConfig(method=method, model=str(model_dir), data=_data(tmp_path, method),
                         output_dir=str(tmp_path / "run"), max_steps=2, per_device_train_batch_size=2,
                         learning_rate=1e-2, lora=lora, lora_r=4, lora_alpha=8, max_length=64,
                         **{k: v for k, v in extra.items() if k != "per_device_train_batch_size"})
    log = train_baseline(cfg)
    assert log["global_step"] == 2
    assert log["losses"] and all(math.isfinite(x) for x in log["losses"])
    assert is_finished(cfg.output_dir)
    out = tmp_path / "run" / "model"
    after = _weights(out)
    assert set(after) >= {k for k in before if "lm_head" not in k}
    changed = [k for k in before if k in after and not torch.equal(before[k], after[k])]
    assert changed, "no parameter changed"
    model = AutoModelForCausalLM.from_pretrained(out)
    ids = torch.tensor([[1, 50, 60]])
    assert torch.isfinite(model(ids).logits).all()
    if method == "grpo":
        rewards = [h for h in log["log_history"] if "rewards/language_consistency/mean" in h]
        assert rewards, "the language reward was not used"


def test_bad_configs(tmp_path):
    with pytest.raises(UsageError, match="unknown method"):
        BaselineConfig(method="ppo", model="m", data="d", output_dir="o")
    with pytest.raises(UsageError, match="unknown key"):
        BaselineConfig.from_mapping({"method": "dpo", "model": "m", "data": "d", "output_dir": "o", "lr": 1})
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"prompt": "p", "chosen": "c"}) + "\n", encoding="utf-8")
    from langlock.baselines.trl_baselines import load_rows

    with pytest.raises(InputError, match="missing rejected"):
        load_rows(BaselineConfig(method="dpo", model="m", data=str(bad), output_dir="o"))


def test_language_reward_shaping():
    from langlock.rewards import language_consistency_reward

    fn = language_consistency_reward("ko", ignore_english=False)
    clean, late, early = "안녕하세요 반갑습니다", "안녕하세요 반갑습니다 hello", "hello 안녕하세요"
    r = fn([clean, late, early, "", [{"role": "assistant", "content": clean}]], language=["ko"] * 5)
    assert r[0] == 1.0 and r[4] == 1.0 and r[3] == 0.0
    assert 0 <= r[2] < r[1] < 0.5
    assert fn.__name__ == "language_consistency"


def test_cli_train_tbpo_variant_and_bad_configs(tmp_path, capsys):
    import yaml

    from langlock.cli.main import main

    model_dir = tiny_model(tmp_path)
    cfg = {"model": str(model_dir), "data": _data(tmp_path, "tbpo"), "output_dir": str(tmp_path / "run"),
           "max_steps": 1, "per_device_train_batch_size": 2, "max_length": 64, "lora_r": 4}
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    assert main(["train", "tbpo", "--variant", "a", "--config", str(path), "learning_rate=0.01"]) == 0
    log = json.loads((tmp_path / "run" / "train_log.json").read_text(encoding="utf-8"))
    assert log["config"]["tbpo_variant"] == "a" and log["config"]["learning_rate"] == 0.01
    for extra, msg in (({"method": "sft"}, "is a sft config"), ({"epochs": 2}, "unknown key"),
                       ({"data": str(tmp_path / "none.jsonl")}, "no such file")):
        path.write_text(yaml.safe_dump({**cfg, **extra}), encoding="utf-8")
        capsys.readouterr()
        assert main(["train", "dpo", "--config", str(path)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and msg in err[0], err
