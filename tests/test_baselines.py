"""Every baseline runs end to end through `langlock.train.run` on a tiny model: loss finite, parameters change,
the one output layout (adapter or full model, resolved config, log, manifest) is written and loadable."""

from __future__ import annotations

import json
import math

import pytest

torch = pytest.importorskip("torch")

from langlock.errors import InputError, UsageError  # noqa: E402
from langlock.train import PeftSettings, RunConfig, is_finished, run  # noqa: E402

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
    import yaml

    from langlock.models import load_model_and_tokenizer

    model_dir = tiny_model(tmp_path)
    before = _weights(model_dir)
    extra = dict(tbpo_variant=variant, baseline_mlp_dim=8) if variant else {}
    if method == "grpo":
        # English counts as confusion, so the random tiny model's byte soup gets graded (not all-skip) rewards
        extra.update(num_generations=2, max_completion_length=12, ignore_english=False, temperature=1.5)
    cfg = RunConfig(method=method, model=str(model_dir), data=_data(tmp_path, method),
                    output_dir=str(tmp_path / "run"), max_steps=2, per_device_train_batch_size=2,
                    learning_rate=1e-2, peft=PeftSettings(enabled=lora, r=4, alpha=8),
                    method_args={"max_length": 64, **extra})
    result = run(cfg)
    assert result.global_step == 2 and not result.skipped and math.isfinite(result.train_loss)
    assert is_finished(cfg.output_dir)
    out = tmp_path / "run"
    log = [json.loads(x) for x in (out / "log_history.jsonl").read_text(encoding="utf-8").splitlines()]
    losses = [h["loss"] for h in log if "loss" in h]
    assert losses and all(math.isfinite(x) for x in losses)
    manifest = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert manifest["method"] == method and manifest["global_step"] == 2 and manifest["adapter"] is lora
    resolved = yaml.safe_load((out / "config.resolved.yaml").read_text(encoding="utf-8"))
    assert RunConfig.from_mapping(resolved).to_mapping() == resolved  # the resolved config reads back
    assert (out / "model" / ("adapter_config.json" if lora else "model.safetensors")).is_file()
    assert not (out / "model" / "training_args.bin").exists()  # nothing pickled
    model, _, _ = load_model_and_tokenizer(out / "model")  # an adapter is merged into its base
    after = {k: v for k, v in model.state_dict().items()}
    changed = [k for k in before if k in after and not torch.equal(before[k], after[k])]
    assert changed, "no parameter changed"
    ids = torch.tensor([[1, 50, 60]])
    assert torch.isfinite(model(ids).logits).all()
    if method == "grpo":
        rewards = [h for h in log if "rewards/language_consistency/mean" in h]
        assert rewards, "the language reward was not used"


def test_bad_configs(tmp_path):
    with pytest.raises(UsageError, match="unknown method"):
        RunConfig(method="ppo", model="m", data="d", output_dir="o")
    with pytest.raises(UsageError, match="unknown config key 'lr'"):
        RunConfig.from_mapping({"method": "dpo", "model": "m", "data": "d", "output_dir": "o", "lr": 1})
    with pytest.raises(UsageError, match="'data' is required"):
        RunConfig(method="dpo", model="m", output_dir="o")
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"prompt": "p", "chosen": "c"}) + "\n", encoding="utf-8")
    from langlock.baselines.trl_baselines import load_rows

    with pytest.raises(InputError, match="missing rejected"):
        load_rows(RunConfig(method="dpo", model="m", data=str(bad), output_dir="o"))


def test_language_reward_shaping():
    from langlock.rewards import language_consistency_reward

    fn = language_consistency_reward("ko", ignore_english=False)
    clean, late, early = "안녕하세요 반갑습니다", "안녕하세요 반갑습니다 hello", "hello 안녕하세요"
    r = fn([clean, late, early, "", [{"role": "assistant", "content": clean}]], language=["ko"] * 5)
    assert r[0] == 1.0 and r[4] == 1.0 and r[3] == 0.0
    assert 0 <= r[2] < r[1] < 0.5
    assert fn.__name__ == "language_consistency"
    # Title Case English (what TLPO learned on the Japanese head-to-head): under the faithful capital rule every
    # word is English-neutral, nothing is judged (the skip reward); capital_rule=False judges it English from char 0
    title = "To Make A Knife:\nStep 1: Cut Food\nStep 2: Sharpen"
    faithful = language_consistency_reward("ja", ignore_english=False, skip_reward=0.3)
    closed = language_consistency_reward("ja", ignore_english=False, skip_reward=0.3, capital_rule=False)
    assert faithful([title], language=["ja"]) == [0.3] and closed([title], language=["ja"]) == [0.0]


def test_cli_train_tbpo_variant_and_bad_configs(tmp_path, capsys):
    import yaml

    from langlock.cli.main import main

    model_dir = tiny_model(tmp_path)
    cfg = {"model": str(model_dir), "data": _data(tmp_path, "tbpo"), "output_dir": str(tmp_path / "run"),
           "max_steps": 1, "per_device_train_batch_size": 2, "max_length": 64, "lora_r": 4}
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    assert main(["train", "tbpo", "--variant", "a", "--config", str(path), "learning_rate=0.01"]) == 0
    resolved = yaml.safe_load((tmp_path / "run" / "config.resolved.yaml").read_text(encoding="utf-8"))
    assert resolved["tbpo_variant"] == "a" and resolved["learning_rate"] == 0.01 and resolved["lora_dropout"] == 0
    manifest = json.loads((tmp_path / "run" / "results.json").read_text(encoding="utf-8"))
    assert manifest["method"] == "tbpo" and manifest["global_step"] == 1
    capsys.readouterr()
    assert main(["train", "tbpo", "--config", str(path)]) == 0  # finished: reused, not retrained
    assert '"skipped": true' in capsys.readouterr().out
    assert main(["train", "dpo", "--config", str(path)]) == 2  # a finished tbpo run is not a dpo run
    assert "holds a finished tbpo run" in capsys.readouterr().err
    cfg["output_dir"] = str(tmp_path / "new")
    for extra, msg in (({"method": "sft"}, "is a sft config"), ({"epochs": 2}, "unknown config key 'epochs'"),
                       ({"data": str(tmp_path / "none.jsonl")}, "no such file"),
                       ({"lora_dropout": 2}, "lora_dropout must be")):
        path.write_text(yaml.safe_dump({**cfg, **extra}), encoding="utf-8")
        capsys.readouterr()
        assert main(["train", "dpo", "--config", str(path)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and msg in err[0], err
        assert not (tmp_path / "new").exists()
