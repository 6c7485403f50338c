"""`langlock train tlpo`: bad configs fail with one line and exit 2 before any compute; a tiny run writes
the adapter, the resolved config and the manifest."""

from __future__ import annotations

import json

import pytest
import yaml

from langlock.cli.main import main

from _tlpo_fixtures import smollm2_tokenizer, tiny_llama


@pytest.fixture(scope="module")
def tiny_dirs(tmp_path_factory):
    """A tiny Llama with SmolLM2's tokenizer, saved twice: with and without a chat template."""
    tok = smollm2_tokenizer()
    root = tmp_path_factory.mktemp("tlpo_models")
    model = tiny_llama(len(tok), seed=0)
    with_tpl, no_tpl = root / "with", root / "without"
    for d in (with_tpl, no_tpl):
        model.save_pretrained(d)
        tok.save_pretrained(d)
    cfg = json.loads((no_tpl / "tokenizer_config.json").read_text())
    cfg.pop("chat_template", None)
    (no_tpl / "tokenizer_config.json").write_text(json.dumps(cfg))
    for extra in ("chat_template.jinja", "chat_template.json"):
        (no_tpl / extra).unlink(missing_ok=True)
    return with_tpl, no_tpl


def _write(tmp_path, **kw):
    data = {"model": "x", "output_dir": str(tmp_path / "out"), "target_language": "ko", "use_cpu": True,
            "max_steps": 1, "num_generations": 1, "per_device_train_batch_size": 1, "max_completion_length": 4,
            "num_branches": 2, "branch_length": 1, "max_prompts": 2, "save_strategy": "no"}
    data.update(kw)
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    return str(path)


@pytest.mark.parametrize(
    "override,message",
    [
        ("num_brnaches=4", "unknown config key 'num_brnaches'; did you mean 'num_branches'"),
        ("num_branches=1", "num_branches must be >= 2"),
        ("target_language=tr", "not supported by the tlpo detector"),
        ("context=bogus", "context must be one of"),
        ("gradient_accumulation_steps=2", "gradient_accumulation_steps must be 1"),
    ],
)
def test_bad_config_exits_2_with_one_line(tmp_path, capsys, override, message):
    cfg = _write(tmp_path)
    assert main(["train", "tlpo", "--config", cfg, override]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_missing_chat_template_exits_2_before_compute(tmp_path, capsys, tiny_dirs):
    cfg = _write(tmp_path, model=str(tiny_dirs[1]))
    assert main(["train", "tlpo", "--config", cfg]) == 2
    err = capsys.readouterr().err.strip()
    assert "no chat template" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_missing_config_file_exits_2(tmp_path, capsys):
    assert main(["train", "tlpo", "--config", str(tmp_path / "nope.yaml")]) == 2
    assert "no such config file" in capsys.readouterr().err


def test_tiny_run_writes_adapter_resolved_config_and_manifest(tmp_path, tiny_dirs):
    cfg = _write(tmp_path, model=str(tiny_dirs[0]), lora_r=2, lora_alpha=4, lora_target_modules=["q_proj"])
    assert main(["train", "tlpo", "--config", cfg, "seed=5"]) == 0
    out = tmp_path / "out"
    assert (out / "model" / "adapter_config.json").is_file()
    assert (out / "model" / "adapter_model.safetensors").is_file()
    resolved = yaml.safe_load((out / "config.resolved.yaml").read_text())
    assert resolved["seed"] == 5 and resolved["num_branches"] == 2 and resolved["model"] == str(tiny_dirs[0])
    manifest = json.loads((out / "results.json").read_text())
    assert manifest["global_step"] == 1 and manifest["detector"]["language"] == "ko"
    assert manifest["method"] == "tlpo" and manifest["seed"] == 5
    rows = [json.loads(x) for x in (out / "log_history.jsonl").read_text().splitlines()]
    assert any("confusion/rate" in r for r in rows)
