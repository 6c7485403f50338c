"""`langlock sweep` and its in-context examples: grid, resumption per cell, the lock cell, few-shot data."""

from __future__ import annotations

import json
import re

import pytest

from langlock.decoding.sweep import make_grid
from langlock.errors import UsageError
from langlock.fewshot import examples
from langlock.languages import LANGUAGE_NAMES


def test_grid_one_factor_at_a_time():
    cells = make_grid({"temperature": [0.0, 0.3, 1.0], "beams": [1, 4], "shots": [0, 5], "lock": ["off", "suppress"]})
    names = [c.name for c in cells]
    assert names == ["baseline", "temperature=0", "temperature=1", "beams=4", "shots=5", "lock=suppress"]
    beam = cells[3]
    assert (beam.temperature, beam.top_p, beam.beams, beam.shots, beam.lock) == (0.3, 0.75, 4, 0, "off")
    for bad in ({"shots": [3]}, {"top_p": [0.0]}, {"beams": [0]}, {"colour": [1]}, {"lock": ["on"]}):
        with pytest.raises(UsageError):
            make_grid(bad)


def test_fewshot_examples_every_language():
    from langlock.detect import get_detector

    for lang in LANGUAGE_NAMES:
        for task in ("monolingual", "crosslingual"):
            five = examples(lang, task, 5)
            assert [m["role"] for m in five] == ["user", "assistant"] * 5
            assert examples(lang, task, 1) == five[:2]
            assert examples(lang, task, 0) == []
            answers = [m["content"] for m in five[1::2]]
            assert len(set(answers)) == 5
            if task == "crosslingual":
                for q in five[0::2]:
                    named = [n for n in LANGUAGE_NAMES.values() if n in q["content"]]
                    assert len(named) == 1 and named[0] != LANGUAGE_NAMES[lang] and named[0] != "English"
    # The non-Latin questions and answers really are in their script (the detector passes them).
    from langlock.fewshot import _data

    for lang in ("ko", "ru", "ar", "hi", "zh", "ja"):
        det = get_detector("tlpo", lang, ignore_english=False)
        for question, answer in _data()["exchanges"][lang]:
            assert det.detect(question).status == "pass", (lang, question)
            assert det.detect(answer).status == "pass", (lang, answer)
    with pytest.raises(UsageError):
        examples("ko", "monolingual", 3)


def test_sweep_tiny_model_resumes_per_cell(tmp_path, capsys):
    pytest.importorskip("torch")
    from langlock.cli.main import main

    from tiny_models import make_model_dir

    model_dir = make_model_dir(tmp_path / "tiny")
    out = tmp_path / "sweep"
    argv = ["sweep", "--model", str(model_dir), "--suite", "builtin-confusion", "--langs", "ko", "--limit", "1",
            "--temperatures", "0.3", "--top-ps", "0.75,1.0", "--beams", "1,2", "--shots", "0,1",
            "--locks", "off,suppress", "--max-new-tokens", "4", "--profile", "tlpo", "-o", str(out)]
    assert main(argv) == 0
    data = json.loads((out / "results.json").read_text(encoding="utf-8"))
    names = [c["name"] for c in data["cells"]]
    assert names == ["baseline", "top_p=1", "beams=2", "shots=1", "lock=suppress"]
    for c in data["cells"]:
        assert c["n"] == 2 and set(c["overall"]) == {"monolingual", "crosslingual"}
    assert data["baseline"]["overall"] == data["cells"][0]["overall"]
    assert (out / "sweep.md").read_text(encoding="utf-8").count("| lock=suppress |") == 2
    assert (out / "plot_top_p.png").exists()
    # The lock cell never produced an ASCII letter (all Latin-letter tokens are blocked for ko).
    lock_log = (out / "cells" / "lock=suppress" / "generations.jsonl").read_text(encoding="utf-8")
    completions = [json.loads(line)["completion"] for line in lock_log.splitlines()]
    assert len(completions) == 2 and not any(re.search("[A-Za-z]", c) for c in completions)
    # Resume: finished cells are skipped; a half-done cell continues from its log.
    beam_dir = out / "cells" / "beams=2"
    first_line = (beam_dir / "generations.jsonl").read_text(encoding="utf-8").splitlines()[0]
    (beam_dir / "generations.jsonl").write_text(first_line + "\n", encoding="utf-8")
    (beam_dir / "cell.json").unlink()
    capsys.readouterr()
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert err.count("done earlier, skipped") == 4
    assert "beams=2: generating 1 of 2" in err
    again = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert [c["overall"] for c in again["cells"]] == [c["overall"] for c in data["cells"]]
    # The report shows the sweep: its table and one plot per swept axis.
    from langlock.report import build_report

    page = build_report([out], tmp_path / "r.html").read_text(encoding="utf-8")
    assert "Sweep: sweep" in page and "lock=suppress" in page
    assert page.count("data:image/png;base64,") >= 4  # summary, per-language bars x2, axis plots
    # Another prompt set in the same folder is refused.
    other = list(argv)
    other[other.index("--limit") + 1] = "2"
    assert main(other) == 2
