"""`langlock models path NAME`: the local directory of a model (a GGUF converted once), bad names exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from langlock.cli.main import main

from tiny_models import make_model_dir, write_gguf


def test_models_path_converts_a_gguf_once_and_prints_only_the_directory(tmp_path, capsys):
    gguf = write_gguf(tmp_path / "tiny.gguf")
    cache = tmp_path / "cache"
    assert main(["models", "path", str(gguf), "--cache-dir", str(cache)]) == 0
    out, err = capsys.readouterr()
    path = Path(out.strip())
    assert out.count("\n") == 1 and path.is_dir() and (path / "config.json").is_file()
    assert path.parent == cache.resolve() and "converting" in err
    mtime = (path / "config.json").stat().st_mtime_ns
    assert main(["models", "path", str(gguf), "--cache-dir", str(cache)]) == 0
    assert Path(capsys.readouterr().out.strip()) == path and (path / "config.json").stat().st_mtime_ns == mtime
    hf = make_model_dir(tmp_path / "hf")
    assert main(["models", "path", str(hf)]) == 0 and capsys.readouterr().out.strip() == str(hf.resolve())


@pytest.mark.parametrize("name, expect", [("smollm9", "unknown model short name 'smollm9'"),
                                          ("{tmp}/no/such/model", "does not exist")])
def test_models_path_bad_name_is_one_line_exit_2(tmp_path, capsys, name, expect):
    assert main(["models", "path", name.format(tmp=tmp_path)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1 and expect in err
