"""`langlock score --workers N`: the same files, byte for byte, as one worker (both profiles)."""

from __future__ import annotations

import csv

import pytest

from langlock.cli.main import main
from langlock.score import parallel
from langlock.score.parallel import detect_records
from langlock.score.records import read_records


def _outputs(out):
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("profile", ["lcb", pytest.param("tlpo", marks=pytest.mark.slow)])  # tlpo: ~30 s
def test_two_workers_write_byte_identical_outputs(lcb_dir, tmp_path, capsys, monkeypatch, profile):
    monkeypatch.setattr(parallel, "CHUNK", 40)  # several chunks from a few hundred completions
    src = lcb_dir / "outputs" / "command-r.csv"
    with open(src, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    part = tmp_path / "command-r.csv"  # a few chunks' worth, every language, so both workers get work
    step = max(1, (len(rows) - 1) // (6 * parallel.CHUNK))
    with open(part, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([rows[0], *rows[1::step]])
    assert len(read_records([part])) > 4 * parallel.CHUNK
    runs = {}
    for n in (1, 2):
        out = tmp_path / f"w{n}"
        assert main(["score", str(part), "--profile", profile, "--english-words", str(lcb_dir / "words"),
                     "--bootstrap", "50", "--workers", str(n), "--format", "tsv", "-o", str(out)]) == 0
        runs[n] = (capsys.readouterr().out, _outputs(out))
    assert runs[1][0] == runs[2][0] and runs[1][0].count("\n") > 10
    assert runs[1][1].keys() == runs[2][1].keys() and "samples.jsonl" in runs[1][1]
    for name, data in runs[1][1].items():
        if name != "settings.json":  # records only the command's files and options
            assert runs[2][1][name] == data, name


def test_bad_worker_count_is_one_line_exit_2(lcb_dir, capsys):
    assert main(["score", str(lcb_dir / "outputs" / "command-r.csv"), "--workers", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--workers must be >= 1" in err
    with pytest.raises(Exception, match="workers"):
        detect_records([], "lcb", workers=0)
