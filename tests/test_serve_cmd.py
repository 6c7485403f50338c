"""`langlock serve --adapters LIB`: the vLLM server command of an adapter library, built in the main environment
(no vLLM needed; nothing is started). A tiny base, two tiny PEFT LoRAs of ranks 4 and 12 registered in a
library, and a base with other weights: the exact multi-LoRA flags (one ``--lora-modules NAME=DIR`` per adapter,
``--max-loras`` = their number, ``--max-lora-rank`` = vLLM's smallest bound covering rank 12, i.e. 16), the
wrong-base refusal, and the missing / empty library errors. The commands are built with ``lock=False``
(`--no-lock`): naming LanguageLock's processor asks vLLM which model runner it uses (tests/vllm_engine covers it)."""

from __future__ import annotations

import shutil
import sys
import types

import pytest

from langlock.adapters import AdapterLibrary
from langlock.cli.main import main
from langlock.errors import InputError, UsageError
from langlock.generate.vllm import lora_rank_bound, server_command

from tiny_models import make_adapter_dir, make_model_dir

LORA_FLAGS = ("--enable-lora", "--lora-modules", "--max-loras", "--max-lora-rank")


def _rank12_adapter(base, path):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(5)
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(base),
                           LoraConfig(r=12, lora_alpha=24, target_modules=["q_proj"], init_lora_weights=False))
    model.save_pretrained(path)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("serve")
    base = make_model_dir(root / "base")
    make_adapter_dir(base, root / "lora-de", seed=1)  # r=4
    _rank12_adapter(base, root / "lora-es")
    lib = AdapterLibrary(root / "lib")
    lib.add(root / "lora-es", name="es", languages=["es"])  # registered first: the flags come in name order
    lib.add(root / "lora-de", name="de", languages=["de"])
    copy = shutil.copytree(base, root / "base-copy")  # the same base elsewhere: same fingerprint
    other = make_model_dir(root / "other", seed=7)  # same architecture, other weights
    return root, base, copy, other


def _values(cmd, flag):
    """The arguments after `flag` up to the next option."""
    i = cmd.index(flag) + 1
    out = []
    while i < len(cmd) and not cmd[i].startswith("--"):
        out.append(cmd[i])
        i += 1
    return out


def test_library_command_has_vllm_multilora_flags(world):
    root, base, _, _ = world
    cmd = server_command(adapters=str(root / "lib"), python="py", port=8123, lock=False)
    assert cmd[:5] == ["py", "-m", "vllm.entrypoints.openai.api_server", "--model", str(base.resolve())]
    assert _values(cmd, "--served-model-name") == ["base"]  # the library's base, named after its directory
    assert _values(cmd, "--enable-lora") == []
    lib = (root / "lib").resolve()
    assert _values(cmd, "--lora-modules") == [f"de={lib}/adapters/de", f"es={lib}/adapters/es"]
    assert _values(cmd, "--max-loras") == ["2"]
    assert _values(cmd, "--max-lora-rank") == ["16"]  # ranks 4 and 12: vLLM's bounds are 1, 8, 16, 32, ...
    assert all(cmd.count(f) == 1 for f in LORA_FLAGS)
    # the rest of the command is the plain server's
    assert _values(cmd, "--port") == ["8123"] and _values(cmd, "--host") == ["127.0.0.1"]


def test_plain_command_has_no_lora_flags(world):
    _, base, _, _ = world
    cmd = server_command(str(base), python="py", lock=False)
    assert _values(cmd, "--model") == [str(base)] and not set(LORA_FLAGS) & set(cmd)


def test_model_with_library_must_be_its_base(world):
    root, _, copy, other = world
    cmd = server_command(str(copy), adapters=str(root / "lib"), name="smol", python="py", lock=False)
    assert _values(cmd, "--model") == [str(copy.resolve())] and _values(cmd, "--served-model-name") == ["smol"]
    assert _values(cmd, "--max-loras") == ["2"]
    with pytest.raises(InputError, match="is not this library's base"):
        server_command(str(other), adapters=str(root / "lib"), python="py", lock=False)


def test_missing_or_empty_library_is_an_error(tmp_path):
    with pytest.raises(InputError, match="no adapter library here"):
        server_command(adapters=str(tmp_path / "nope"))
    assert not (tmp_path / "nope").exists()
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no adapter library here"):
        server_command(adapters=str(tmp_path / "empty"))
    with pytest.raises(UsageError, match="--model"):
        server_command()


def test_base_name_must_differ_from_adapter_names(world):
    root = world[0]
    with pytest.raises(UsageError, match="an adapter has that name"):
        server_command(adapters=str(root / "lib"), name="de")


def test_lora_rank_bound():
    assert [lora_rank_bound(r) for r in (1, 4, 8, 9, 16, 17, 300, 320, 321, 512)] == \
        [1, 8, 8, 16, 16, 32, 320, 320, 512, 512]
    with pytest.raises(UsageError, match="above vLLM's largest"):
        lora_rank_bound(513)


@pytest.fixture
def vllm_present(monkeypatch):
    """`serve` refuses to run without vLLM; the dry run uses nothing of it, so a bare module passes the check.
    Starting the server would fail the test."""
    import subprocess

    monkeypatch.setitem(sys.modules, "vllm", types.ModuleType("vllm"))
    monkeypatch.setattr(subprocess, "call", lambda *a, **k: pytest.fail("the dry run started the server"))


def test_cli_dry_run_prints_the_command(world, vllm_present, capsys):
    root, base, _, _ = world
    assert main(["serve", "--adapters", str(root / "lib"), "--dry-run", "--no-lock", "--port", "8001"]) == 0
    out = capsys.readouterr().out.strip()
    lib = (root / "lib").resolve()
    assert len(out.splitlines()) == 1
    assert f"--model {base.resolve()} " in out and "--served-model-name base " in out
    assert f" --enable-lora --lora-modules de={lib}/adapters/de es={lib}/adapters/es --max-loras 2 " \
           "--max-lora-rank 16" in out


@pytest.mark.parametrize("case", ["wrong-base", "empty", "missing"])
def test_cli_errors_are_one_line_exit_2(world, vllm_present, tmp_path, capsys, case):
    root, _, _, other = world
    (tmp_path / "empty").mkdir()
    argv = {"wrong-base": ["--adapters", str(root / "lib"), "--model", str(other)],
            "empty": ["--adapters", str(tmp_path / "empty")],
            "missing": ["--adapters", str(tmp_path / "missing")]}[case]
    assert main(["serve", *argv, "--dry-run", "--no-lock"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and len(captured.err.strip().splitlines()) == 1
    assert ("is not this library's base" if case == "wrong-base" else "no adapter library here") in captured.err
