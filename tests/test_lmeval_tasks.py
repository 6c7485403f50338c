"""The LCB tasks for lm-evaluation-harness (src/langlock/lmeval/tasks): lm-eval finds and builds them from the
include path, their metric equals `langlock score` on the same completions, and (slow) `lm_eval` run offline on
a tiny model writes samples that `langlock score` scores to the numbers lm-eval reported."""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from langlock.cli.main import main
from langlock.errors import InputError
from langlock.lcb import fetch
from langlock.lmeval import include_path
from langlock.score.metrics import score_records
from langlock.score.records import read_records

from tiny_models import make_model_dir

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(importlib.util.find_spec("lm_eval") is None,
                                reason="lm-eval is not installed (the `lmeval` extra; make install has it)")


def _utils():
    spec = importlib.util.spec_from_file_location("lcb_task_utils", include_path() / "utils.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture
def fetched(lcb_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("LANGLOCK_CACHE", str(tmp_path / "cache"))
    fetch(lcb_dir)
    return tmp_path / "cache"


def test_lm_eval_path_lists_every_task_and_group(capsys):
    from lm_eval.tasks import TaskManager

    assert main(["lm-eval-path"]) == 0
    path = Path(capsys.readouterr().out.strip())
    assert path == include_path() and path.is_dir()
    names = set(TaskManager(include_path=str(path), include_defaults=False).all_tasks)
    ours = {n for n in names if n.startswith("lcb_")}
    assert {"lcb_crosslingual_ko", "lcb_monolingual_en", "lcb_language_confusion",
            "lcb_language_confusion_crosslingual", "lcb_language_confusion_monolingual"} <= ours
    assert len([n for n in ours if n.startswith(("lcb_monolingual_", "lcb_crosslingual_"))]) == 15 + 14


def test_task_reads_the_fetched_test_set_and_needs_the_cache(fetched, lcb_dir, monkeypatch, tmp_path):
    from lm_eval.tasks import TaskManager, get_task_dict

    tasks = get_task_dict(["lcb_crosslingual_ko"], TaskManager(include_path=str(include_path()), include_defaults=False))
    docs = list(tasks["lcb_crosslingual_ko"].test_docs())
    with open(lcb_dir / "test_sets/crosslingual/okapi/ko.csv", newline="", encoding="utf-8") as fh:
        okapi = list(csv.DictReader(fh))
    assert len(docs) == 1386 // 14 + 1400 // 14 + 1400 // 14  # the three cross-lingual sources, ko rows
    assert [d["prompt"] for d in docs if d["source"] == okapi[0]["source"]] == [r["prompt"] for r in okapi]
    monkeypatch.setenv("LANGLOCK_CACHE", str(tmp_path / "empty"))
    with pytest.raises(InputError, match="run `langlock lcb fetch`"):
        _utils().load_test_set(task="crosslingual", language="ko")


@pytest.mark.parametrize("lang", ["ko", "fr"])
def test_metric_equals_langlock_score_on_released_outputs(lcb_dir, lang):
    """The tasks' process_results + aggregation give `langlock score`'s per-language numbers."""
    utils = _utils()
    recs = [r for r in read_records([lcb_dir / "outputs" / "llama-2-instruct.csv"])
            if r.task == "crosslingual" and r.language == lang]
    items = [utils.process_results({"source": r.source, "language": r.language}, [r.completion])["lpr"]
             for r in recs]
    report = score_records(recs, "lcb", n_boot=0)
    row = next(r for r in report.rows if r.level == "language")
    assert 0.0 < row.metrics["lpr"] < 1.0  # not a trivial case
    assert utils.lpr(items) == row.metrics["lpr"] and utils.lcpr(items) == row.metrics["lcpr"]
    assert utils.wpr(items) == row.metrics["wpr"]  # None for fr: WPR does not apply
    # a task returns exactly the metrics its YAML lists (a group run fails on an unlisted one)
    assert set(utils.process_results(recs[0].to_dict(), [recs[0].completion])) == \
        ({"lpr", "wpr", "lcpr"} if lang == "ko" else {"lpr", "lcpr"})


@pytest.mark.slow  # ~50 s on a busy 2-core machine: lm_eval's start-up
def test_lm_eval_command_offline_and_its_samples_score_identically(fetched, tmp_path):
    model = make_model_dir(tmp_path / "tiny")
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
           "TRANSFORMERS_OFFLINE": "1", "LANGLOCK_CACHE": str(fetched)}
    lm_eval = Path(sys.executable).with_name("lm_eval")
    res = subprocess.run([str(lm_eval), "--model", "hf", "--model_args", f"pretrained={model}", "--tasks",
                          "lcb_crosslingual_ko", "--include_path", str(include_path()), "--limit", "4",
                          "--gen_kwargs", "max_gen_toks=24", "--log_samples", "--output_path", str(out)],
                         capture_output=True, text=True, env=env, timeout=600, cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    reported = json.loads(next(out.rglob("results_*.json")).read_text())["results"]["lcb_crosslingual_ko"]
    samples = next(out.rglob("samples_lcb_crosslingual_ko_*.jsonl"))
    scored = subprocess.run([sys.executable, "-m", "langlock", "score", str(samples), "--format", "json",
                             "--bootstrap", "0"], capture_output=True, text=True, env=env, timeout=300)
    assert scored.returncode == 0, scored.stderr
    row = next(r for r in json.loads(scored.stdout)["rows"] if r["level"] == "language")
    assert row["task"] == "crosslingual" and row["language"] == "ko" and row["n"] == 4
    for m in ("lpr", "wpr", "lcpr"):
        assert reported[f"{m},none"] == row[m], m
    bad = subprocess.run([str(lm_eval), "--model", "hf", "--model_args", f"pretrained={model}", "--tasks",
                          "lcb_crosslingual_xx", "--include_path", str(include_path()), "--limit", "1"],
                         capture_output=True, text=True, env=env, timeout=600, cwd=tmp_path)
    assert bad.returncode != 0 and "lcb_crosslingual_xx" in bad.stderr + bad.stdout


def test_shipped_yamls_are_what_the_generator_writes():
    sys.path.insert(0, str(REPO / "scripts"))
    try:
        import make_lmeval_tasks as gen
    finally:
        sys.path.remove(str(REPO / "scripts"))
    tasks = include_path()
    assert (tasks / "_lcb_template_yaml").read_text(encoding="utf-8") == gen.TEMPLATE
    assert (tasks / "lcb_crosslingual_ko.yaml").read_text(encoding="utf-8") == gen.task_yaml("crosslingual", "ko")
    fr = (tasks / "lcb_monolingual_fr.yaml").read_text(encoding="utf-8")
    assert fr == gen.task_yaml("monolingual", "fr") and "wpr" not in fr
