"""`langlock report`: a self-contained page from real scored runs (tlpo profile), before/after deltas,
highlighted confusion spans, other run kinds, bad input."""

from __future__ import annotations

import json
import re

import pytest

from langlock.cli.main import main
from langlock.errors import InputError
from langlock.report.html import highlight
from langlock.score.metrics import score_records
from langlock.score.records import Record
from langlock.score.writers import write_outputs

BEFORE = [
    "서울은 한국의 수도입니다. The city is very big and busy.",
    "김치는 맛있는 음식입니다.",
    "Sure! Here is the answer in English.",
]
AFTER = ["서울은 한국의 수도입니다. 도시는 크고 바쁩니다.", "김치는 맛있는 음식입니다.", "네, 한국어로 답하겠습니다."]


def _scored_run(path, completions, model):
    recs = [Record("monolingual", model, "demo", "ko", c, str(i), f"질문 {i}") for i, c in enumerate(completions)]
    recs += [Record("monolingual", model, "demo", "ru", "Москва — столица России.", "0", "Вопрос")]
    report = score_records(recs, profile="tlpo", ignore_english=False)  # English is confusion
    return write_outputs(report, path, {"model": model, "temperature": 0.3})


def test_report_compares_runs_and_is_self_contained(tmp_path):
    before = _scored_run(tmp_path / "before", BEFORE, "base")
    after = _scored_run(tmp_path / "after", AFTER, "locked")
    analysis = tmp_path / "analysis"
    analysis.mkdir()
    (analysis / "analysis.json").write_text(json.dumps({
        "profile": "tlpo", "top_p": 0.75, "finding": "CPs sit at higher-entropy steps.",
        "table7": {"CP": {"n": 3, "nucleus": 3.0, "entropy": 1.2}, "non-CP": {"n": 9, "nucleus": 1.5,
                                                                           "entropy": 0.4}},
        "distributions": {"entropy": {"cp": [1.0, 1.2, 1.4], "other": [0.1, 0.3, 0.5, 0.2]},
                          "nucleus": {"cp": [2, 3, 4], "other": [1, 1, 2, 1]}}}), encoding="utf-8")
    out = tmp_path / "report.html"
    assert main(["report", str(before), str(after), str(analysis), "-o", str(out), "--title", "ko fix"]) == 0
    page = out.read_text(encoding="utf-8")
    assert "<title>ko fix</title>" in page
    assert "before" in page and "after" in page
    # before: 1 of 3 ko responses and the ru one pass -> overall RPR (mean over languages) (33.3 + 100) / 2 = 66.7;
    # after: all pass -> 100.0, shown with its change against the first run
    interval = r' <span class="muted">\[[0-9.]+, [0-9.]+\]</span>'  # the stored 95 % interval
    assert re.search(r"<td>66\.7" + interval + "</td>", page)
    assert re.search(r"100\.0" + interval + r' <span class="up">\(\+33\.3\)</span>', page)
    assert "(+66.7)" not in page
    assert len(re.findall(r'src="data:image/png;base64,[A-Za-z0-9+/=]{200,}"', page)) >= 3
    assert not re.search(r'(src|href)="(https?:)?//', page)  # nothing loaded from the network
    assert '<mark class="word">' in page and "The" in page  # the English words are highlighted
    assert "CPs sit at higher-entropy steps." in page


def test_highlight_escapes_and_marks():
    text = "안녕 <b>hello</b>"
    out = highlight(text, [{"start": 3, "end": len(text), "level": "line"},
                           {"start": 6, "end": 11, "level": "word"}], cp=6)
    assert "<b>" not in out and "&lt;b&gt;" in out
    assert '<mark class="word"><span class="cp" title="confusion point">hello</span></mark>' in out
    assert out.startswith("안녕 ")


def test_bad_input(tmp_path, capsys):
    assert main(["report", str(tmp_path / "missing"), "-o", str(tmp_path / "r.html")]) == 2
    assert "not a run directory" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError):
        from langlock.report import build_report

        build_report([tmp_path / "empty"], tmp_path / "r.html")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "results.json").write_text("{not json", encoding="utf-8")
    assert main(["report", str(bad), "-o", str(tmp_path / "r.html")]) == 2
    assert not (tmp_path / "r.html").exists()


def test_names_label_the_runs(tmp_path, capsys):
    a = _scored_run(tmp_path / "x" / "confusion", BEFORE, "base")
    b = _scored_run(tmp_path / "y" / "confusion", AFTER, "fixed")
    out = tmp_path / "r.html"
    assert main(["report", str(a), str(b), "--names", "before (base),TLPO", "-o", str(out)]) == 0
    page = out.read_text(encoding="utf-8")
    assert "before (base)" in page and "TLPO" in page and "confusion (2)" not in page
    assert main(["report", str(a), str(b), "--names", "only-one", "-o", str(tmp_path / "n.html")]) == 2
    assert "1 name(s) for 2 run directories" in capsys.readouterr().err


def test_runs_are_read_by_kind_and_old_results_are_migrated(tmp_path):
    """A results.json is read by its `kind`; a file written before the schema is migrated (renamed keys too);
    a newer schema version is refused."""
    from langlock.report.runs import load_run
    from langlock.results import SCHEMA_VERSION, read_results, write_results

    old = _scored_run(tmp_path / "old", BEFORE, "base")  # the scorer's results.json has no schema stamp
    data = read_results(old)
    assert (data["kind"], data["schema_version"]) == ("score", SCHEMA_VERSION)
    assert [r.kind for r in load_run(old)] == ["score"]
    legacy = tmp_path / "legacy.json"
    legacy.write_text(json.dumps({"rows": [{"rpr_ief": 0.5, "wpr_iet": 0.25}]}), encoding="utf-8")
    assert read_results(legacy)["rows"] == [{"rpr_en_confusion": 0.5, "wpr_en_neutral": 0.25}]
    written = write_results(tmp_path / "cmp", "compare", {"rows": [], "metrics": {}})
    assert written["kind"] == "compare" and read_results(tmp_path / "cmp") == written
    assert [r.kind for r in load_run(tmp_path / "cmp")] == ["compare"]
    cell = {"mean": 0.5, "ci95": 0.1, "values": [0.4, 0.6]}
    write_results(tmp_path / "cmp", "compare", {"metrics": {"rpr_en_confusion": "RPR tlpo, English=confusion"},
                                                "rows": [{"method": "tlpo", "rpr_en_confusion": cell}]})
    out = tmp_path / "c.html"
    assert main(["report", str(tmp_path / "cmp"), "-o", str(out)]) == 0
    assert "<td>50.0 ± 10.0</td>" in out.read_text(encoding="utf-8")
    (tmp_path / "new").mkdir()
    (tmp_path / "new" / "results.json").write_text(json.dumps({"schema": "langlock.results", "kind": "bench",
                                                                "schema_version": SCHEMA_VERSION + 1}))
    with pytest.raises(InputError, match="newer"):
        load_run(tmp_path / "new")
    with pytest.raises(InputError, match="expected bench"):
        read_results(tmp_path / "cmp", kinds=("bench",))


def test_summary_shows_the_stored_intervals(tmp_path):
    """Each rate of the summary table carries the 95 % bootstrap interval its results.json stored."""
    from langlock.report.html import pct

    after = _scored_run(tmp_path / "after", BEFORE, "base")
    data = json.loads((after / "results.json").read_text(encoding="utf-8"))
    k = next(i for i, r in enumerate(data["rows"]) if r["level"] == "overall")
    low, high = data["ci95"][k]["rpr"]
    assert low < high  # one of three ko answers passes: a real interval
    out = tmp_path / "r.html"
    assert main(["report", str(after), "-o", str(out)]) == 0
    page = out.read_text(encoding="utf-8")
    assert f'{pct(data["rows"][k]["rpr"])} <span class="muted">[{pct(low)}, {pct(high)}]</span>' in page


def test_retention_likelihood_and_compare_pairs_are_shown(tmp_path):
    """A retention bench's multiple-choice accuracy, its paired change, the NLL drift and the KL; a compare's
    paired changes (MC change, NLL drift) against the base."""
    from langlock.results import write_results
    from langlock.suites.likelihood import _mc_summary
    from langlock.suites.retention_stats import paired_difference

    mc = _mc_summary([True, True, False, True], [True, False, False, True])
    drift = paired_difference([1.0, 1.2, 0.9], [0.95, 1.1, 0.9])
    write_results(tmp_path / "ret", "bench", {
        "model": "m", "suite": "builtin-retention",
        "retention": {"accuracy": [{"kind": "all", "language": "all", "accuracy": 0.25, "n": 8}],
                      "kl": {"kl_mean": 0.0123, "n_tokens": 10, "reference_model": "base"},
                      "likelihood": {"mc": {"source": "s", "by_language": {"en": mc}},
                                     "nll": {"source": "g", "by_language": {"en": {
                                         "n": 3, "nll_per_byte": 1.0333, "base_nll_per_byte": 0.9833,
                                         "drift": drift}}}}}})
    cell = {"mean": 0.02, "ci95": 0.01, "values": [0.01, 0.03]}
    write_results(tmp_path / "cmp", "compare", {
        "metrics": {"mc_delta": "MC change", "nll_drift_en": "NLL drift en"}, "paired_base": "base",
        "rows": [{"method": "base", "mc_delta": cell, "nll_drift_en": cell}],
        "paired": {"tlpo": {"mc_delta": {"mean": -0.025, "ci95": 0.01, "values": [-0.02, -0.03]},
                            "nll_drift_en": {"mean": 0.0312, "ci95": 0.004, "values": [0.03, 0.032]}}}})
    out = tmp_path / "r.html"
    assert main(["report", str(tmp_path / "ret"), str(tmp_path / "cmp"), "-o", str(out)]) == 0
    page = out.read_text(encoding="utf-8")
    assert "Retention: likelihood checks" in page and "<td>0.0123</td>" in page
    assert f"<td>75.0 ± {100 * mc['se']:.1f}</td>" in page  # 3 of 4 correct
    lo, hi = mc["delta"]["ci95"]
    assert f"<td>+25.0 [{100 * lo:+.1f}, {100 * hi:+.1f}]</td>" in page  # paired by item
    lo, hi = drift["ci95"]
    assert f"<td>+0.0500 [{lo:+.4f}, {hi:+.4f}]</td>" in page  # NLL drift, paired by document
    assert "tlpo − base" in page and "<td>-2.5 ± 1.0</td>" in page and "<td>+0.0312 ± 0.0040</td>" in page
