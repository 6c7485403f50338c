"""Friendlier JSONL: a record with only `language` and `completion` is scored with documented defaults."""

from __future__ import annotations

import json

import pytest

from langlock.cli.main import main
from langlock.errors import InputError
from langlock.score.records import JSONL_DEFAULTS, read_jsonl


def write(path, rows):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def test_minimal_records_take_the_documented_defaults(tmp_path):
    f = write(tmp_path / "mine.jsonl", [{"language": "ko", "completion": "안녕하세요"},
                                        {"language": "DE", "completion": "Hallo", "prompt": "Sag hallo"}])
    a, b = read_jsonl(f)
    assert (a.task, a.model, a.source, a.language) == (JSONL_DEFAULTS["task"], "mine", JSONL_DEFAULTS["source"], "ko")
    assert a.task == "monolingual" and a.source == "custom"
    assert (b.language, b.prompt) == ("de", "Sag hallo")
    assert read_jsonl(f, model="given")[0].model == "given"  # --model-name
    full = write(tmp_path / "full.jsonl", [{"task": "crosslingual", "model": "m", "source": "s", "language": "en",
                                            "completion": "hi"}])
    r = read_jsonl(full, model="given")[0]
    assert (r.task, r.model, r.source) == ("crosslingual", "m", "s")  # explicit fields win


@pytest.mark.parametrize("row, msg", [
    ({"completion": "x"}, "missing field(s) language"),
    ({"language": "ko"}, "missing field(s) completion"),
    ({"language": "ko", "completion": None}, "completion must be strings"),
    ({"language": "ko", "completion": "x", "prompt": 3}, "prompt must be strings"),
    ({"language": "xx", "completion": "x"}, "unknown language code"),
])
def test_records_without_the_essentials_are_still_refused(tmp_path, row, msg):
    with pytest.raises(InputError, match=msg.replace("(", r"\(").replace(")", r"\)")):
        read_jsonl(write(tmp_path / "bad.jsonl", [row]))


def test_score_cli_scores_a_minimal_file(tmp_path, capsys):
    f = write(tmp_path / "answers.jsonl", [{"language": "en", "completion": "The weather is nice today."},
                                           {"language": "en", "completion": "오늘 날씨가 좋네요."}])
    out = tmp_path / "scored"
    assert main(["score", str(f), "--profile", "tlpo", "--no-ignore-english", "--format", "json", "-o",
                 str(out)]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    overall = [r for r in rows if r["level"] == "overall"]
    assert overall and overall[0]["task"] == "monolingual" and overall[0]["model"] == "answers"
    assert overall[0]["n"] == 2 and overall[0]["rpr"] == 0.5  # one of the two answers is in the wrong language
    assert (out / "results.json").is_file()
