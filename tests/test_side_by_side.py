"""The report's before/after section: only runs that answered exactly the same prompts are aligned, row by row."""

from __future__ import annotations

from pathlib import Path

from langlock.report.runs import Run
from langlock.report.side_by_side import aligned_runs, side_by_side_section


def _s(task, lang, i, text, status="pass", valid=True, reasons=()):
    return {"task": task, "source": "own", "language": lang, "id": str(i), "prompt": f"prompt {task} {lang} {i}",
            "completion": text, "detection": {"status": status}, "valid": valid, "invalid_reasons": list(reasons)}


def test_same_prompts_side_by_side_in_order_and_escaped():
    before = Run("before", Path("b"), "bench", samples=[
        _s("monolingual", "en", 0, "fine"), _s("monolingual", "de", 1, "Gut."),
        _s("crosslingual", "de", 0, "In English <b>", status="fail")])
    after = Run("after", Path("a"), "bench", samples=[
        _s("crosslingual", "de", 0, "Auf Deutsch."), _s("monolingual", "de", 1, "Gut gut gut", valid=False,
                                                        reasons=["repetitive"]),
        _s("monolingual", "en", 0, "fine")])
    other = Run("diagnose", Path("d"), "bench", samples=[_s("crosslingual", "de", 0, "x")])
    assert [r.name for r in aligned_runs([before, other, after])] == ["before", "after"]
    page = side_by_side_section([before, other, after])
    assert page.count("<tr>") == 4 and "diagnose" not in page
    # cross-lingual first, English last; each row holds the same prompt's answers
    rows = page.split("<tr>")[2:]
    assert "In English &lt;b&gt;" in rows[0] and "Auf Deutsch." in rows[0]
    assert "Gut gut gut" in rows[1] and "invalid: repetitive" in rows[1]
    assert "prompt monolingual en 0" in rows[2]
    assert side_by_side_section([before, other]) == ""  # nothing answered the same prompts
