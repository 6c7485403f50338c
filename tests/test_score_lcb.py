"""The `lcb` profile and `langlock score`: exact parity with the benchmark's released reference output."""

from __future__ import annotations

import json

import pytest

from langlock.cli.main import main
from langlock.detect import get_detector
from langlock.score.metrics import GroupStats, aggregate, harmonic_mean, score_records
from langlock.score.records import Record, read_records

MODELS = ("command-r-plus", "command-r", "llama-2-instruct")
#: The paper's Table 3 overall averages (lcb/README.md), computed there with lid.176.bin.
PAPER_TABLE3 = {
    "command-r": {"monolingual": 98.6, "crosslingual": 68.1},
    "command-r-plus": {"monolingual": 99.2, "crosslingual": 91.2},
    "llama-2-instruct": {"monolingual": 48.3, "crosslingual": 38.4},
}


@pytest.mark.parametrize("model", MODELS)
def test_tsv_equals_reference_line_for_line(model, lcb_dir, capsys):
    rc = main(["score", str(lcb_dir / "outputs" / f"{model}.csv"), "--english-words", str(lcb_dir / "words"),
               "--format", "tsv"])
    assert rc == 0
    got = capsys.readouterr().out.splitlines()
    want = (lcb_dir / "reference" / f"{model}.tsv").read_text(encoding="utf-8").splitlines()
    assert got == want


@pytest.mark.parametrize("model", MODELS)
def test_paper_table3_within_1_5_points(model, lcb_dir):
    report = score_records(read_records([lcb_dir / "outputs" / f"{model}.csv"]), "lcb")
    for task, paper in PAPER_TABLE3[model].items():
        overall = report.overall(task, model)
        assert abs(100 * overall.metrics["lpr"] - paper) <= 1.5, (task, overall.metrics["lpr"], paper)


def _det(text, lang="ko"):
    return get_detector("lcb", lang).detect(text)


def test_short_lines_skip_and_q_cut():
    assert _det("안녕하세요 반갑습니다").status == "skip"
    # everything after "\nQ:" is ignored, even a long English line
    det = _det("오늘은 날씨가 정말 좋아서 산책을 했습니다\nQ: What is the weather like today in Seoul?")
    assert det.status == "pass" and len(det.lines) == 1


def test_line_error_and_word_error_are_exclusive():
    text = "오늘은 날씨가 정말 좋아서 산책을 했습니다\nThe weather was really nice so I went for a walk"
    det = _det(text)
    assert det.line_error and not det.word_error and det.status == "fail"
    assert det.first_confusion_char == text.index("The") and det.spans[0].level == "line"
    assert det.spans[0].lang == "en" and text[det.spans[0].start : det.spans[0].end].endswith("walk")
    det = _det("오늘은 날씨가 정말 좋아서 산책을 했습니다 weather")
    assert det.word_error and not det.line_error
    span = det.spans[0]
    assert "오늘은 날씨가 정말 좋아서 산책을 했습니다 weather"[span.start : span.end] == "weather"


def test_unknown_label_is_an_error():
    # digits only: fastText is unsure, so the line is "unknown", which counts as an error
    det = _det("1 2 3 4 5 6 7")
    assert det.lines[0].judged and det.line_error
    assert det.lines[0].lang == "unknown"


def test_wpr_only_for_non_latin_and_all_skipped_group_is_100():
    g = GroupStats("monolingual", "m", "s", "es")
    g.add(_det("Hola", "es"))
    metrics = g.metrics("lcb")
    assert metrics["lpr"] == 1.0 and metrics["wpr"] is None and metrics["lcpr"] == 1.0
    g = GroupStats("monolingual", "m", "s", "ko")
    g.add(_det("짧은 답"))
    assert g.metrics("lcb")["lpr"] == 1.0 and g.metrics("lcb")["wpr"] == 1.0


def test_overall_average_is_over_languages_not_sources():
    rows = []
    for src, lang, errors in (("a", "ko", 1), ("b", "ko", 0), ("b", "ja", 0)):
        g = GroupStats("crosslingual", "m", src, lang, n=2, line_acc=[1.0, 1.0], line_errors=errors)
        rows.append(g)
    out = aggregate(rows, "lcb")
    overall = [r for r in out if r.level == "overall"][0]
    # ko averages 0.5 and 1.0 -> 0.75; ja 1.0; overall (0.75 + 1.0) / 2, not (0.5 + 1 + 1) / 3
    assert overall.metrics["lpr"] == pytest.approx(0.875)
    assert overall.metrics["lcpr"] == pytest.approx(harmonic_mean(0.875, overall.metrics["wpr"]))


def test_unsupported_language_is_not_applicable_not_passing():
    recs = [Record("crosslingual", "m", "s", "tr", "Bu bir deneme cümlesidir ve Türkçe yazılmıştır."),
            Record("crosslingual", "m", "s", "ko", "This answer is completely in English and not Korean at all.")]
    with pytest.warns(UserWarning, match="cannot judge tr"):
        report = score_records(recs, "tlpo", ignore_english=False)
    tr = [r for r in report.groups() if r.language == "tr"][0]
    assert not tr.applicable and tr.metrics["rpr"] is None
    assert report.overall("crosslingual", "m").metrics["rpr"] == 0.0


def test_jsonl_and_lm_eval_samples(tmp_path, capsys):
    text = "오늘은 날씨가 정말 좋아서 산책을 했습니다"
    p = tmp_path / "c.jsonl"
    p.write_text(json.dumps({"task": "monolingual", "model": "m", "source": "s", "language": "ko",
                             "completion": text}) + "\n", encoding="utf-8")
    lm = tmp_path / "mymodel" / "samples_lcb_monolingual_ko_2026-01-01T00-00-00.123.jsonl"
    lm.parent.mkdir()
    lm.write_text(json.dumps({"doc_id": 0, "doc": {"prompt": "q", "source": "native", "language": "ko"},
                              "resps": [["This is a wrong language answer here"]], "filtered_resps": ["x"]}) + "\n",
                  encoding="utf-8")
    recs = read_records([p, lm])
    assert recs[1].task == "monolingual" and recs[1].model == "mymodel" and recs[1].source == "native"
    assert main(["score", str(p), str(lm), "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    groups = {(r["model"], r["level"]): r for r in out["rows"]}
    assert groups[("m", "group")]["lpr"] == 1.0 and groups[("mymodel", "group")]["lpr"] == 0.0


def test_output_dir_files(tmp_path, lcb_dir):
    out = tmp_path / "run"
    rc = main(["score", str(lcb_dir / "outputs" / "command-r-plus.csv"), "-o", str(out), "--format", "tsv"])
    assert rc == 0
    assert sorted(p.name for p in out.iterdir()) == ["metrics.csv", "results.json", "samples.jsonl", "settings.json"]
    settings = json.loads((out / "settings.json").read_text())
    assert settings["lid_model_sha256"] == "8f3472cfe8738a7b6099e8e999c3cbfae0dcd15696aac7d7738a8039db603e83"
    assert sum(1 for _ in open(out / "samples.jsonl", encoding="utf-8")) == 6586


def test_detect_command(capsys, monkeypatch, tmp_path):
    f = tmp_path / "t.txt"
    f.write_text("오늘은 날씨가 정말 좋아서 산책을 했습니다 weather\n", encoding="utf-8")
    assert main(["detect", "--lang", "ko", str(f)]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["status"] == "fail" and row["first_confusion_char"] == row["text"].index("weather")
