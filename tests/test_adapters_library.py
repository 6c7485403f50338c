"""The adapter library (`langlock adapters add|list|show|merge`): registration, metadata, wrong bases refused,
and merges checked against direct tensor arithmetic on the saved LoRA matrices (not against PEFT)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from langlock.cli.main import main
from langlock.results import write_results

from tiny_models import make_adapter_dir, make_config, make_model_dir, make_tokenizer


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("adapters")
    base = make_model_dir(root / "base")
    ko = root / "ko"
    make_adapter_dir(base, ko, seed=1)
    ja = root / "ja"
    make_adapter_dir(base, ja, seed=2)
    other = make_model_dir(root / "other", seed=7)  # same architecture, other weights
    foreign = root / "foreign"
    make_adapter_dir(other, foreign, seed=3)
    return root, base, ko, ja, foreign


def _lib(tmp_path, world):
    root, base, ko, ja, _ = world
    lib = tmp_path / "lib"
    assert main(["adapters", "add", str(lib), str(ko), "--language", "ko"]) == 0
    assert main(["adapters", "add", str(lib), str(ja), "--language", "ja", "--method", "sft"]) == 0
    return lib


def test_add_list_show(tmp_path, world, capsys):
    lib = _lib(tmp_path, world)
    index = json.loads((lib / "library.json").read_text())
    assert [a["name"] for a in index["adapters"]] == ["ko", "ja"]
    ko = index["adapters"][0]
    # r=4 on q_proj (32->32) and v_proj (32->16) of 2 layers: A 4x32 + B 32x4, A 4x32 + B 16x4
    assert (ko["rank"], ko["languages"], ko["method"], ko["n_params"]) == (4, ["ko"], "lora", 2 * (256 + 192))
    assert sorted(ko["target_modules"]) == ["q_proj", "v_proj"]
    assert index["adapters"][1]["method"] == "sft"
    assert (lib / "adapters" / "ja" / "adapter_model.safetensors").read_bytes() == \
        (world[3] / "adapter_model.safetensors").read_bytes()
    assert Path(index["base"]["path"]) == world[1].resolve()
    capsys.readouterr()
    assert main(["adapters", "list", str(lib)]) == 0
    out = capsys.readouterr().out
    assert "ko " in out and "ja " in out and index["base"]["fingerprint"][:12] in out
    assert main(["adapters", "show", str(lib), "ja"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["name"] == "ja" and shown["base"]["fingerprint"] == index["base"]["fingerprint"]


def test_wrong_base_refused_with_one_line(tmp_path, world, capsys):
    lib = _lib(tmp_path, world)
    before = (lib / "library.json").read_bytes()
    capsys.readouterr()
    assert main(["adapters", "add", str(lib), str(world[4]), "--language", "de"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "is not this library's base" in err
    assert (lib / "library.json").read_bytes() == before and not (lib / "adapters" / "de").exists()


def test_adapter_that_does_not_fit_is_refused_even_when_its_base_is_claimed(tmp_path, world, capsys):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaForCausalLM

    lib = _lib(tmp_path, world)
    torch.manual_seed(0)
    wide = get_peft_model(LlamaForCausalLM(make_config(vocab_size=len(make_tokenizer()), hidden=48)),
                          LoraConfig(r=4, target_modules=["q_proj"], init_lora_weights=False))
    wide.save_pretrained(tmp_path / "wide")
    capsys.readouterr()
    assert main(["adapters", "add", str(lib), str(tmp_path / "wide"), "--language", "de",
                 "--base", str(world[1])]) == 2
    assert "does not fit the library base" in capsys.readouterr().err


def test_duplicate_name_and_unknown_language_are_usage_errors(tmp_path, world, capsys):
    lib = _lib(tmp_path, world)
    assert main(["adapters", "add", str(lib), str(world[2]), "--language", "ko"]) == 2
    assert main(["adapters", "add", str(lib), str(world[2]), "--language", "xx", "--name", "x"]) == 2
    assert "unknown language code" in capsys.readouterr().err


def test_run_folder_brings_its_manifest_and_measured_rates(tmp_path, world):
    from langlock.adapters import AdapterLibrary

    out = tmp_path / "run"
    make_adapter_dir(world[1], out / "model", seed=4)
    write_results(out / "results.json", "train", {"method": "tlpo", "language": "ko", "seed": 3,
                                                  "global_step": 12, "train_loss": 0.5, "evaluations": []})
    write_results(out / "eval" / "results.json", "evaluation",
                  {"model": "m", "plan": {}, "metrics": {"lcb_lpr": 0.75, "rpr_en_confusion": 0.5}, "reports": {}})
    assert main(["adapters", "add", str(tmp_path / "lib"), str(out)]) == 0
    e = AdapterLibrary.open(tmp_path / "lib").get("ko")
    assert (e.method, e.languages, e.run["seed"], e.run["global_step"]) == ("tlpo", ["ko"], 3, 12)
    assert e.metrics == {"eval": {"lcb_lpr": 0.75, "rpr_en_confusion": 0.5, "n_target": 0, "n_english": 0}}


def test_routing_table_prefers_the_most_specific_adapter(tmp_path, world):
    from langlock.adapters import AdapterLibrary
    from langlock.errors import UsageError

    lib = _lib(tmp_path, world)
    assert main(["adapters", "add", str(lib), str(world[2]), "--language", "ko,ja", "--name", "joint"]) == 0
    table = AdapterLibrary.open(lib).routing_table()
    assert table == {"ja": "ja", "ko": "ko"}
    assert AdapterLibrary.open(lib).routing_table(["joint", "ja"]) == {"ja": "ja", "ko": "joint"}
    assert main(["adapters", "add", str(lib), str(world[3]), "--language", "ja", "--name", "ja2"]) == 0
    with pytest.raises(UsageError, match="both cover 'ja'"):
        AdapterLibrary.open(lib).routing_table()


def _delta(adapter_dir: Path) -> dict:
    """module -> scaling * B @ A, computed here from the saved safetensors and adapter_config.json."""
    from safetensors.torch import load_file

    cfg = json.loads((adapter_dir / "adapter_config.json").read_text())
    t = load_file(str(adapter_dir / "adapter_model.safetensors"))
    scale = cfg["lora_alpha"] / cfg["r"]
    return {k.removesuffix(".lora_A.weight"): scale * (t[k.replace("lora_A", "lora_B")].double() @ t[k].double())
            for k in t if k.endswith("lora_A.weight")}


def test_cat_merge_update_is_the_weighted_sum_of_updates(tmp_path, world):
    import torch

    lib = _lib(tmp_path, world)
    assert main(["adapters", "merge", str(lib), "--sources", "ko,ja", "--method", "cat", "--weights", "0.7,-0.4",
                 "--name", "kj"]) == 0
    merged, ko, ja = (_delta(lib / "adapters" / n) for n in ("kj", "ko", "ja"))
    assert merged.keys() == ko.keys() and len(merged) == 4
    for k in merged:
        torch.testing.assert_close(merged[k], 0.7 * ko[k] - 0.4 * ja[k], rtol=1e-6, atol=1e-7)
    index = json.loads((lib / "library.json").read_text())
    kj = index["adapters"][-1]
    assert (kj["rank"], kj["languages"], kj["method"]) == (8, ["ja", "ko"], "merge-cat")
    assert kj["merge"] == {"method": "cat", "sources": ["ko", "ja"], "weights": [0.7, -0.4]}


def test_linear_merge_of_one_adapter_at_weight_one_reproduces_it(tmp_path, world):
    import torch

    lib = _lib(tmp_path, world)
    assert main(["adapters", "merge", str(lib), "--sources", "ko", "--method", "linear", "--weights", "1",
                 "--name", "ko-lin"]) == 0
    merged, ko = _delta(lib / "adapters" / "ko-lin"), _delta(lib / "adapters" / "ko")
    for k in ko:
        torch.testing.assert_close(merged[k], ko[k], rtol=1e-6, atol=1e-7)


def test_linear_merge_of_two_adapters_holds_cross_terms_and_warns(tmp_path, world, capsys):
    """PEFT's linear merge sums A's and B's separately: the update is (Σ√(wᵢsᵢ)Bᵢ)(Σ√(wⱼsⱼ)Aⱼ), computed here from
    the source tensors; full weights print a warning, the default 1/N weights do not."""
    import torch
    from safetensors.torch import load_file

    lib = _lib(tmp_path, world)

    def raw(name):
        d = lib / "adapters" / name
        cfg = json.loads((d / "adapter_config.json").read_text())
        return load_file(str(d / "adapter_model.safetensors")), cfg["lora_alpha"] / cfg["r"]

    assert main(["adapters", "merge", str(lib), "--sources", "ko,ja", "--method", "linear", "--weights", "1,1",
                 "--name", "kj-lin"]) == 0
    assert "cross terms" in capsys.readouterr().err
    (ko, s_ko), (ja, s_ja) = raw("ko"), raw("ja")
    merged = _delta(lib / "adapters" / "kj-lin")
    for k in merged:
        a, b = f"{k}.lora_A.weight", f"{k}.lora_B.weight"
        big_b = s_ko ** 0.5 * ko[b].double() + s_ja ** 0.5 * ja[b].double()
        big_a = s_ko ** 0.5 * ko[a].double() + s_ja ** 0.5 * ja[a].double()
        torch.testing.assert_close(merged[k], big_b @ big_a, rtol=1e-5, atol=1e-6)
        apart = s_ko * ko[b].double() @ ko[a].double() + s_ja * ja[b].double() @ ja[a].double()
        assert not torch.allclose(merged[k], apart)  # not the sum of the two updates
    assert main(["adapters", "merge", str(lib), "--sources", "ko,ja", "--method", "linear", "--name", "kj-half"]) == 0
    assert "cross terms" not in capsys.readouterr().err


def test_merge_input_errors(tmp_path, world, capsys):
    lib = _lib(tmp_path, world)
    assert main(["adapters", "merge", str(lib), "--sources", "ko,ja", "--method", "ties", "--weights", "1",
                 "--name", "x"]) == 2
    assert main(["adapters", "merge", str(lib), "--sources", "ko,nope", "--method", "cat", "--name", "x"]) == 2
    assert main(["adapters", "merge", str(lib), "--sources", "ko", "--method", "cat", "--density", "0.3",
                 "--name", "x"]) == 2
    assert "weight(s) for 2 adapter(s)" in capsys.readouterr().err
    assert not (lib / "adapters" / "x").exists()


def test_ties_merge_registers_an_adapter_of_the_same_rank(tmp_path, world):
    from langlock.adapters import AdapterLibrary

    lib = _lib(tmp_path, world)
    assert main(["adapters", "merge", str(lib), "--sources", "ko,ja", "--method", "ties", "--weights", "1,1",
                 "--density", "0.5", "--name", "t"]) == 0
    e = AdapterLibrary.open(lib).get("t")
    assert (e.rank, e.method, e.merge["density"]) == (4, "merge-ties", 0.5)
