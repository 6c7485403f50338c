"""`langlock steer fit` and `langlock bench --steer` on tiny model directories: a fitted file steers its
language's prompts in bench, a file fitted for another model is one line with exit 2 and nothing written."""

from __future__ import annotations

import json

import pytest

from langlock.cli.main import main

from tiny_models import make_model_dir

FIT = ["--shots", "2", "--num-prompts", "2", "--steps", "3"]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("steer")
    return make_model_dir(root / "a", seed=0), make_model_dir(root / "b", seed=1)


@pytest.fixture(scope="module")
def ko_file(models, tmp_path_factory):
    out = tmp_path_factory.mktemp("files") / "ko.safetensors"
    assert main(["steer", "fit", "--model", str(models[0]), "--lang", "ko", *FIT, "--loss", "2", "-o", str(out)]) == 0
    return out


def test_fit_writes_one_small_file(ko_file):
    from langlock.steer.file import load_steer_file

    f = load_steer_file(ko_file)
    assert f.language == "ko" and f.meta["settings"]["loss_tokens"] == 2 and f.meta["prompt_format"] == "chat"
    assert len(f.meta["fit"]["losses"]) == 3
    assert ko_file.stat().st_size < 20_000


def test_fit_bad_input_is_exit_2(models, tmp_path, capsys):
    bad = tmp_path / "ex.jsonl"
    bad.write_text('{"prompt": "q"}\n', encoding="utf-8")
    out = tmp_path / "x.safetensors"
    assert main(["steer", "fit", "--model", str(models[0]), "--lang", "ko", "--examples", str(bad), "-o", str(out)]) == 2
    with pytest.raises(SystemExit) as exc:
        main(["steer", "fit", "--model", str(models[0]), "--lang", "ko", "--loss", "zero", "-o", str(out)])
    assert exc.value.code == 2
    assert main(["steer", "fit", "--model", str(models[0]), "--lang", "xx", "-o", str(out)]) == 2
    assert not out.exists()
    err = capsys.readouterr().err
    assert "ex.jsonl:1" in err


def test_bench_steer_steers_its_language_only(models, ko_file, tmp_path):
    base = ["bench", "--model", str(models[0]), "--suite", "builtin-confusion", "--langs", "ko,de", "--limit", "1",
            "--max-new-tokens", "4", "--temperature", "0", "--generate-only", "--no-progress"]
    assert main([*base, "-o", str(tmp_path / "plain")]) == 0
    assert main([*base, "--steer", str(ko_file), "-o", str(tmp_path / "site")]) == 0

    def gens(d):
        return {r["key"]: r for r in map(json.loads, (d / "generations.jsonl").read_text().splitlines())}

    plain, site = gens(tmp_path / "plain"), gens(tmp_path / "site")
    assert plain.keys() == site.keys()
    assert {r["language"] for r in site.values()} == {"ko", "de"}
    assert json.loads((tmp_path / "site" / "run.json").read_text())["identity"]["steer"]["files"][0][0] == "ko.safetensors"
    # (the random tiny model's greedy text does not show the steering: tests/test_steer.py checks its logits)
    assert all(site[k]["completion"] == plain[k]["completion"] for k in plain if site[k]["language"] == "de")
    # a resume with other steering is refused
    assert main([*base, "-o", str(tmp_path / "site")]) == 2


def test_bench_refuses_a_file_fitted_for_another_model(models, ko_file, tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["bench", "--model", str(models[1]), "--suite", "builtin-confusion", "--langs", "ko", "--limit", "1",
                 "--steer", str(ko_file), "--generate-only", "--no-progress", "-o", str(out)])
    assert code == 2
    err = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert len(err) == 1 and "fitted for another model" in err[0]
    assert not out.exists() or not any(out.iterdir())
