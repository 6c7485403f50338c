"""`langlock merge apply-adapter` (PEFT LoRA folding) and `langlock merge analyze` on tiny models."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from langlock.cli.main import main
from langlock.merge.analyze import suggest_swap
from tiny_merge_models import save_tiny_lm

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def trio(tmp_path_factory) -> dict[str, Path]:
    """A base and two experts whose changes sit in known layers (lang: 0, 1, 5; task: 2, 3)."""
    root = tmp_path_factory.mktemp("analyze_models")
    base = save_tiny_lm(root / "base", seed=0)
    return {
        "base": base,
        "lang": save_tiny_lm(root / "lang", seed=2, base=base, layer_noise={0: 0.05, 1: 0.05, 5: 0.05},
                             other_noise=0.005),
        "task": save_tiny_lm(root / "task", seed=1, base=base, layer_noise={2: 0.05, 3: 0.05}, other_noise=0.005),
    }


def test_suggest_swap_rule():
    s = suggest_swap([3, 2, 0.1, 0.1, 0.5, 4], [0.2, 0.1, 3, 3, 1, 0.1])
    assert (s["bottom"], s["top"], s["transition_bottom"], s["transition_top"]) == (2, 1, 1, 1)
    s = suggest_swap([2, 2, 2, 2], None)  # everything favours language: keep one task layer
    assert s["bottom"] + s["top"] == 3 and (s["transition_bottom"], s["transition_top"]) == (0, 0)
    s = suggest_swap([0.5, 2, 2, 0.5], None)
    assert (s["bottom"], s["top"]) == (0, 0)


def test_analyze_finds_the_changed_layers(trio, tmp_path, capsys):
    out = tmp_path / "analysis"
    assert main(["merge", "analyze", str(trio["base"]), str(trio["lang"]), str(trio["task"]), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "suggested: --bottom 2 --top 1 --transition-bottom 1 --transition-top 1" in text
    summary = json.loads((out / "analysis.json").read_text())
    assert summary["suggestion"]["bottom"] == 2 and summary["suggestion"]["top"] == 1
    rows = list(csv.DictReader((out / "analysis_layers.csv").open()))
    assert len(rows) == 2 * 6
    lang_rows = [r for r in rows if r["expert"] == str(trio["lang"])]
    shares = [float(r["top_share"]) for r in lang_rows]
    assert shares[2] < 0.01 and shares[3] < 0.01 and min(shares[0], shares[1], shares[5]) > 0.2
    assert abs(sum(shares) - 1) < 1e-6  # non-layer tensors hold none of the top 5% here
    assert all(float(r["jaccard"]) < 0.05 for r in lang_rows)  # the two experts' top changes do not overlap

    # the per-module relative change is ‖θE − θB‖ / ‖θB‖, checked against torch
    from safetensors.torch import load_file

    def tensor(path, name):
        for f in Path(path).glob("*.safetensors"):
            sd = load_file(str(f))
            if name in sd:
                return sd[name]
        raise KeyError(name)

    name = "model.layers.5.mlp.down_proj.weight"
    b, e = tensor(trio["base"], name), tensor(trio["lang"], name)
    expect = (torch.linalg.norm(e - b) / torch.linalg.norm(b)).item()
    mods = list(csv.DictReader((out / "analysis_modules.csv").open()))
    got = next(float(r["rel_change"]) for r in mods
               if r["expert"] == str(trio["lang"]) and r["layer"] == "5" and r["module"] == "mlp.down_proj")
    assert got == pytest.approx(expect, rel=1e-5)
    png = (out / "analysis.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000


def test_analyze_bad_input(trio, tmp_path, capsys):
    out = tmp_path / "a"
    assert main(["merge", "analyze", str(trio["base"]), str(trio["lang"]), "--out", str(out),
                 "--top-fraction", "2"]) == 2
    assert "--top-fraction" in capsys.readouterr().err and not out.exists()


# ----------------------------------------------------------------------------------------------- LoRA

@pytest.fixture(scope="module")
def lora(tmp_path_factory):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    root = tmp_path_factory.mktemp("lora")
    base = save_tiny_lm(root / "base", seed=0, layers=2, shard="1MB")
    torch.manual_seed(3)
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(base),
                           LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "down_proj"],
                                      init_lora_weights=False))
    adapter = root / "adapter"
    model.save_pretrained(adapter)
    ids = torch.tensor([[1, 5, 9, 2]])
    with torch.no_grad():
        logits = model(ids).logits
    return {"base": base, "adapter": adapter, "ids": ids, "logits": logits}


def test_apply_adapter_matches_peft(lora, tmp_path):
    from transformers import AutoModelForCausalLM

    out = tmp_path / "merged"
    assert main(["merge", "apply-adapter", str(lora["base"]), str(lora["adapter"]), str(out)]) == 0
    merged = AutoModelForCausalLM.from_pretrained(out)
    base = AutoModelForCausalLM.from_pretrained(lora["base"])
    with torch.no_grad():
        got = merged(lora["ids"]).logits
        plain = base(lora["ids"]).logits
    torch.testing.assert_close(got, lora["logits"], rtol=1e-4, atol=1e-5)
    assert not torch.allclose(got, plain, atol=1e-4)  # the adapter really changed the model
    assert not any("lora" in n for n, _ in merged.named_parameters())
    assert (out / "tokenizer.json").is_file() and (out / "langlock_merge.yaml").is_file()


def test_apply_adapter_bad_input(lora, tmp_path, capsys):
    out = tmp_path / "merged"
    assert main(["merge", "apply-adapter", str(lora["base"]), str(tmp_path), str(out)]) == 2
    assert "adapter_config.json" in capsys.readouterr().err
    wide = save_tiny_lm(tmp_path / "wide", seed=0, layers=2, hidden=64, shard="1MB")
    capsys.readouterr()
    assert main(["merge", "apply-adapter", str(wide), str(lora["adapter"]), str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "does not fit" in err[0] and "size mismatch" in err[0], err
    assert not out.exists()
