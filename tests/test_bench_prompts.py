"""`langlock bench --prompts FILE`: a user's own prompts (CSV or JSONL) through generation, scoring, resume and
the report on a tiny model; bad files are one line, exit 2, nothing written."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from langlock.bench.prompts import load_prompt_file
from langlock.cli.main import main
from langlock.errors import InputError

from tiny_models import make_model_dir

ROWS = [
    {"prompt": "서울에 대해 짧게 설명해 주세요.", "language": "ko", "id": "seoul"},
    {"prompt": "Beschreibe kurz Berlin.", "language": "de", "task": "monolingual", "source": "mine"},
    {"prompt": "Describe Paris briefly. Answer in Korean.", "language": "ko", "task": "crosslingual",
     "source": "mine"},
    {"prompt": "Describe Rome briefly.", "language": "en"},
]


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return make_model_dir(tmp_path_factory.mktemp("tiny") / "model")


def write_jsonl(path: Path, rows) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def write_csv(path: Path, rows) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=["prompt", "language", "task", "source", "id"])
        w.writeheader()
        w.writerows(rows)
    return path


def test_loader_defaults_filters_and_csv_equals_jsonl(tmp_path):
    got = load_prompt_file(write_jsonl(tmp_path / "p.jsonl", ROWS))
    assert [p.key for p in got] == ["monolingual/custom/ko/seoul", "monolingual/mine/de/1",
                                    "crosslingual/mine/ko/2", "monolingual/custom/en/3"]
    assert load_prompt_file(write_csv(tmp_path / "p.csv", ROWS)) == got
    assert [p.key for p in load_prompt_file(tmp_path / "p.jsonl", task="crosslingual")] == ["crosslingual/mine/ko/2"]
    assert [p.language for p in load_prompt_file(tmp_path / "p.jsonl", langs="ko", limit=1)] == ["ko", "ko"]
    assert [p.source for p in load_prompt_file(tmp_path / "p.jsonl", sources="mine")] == ["mine", "mine"]


def test_bench_prompts_generates_scores_resumes_and_reports(tiny_dir, tmp_path, capsys):
    prompts = write_jsonl(tmp_path / "my.jsonl", ROWS)
    out = tmp_path / "run"
    args = ["bench", "--model", str(tiny_dir), "--prompts", str(prompts), "--max-new-tokens", "8",
            "--batch-size", "2", "--no-progress", "-o", str(out)]
    assert main(args) == 0
    log = [json.loads(line) for line in (out / "generations.jsonl").read_text(encoding="utf-8").splitlines()]
    assert sorted(r["key"] for r in log) == sorted(p.key for p in load_prompt_file(prompts))
    results = json.loads((out / "results.json").read_text())
    rows = results["profiles"]["lcb"]["rows"]
    langs = {(r["task"], r["language"]) for r in rows if r["level"] == "language"}
    assert langs == {("monolingual", "ko"), ("monolingual", "de"), ("monolingual", "en"), ("crosslingual", "ko")}
    assert "ko" in (out / "report.md").read_text(encoding="utf-8")
    before = (out / "generations.jsonl").read_bytes()
    capsys.readouterr()
    assert main(args) == 0  # resume: nothing is regenerated
    assert (out / "generations.jsonl").read_bytes() == before


def one_error_line(capsys) -> str:
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1, err
    return err[0]


@pytest.mark.parametrize("name, content, expect", [
    ("p.jsonl", '{"prompt": "hi"}\n', "p.jsonl:1: missing field(s) language"),
    ("p.jsonl", '{"prompt": "hi", "language": "xx"}\n', "unknown language code 'xx'"),
    ("p.jsonl", '{"prompt": 3, "language": "en"}\n', "field(s) prompt must be strings"),
    ("p.jsonl", '{"prompt": "a", "language": "en", "id": 1}\n{"prompt": "b", "language": "en", "id": "1"}\n',
     "p.jsonl:2: duplicate id '1'"),
    ("p.jsonl", '{"prompt": "  ", "language": "en"}\n', "empty prompt"),
    ("p.jsonl", '{"prompt": "a", "language": "en"\n', "malformed JSON"),
    ("p.jsonl", "", "file is empty"),
    ("p.csv", "prompt,lang\nhi,en\n", "header must have 'prompt' and 'language'"),
    ("p.csv", "prompt,language\nhi,en,extra\n", "malformed CSV at line 2"),
    ("p.txt", "hi\n", "unknown prompt file format '.txt'"),
    ("missing.jsonl", None, "does not exist"),
])
def test_bad_prompt_files_are_one_line_exit_2(tiny_dir, tmp_path, capsys, name, content, expect):
    path = tmp_path / name
    if content is not None:
        path.write_text(content, encoding="utf-8")
    out = tmp_path / "run"
    assert main(["bench", "--model", str(tiny_dir), "--prompts", str(path), "--no-progress", "-o", str(out)]) == 2
    line = one_error_line(capsys)
    assert expect in line and line.startswith("langlock bench: error:")
    assert not out.exists()
    if content is not None and name.endswith(".jsonl") and content:
        with pytest.raises(InputError):
            load_prompt_file(path)


def test_prompts_and_another_prompt_set_is_a_usage_error(tiny_dir, tmp_path, capsys):
    path = write_jsonl(tmp_path / "p.jsonl", ROWS)
    assert main(["bench", "--model", str(tiny_dir), "--prompts", str(path), "--suite", "builtin-confusion",
                 "-o", str(tmp_path / "run")]) == 2
    assert "exactly one of --lcb-dir DIR, --suite NAME or --prompts FILE" in one_error_line(capsys)
