"""The shared-data fixtures: a missing LCB directory skips locally but fails under CI (issue 12, bug 7).

Each case runs a one-test file against a copy of the real `tests/conftest.py` in a child pytest, with
`LANGLOCK_LCB_DIR` and `CI` set in its environment.
"""

from __future__ import annotations

from pathlib import Path

import pytest

CONFTEST = Path(__file__).with_name("conftest.py")

USES_LCB_DIR = """
def test_needs_lcb(lcb_dir):
    assert (lcb_dir / "outputs").is_dir()
"""

USES_HELPER = """
from conftest import missing_required_data

def test_needs_gguf():
    missing_required_data("packaged GGUF not installed")
"""


def _run(pytester, monkeypatch, body: str, lcb: Path, ci: str | None):
    pytester.makeconftest(CONFTEST.read_text(encoding="utf-8"))
    pytester.makepyfile(test_child=body)
    monkeypatch.setenv("LANGLOCK_LCB_DIR", str(lcb))
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rsf")


@pytest.mark.parametrize("ci", [None, "", "false", "0"])
def test_missing_lcb_data_is_a_skip_outside_ci(pytester, monkeypatch, tmp_path, ci):
    result = _run(pytester, monkeypatch, USES_LCB_DIR, tmp_path / "no-such-lcb", ci)
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*shared LCB data not found at*no-such-lcb*"])


@pytest.mark.parametrize("ci", ["true", "1", "yes"])
def test_missing_lcb_data_fails_under_ci(pytester, monkeypatch, tmp_path, ci):
    result = _run(pytester, monkeypatch, USES_LCB_DIR, tmp_path / "no-such-lcb", ci)
    result.assert_outcomes(errors=1)  # the fixture fails during setup: reported as an error, never a skip
    result.stdout.fnmatch_lines(["*shared LCB data not found at*no-such-lcb*CI is set, so this test must run*"])


def test_present_lcb_data_runs_the_test_under_ci(pytester, monkeypatch, tmp_path):
    (tmp_path / "lcb" / "outputs").mkdir(parents=True)
    result = _run(pytester, monkeypatch, USES_LCB_DIR, tmp_path / "lcb", "true")
    result.assert_outcomes(passed=1)


@pytest.mark.parametrize(("ci", "outcome"), [(None, {"skipped": 1}), ("true", {"failed": 1})])
def test_other_shared_data_helper_follows_ci(pytester, monkeypatch, tmp_path, ci, outcome):
    result = _run(pytester, monkeypatch, USES_HELPER, tmp_path, ci)
    result.assert_outcomes(**outcome)
    result.stdout.fnmatch_lines(["*packaged GGUF not installed*"])
