"""Bad input to `langlock score` / `detect`: one clear error line, exit code 2, no partial output."""

from __future__ import annotations

import subprocess
import sys

import pytest

from langlock.cli.main import main

HEADER = "id,model,completion,task,source,language\n"
GOOD_ROW = '0,m,"오늘은 날씨가 정말 좋아서 산책을 했습니다",monolingual,native,ko\n'


def _bad_files(tmp_path):
    cases = {
        "malformed": HEADER + GOOD_ROW + '1,m,"unterminated quote,monolingual,native,ko\n',
        "wrong_field_count": HEADER + "1,m,text,monolingual\n",
        "missing_columns": "id,model,completion\n0,m,hello\n",
        "unknown_language": HEADER + '0,m,"hello world",monolingual,native,xx\n',
        "empty": "",
        "huge": HEADER + '0,m,"' + "가" * 10_000_001 + '",monolingual,native,ko\n',
    }
    paths = {}
    for name, text in cases.items():
        p = tmp_path / f"{name}.csv"
        p.write_text(text, encoding="utf-8")
        paths[name] = p
    bad_utf8 = tmp_path / "bad_utf8.csv"
    bad_utf8.write_bytes(HEADER.encode() + b'0,m,"\xff\xfe broken",monolingual,native,ko\n')
    paths["invalid_utf8"] = bad_utf8
    paths["directory"] = tmp_path
    bad_json = tmp_path / "bad.jsonl"
    bad_json.write_text('{"task": "monolingual", "model": "m"\n', encoding="utf-8")
    paths["malformed_jsonl"] = bad_json
    return paths


@pytest.mark.parametrize(
    "case",
    ["malformed", "wrong_field_count", "missing_columns", "unknown_language", "empty", "huge", "invalid_utf8",
     "directory", "malformed_jsonl"],
)
def test_bad_input_one_line_exit_2_no_output(case, tmp_path, capsys):
    path = _bad_files(tmp_path)[case]
    out_dir = tmp_path / "out"
    rc = main(["score", str(path), "-o", str(out_dir)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2
    assert len(err) == 1 and err[0].startswith("langlock score: error:"), err
    assert not out_dir.exists()
    assert not list(tmp_path.glob(".out.*"))


def test_unknown_language_flag_and_profile(capsys):
    assert main(["detect", "--lang", "xx"]) == 2
    assert "unknown language code" in capsys.readouterr().err
    assert main(["detect", "--lang", "tr", "--profile", "tlpo"]) == 2


def test_usage_error_exit_2_from_the_console_script():
    proc = subprocess.run([sys.executable, "-m", "langlock", "score"], capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr.strip().splitlines()[-1].startswith("langlock score: error")


def test_import_is_light():
    code = "import sys, langlock, langlock.detect, langlock.cli.main as m; m.build_parser(); " \
           "print(sorted(k for k in ('torch', 'transformers', 'fasttext', 'jieba') if k in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
