"""The adapter study (`langlock adapters study`) and compare's joint adapter, end to end on a tiny model:
every (N, variant, rank, seed) cell in the table, routing / merge / joint semantics, and a rerun that does
nothing; the retained-gain arithmetic on hand-made cells."""

from __future__ import annotations

import csv
import json

import pytest

pytest.importorskip("torch")

from _compare_data_fixtures import DATA_SETTINGS, seed_data  # noqa: E402
from langlock.adapters.study import VARIANTS, StudyConfig, cell_name, run_study  # noqa: E402
from langlock.adapters.study_report import gain_table, retained_gain  # noqa: E402
from langlock.errors import UsageError  # noqa: E402

from _baseline_fixtures import tiny_model  # noqa: E402


def study_config(tmp_path, **kw) -> StudyConfig:
    model = str(tiny_model(tmp_path))
    out = tmp_path / "study"
    seed_data(out / "data", model, "ko")
    seed_data(out / "data-ja", model, "ja")
    settings = {**DATA_SETTINGS, "train": {"max_steps": 1, "per_device_train_batch_size": 2, "learning_rate": 1e-2,
                                           "max_length": 64},
                "eval_limit": 1, "eval_max_new_tokens": 6, "retention_limit": 1, "retention_langs": "en",
                "batch_size": 8}
    return StudyConfig(model=model, languages=["ko", "ja"], output_dir=str(out), settings=settings,
                       **{"ranks": [4], "curve_seeds": [0], "seeds": [0], **kw})


def test_adapters_study_end_to_end_every_cell_and_rerun_does_nothing(tmp_path, monkeypatch):
    cfg = study_config(tmp_path)
    out = tmp_path / "study"
    result = run_study(cfg)
    names = {cell_name(*key) for key in cfg.cells()}
    assert len(names) == 1 + 2 * len(VARIANTS)  # the base, and N = 1, 2 x six variants at rank 4, seed 0
    cells = {c["name"]: c for c in result["cells"]}
    assert set(cells) == names and result["kind"] == "adapter-study"
    md = (out / "study.md").read_text(encoding="utf-8")
    with open(out / "study.csv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    for name, c in cells.items():
        assert f"| {name} |" in md
        assert {r["language"] for r in rows if r["cell"] == name} == set(c["languages"])
        assert all(c["metrics"][lang]["lcb_lpr"] is not None for lang in c["languages"])
    assert (out / "study.png").stat().st_size > 0
    assert "## Headline: all 2 languages" in md and "## Interference" in md

    # routed: each row answered by its language's fix, English by the base
    gens = [json.loads(x) for x in (out / "cells/N2-routed-oracle-r4-s0/eval/confusion/generations.jsonl")
            .read_text(encoding="utf-8").splitlines()]
    assert {(g["language"], g["adapter"]) for g in gens} == {("ko", "ko"), ("ja", "ja"), ("en", "__base__")}
    assert cells["N2-routed-oracle-r4-s0"]["metrics"]["ko"].get("mc_acc") is None  # no retention when routed
    # routing accuracy, separate from the pass rates: the oracle routes every prompt to its language's fix
    routing = cells["N2-routed-oracle-r4-s0"]["routing"]
    assert (routing["route"], routing["adapter_accuracy"], routing["misrouted"]) == ("oracle", 1.0, {})
    assert routing["n"] == len(gens) and "routing" not in cells["N2-linear-r4-s0"]
    assert "## Routing: which adapter answered each prompt" in md and "| N2-routed-requested-r4-s0 | requested |" in md
    # a cell written before routing was recorded gets it from its evaluation
    from langlock.adapters.study import read_cell

    path = out / "cells/N2-routed-oracle-r4-s0/cell.json"
    old = json.loads(path.read_text(encoding="utf-8"))
    path.write_text(json.dumps({k: v for k, v in old.items() if k != "routing"}), encoding="utf-8")
    assert read_cell(path) == old
    path.write_text(json.dumps(old), encoding="utf-8")
    assert cells["N2-linear-r4-s0"]["metrics"]["ko"]["mc_acc"] is not None
    # parameters: CAT adds the ranks (= the two fixes together), linear keeps one rank, joint is one fix's size
    fix = cells["N1-routed-oracle-r4-s0"]["params"]
    assert fix > 0 and cells["N2-routed-oracle-r4-s0"]["params"] == 2 * fix
    assert cells["N2-cat-r4-s0"]["params"] == 2 * fix
    assert cells["N2-linear-r4-s0"]["params"] == cells["N2-ties-r4-s0"]["params"] == cells["N2-joint-r4-s0"]["params"] == fix
    # the joint adapter: one run on both languages' pooled SFT rows, twice a fix's steps (scaled budget)
    joint = json.loads((out / "r4/s0/joint-2/results.json").read_text(encoding="utf-8"))
    ko_fix = json.loads((out / "r4/s0/fix-ko/results.json").read_text(encoding="utf-8"))
    ja_fix = json.loads((out / "r4/s0/fix-ja/results.json").read_text(encoding="utf-8"))
    assert joint["num_rows"] == ko_fix["num_rows"] + ja_fix["num_rows"] and joint["language"] is None
    assert (joint["global_step"], ko_fix["global_step"], ko_fix["language"]) == (2, 1, "ko")
    lib = json.loads((out / "r4/s0/library/library.json").read_text(encoding="utf-8"))
    entries = {e["name"]: e for e in lib["adapters"]}
    assert entries["joint-2"]["languages"] == ["ja", "ko"] and entries["cat-2"]["rank"] == 8
    assert entries["ties-2"]["merge"]["density"] == 0.5

    # rerun: every cell is finished, nothing is trained, merged or evaluated again
    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("cell.json")}
    lib_stamp = (out / "r4/s0/library/library.json").stat().st_mtime_ns

    def boom(*a, **k):
        raise AssertionError("a finished cell was redone")

    monkeypatch.setattr("langlock.train.run", boom)
    monkeypatch.setattr("langlock.bench.runner.run_bench", boom)
    monkeypatch.setattr("langlock.adapters.merge.merge_adapters", boom)
    again = run_study(cfg)
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps and len(stamps) == len(names)
    assert (out / "r4/s0/library/library.json").stat().st_mtime_ns == lib_stamp
    assert again["cells"] == result["cells"] and again["retained_gain"] == result["retained_gain"]
    only = run_study(cfg, report_only=True)
    assert sorted(c["name"] for c in only["cells"]) == sorted(names) and only["retained_gain"] == result["retained_gain"]
    # `langlock report` reads the study folder: every cell's evaluation
    from langlock.report.runs import load_run

    assert {r.name.split("/")[1] for r in load_run(out)} == names


def test_adapters_study_cli_bad_config_is_exit_2(tmp_path, capsys):
    from langlock.cli.main import main

    f = tmp_path / "s.yaml"
    f.write_text(f"model: m\nlanguages: [de, xx]\noutput_dir: {tmp_path / 'o'}\n")
    assert main(["adapters", "study", "--config", str(f)]) == 2
    assert "xx" in capsys.readouterr().err and not (tmp_path / "o" / "results.json").exists()


def test_compare_joint_adapter_pools_the_languages_and_is_evaluated_on_the_target(tmp_path):
    from langlock.compare import CompareConfig, run_compare

    model = str(tiny_model(tmp_path))
    out = tmp_path / "cmp"
    seed_data(out / "data", model, "ko")
    seed_data(out / "data-ja", model, "ja")
    cfg = CompareConfig(model=model, language="ko", output_dir=str(out), methods=["joint-sft"], seeds=[0],
                        joint_languages=["ko", "ja"], **DATA_SETTINGS,
                        train={"max_steps": 1, "per_device_train_batch_size": 2, "lora_r": 4, "max_length": 64},
                        eval_limit=1, eval_max_new_tokens=6, retention=False, batch_size=8)
    summary = run_compare(cfg)
    row = summary["rows"][0]
    assert row["method"] == "joint-sft" and row["lcb_lpr"]["values"][0] is not None
    manifest = json.loads((out / "runs/joint-sft/seed0/results.json").read_text(encoding="utf-8"))
    pooled = out / "data-joint-ko-ja"
    sft = [json.loads(x) for x in (pooled / "sft.jsonl").read_text(encoding="utf-8").splitlines()]
    assert {r["language"] for r in sft} == {"ko", "ja"}
    assert manifest["method"] == "sft" and manifest["num_rows"] == len(sft) and manifest["language"] is None
    assert manifest["data"] == str(pooled / "sft.jsonl")
    ev = json.loads((out / "runs/joint-sft/seed0/eval/results.json").read_text(encoding="utf-8"))
    assert ev["plan"]["target"] == "ko"
    with pytest.raises(UsageError, match="must include the target"):
        CompareConfig(model=model, language="ko", output_dir="o", joint_languages=["ja"])


def test_retained_gain_arithmetic_on_hand_made_cells():
    assert retained_gain(0.7, 0.5, 0.9, 0.05) == pytest.approx(0.5)
    assert retained_gain(0.4, 0.5, 0.9, 0.05) == pytest.approx(-0.25)
    assert retained_gain(0.7, 0.5, 0.52, 0.05) is None  # the fix alone gained nothing to keep
    assert retained_gain(0.2, 0.5, 0.4, 0.05) is None  # the fix alone lowered its language: no gain to keep
    assert retained_gain(None, 0.5, 0.9, 0.05) is None

    def cell(n, variant, seed, **lpr):
        return {"name": cell_name(n, variant, 8, seed), "n": n, "variant": variant, "rank": 8, "seed": seed,
                "metrics": {lang: {"lcb_lpr": v} for lang, v in lpr.items()}}

    cells = [cell(0, "base", 0, de=0.5, es=0.2), cell(1, "routed-oracle", 0, de=0.9),
             cell(2, "routed-oracle", 0, de=0.9, es=0.6), cell(2, "ties", 0, de=0.7, es=0.3)]
    cells[0]["name"] = "base-s0"
    gains = gain_table(cells, "lcb_lpr", 0.05)
    assert gains["N2-ties-r8-s0"] == pytest.approx({"de": 0.5, "es": 0.25})
    assert gains["N2-routed-oracle-r8-s0"] == pytest.approx({"de": 1.0, "es": 1.0})


def test_study_config_errors(tmp_path):
    with pytest.raises(UsageError, match="unknown variant"):
        StudyConfig(model="m", languages=["de"], output_dir="o", variants=["dare"])
    with pytest.raises(UsageError, match="sets language itself"):
        StudyConfig(model="m", languages=["de"], output_dir="o", settings={"language": "de"})
    with pytest.raises(UsageError, match="distinct non-English"):
        StudyConfig(model="m", languages=["de", "de"], output_dir="o")
    f = tmp_path / "s.yaml"
    f.write_text("model: m\nlanguages: [de]\noutput_dir: o\neval_limitt: 3\n")
    with pytest.raises(UsageError, match="unknown key"):
        StudyConfig.from_yaml(f)
    f.write_text("model: m\nlanguages: [de, es]\noutput_dir: o\neval_limit: 3\nranks: [8]\n")
    cfg = StudyConfig.from_yaml(f)
    assert cfg.settings == {"eval_limit": 3}
    # bases of seeds 0, 1, 2; N = 1, 2 at the curve seed 0; N = 2 only at the headline seeds 1, 2
    assert len(cfg.cells()) == 3 + (2 + 1 + 1) * len(VARIANTS)
    # headline seeds at rank 8 only: rank 32 has the curve seed alone
    two = StudyConfig(model="m", languages=["de", "es"], output_dir="o", ranks=[8, 32], headline_ranks=[8],
                      variants=["linear"])
    assert [(n, r, s) for n, v, r, s in two.cells() if v != "base"] == [
        (1, 8, 0), (2, 8, 0), (2, 8, 1), (2, 8, 2), (1, 32, 0), (2, 32, 0)]
    with pytest.raises(UsageError, match="headline_ranks"):
        StudyConfig(model="m", languages=["de"], output_dir="o", ranks=[8], headline_ranks=[16])


def test_study_workers_share_cells_a_held_cell_is_skipped_then_finished(tmp_path):
    """Two workers of one study: a cell another live process holds is skipped (its report covers the rest and
    says so), and the next run finishes it."""
    from _lock_fixtures import start_holder, stop

    cfg = study_config(tmp_path, variants=["routed-oracle", "linear"])
    out = tmp_path / "study"
    held = out / "cells" / cell_name(2, "linear", 4, 0)
    holder = start_holder(held)
    try:
        first = run_study(cfg)
    finally:
        stop(holder)
    names = {cell_name(*key) for key in cfg.cells()}
    assert {c["name"] for c in first["cells"]} == names - {held.name}
    assert not (held / "cell.json").exists()
    second = run_study(cfg)
    assert {c["name"] for c in second["cells"]} == names and (held / "cell.json").is_file()
    kept = {c["name"]: c for c in second["cells"]}
    assert all(kept[c["name"]] == c for c in first["cells"])  # the first worker's cells are reused, not redone


def test_study_worker_leaves_a_cell_whose_step_is_held_for_later(tmp_path):
    """A worker that finds a shared step (here the Japanese fix at rank 4) held by another process goes on
    with the cells that do not need it, and comes back for the rest once the step is free."""
    import threading
    import time

    from _lock_fixtures import start_holder, stop

    cfg = study_config(tmp_path, variants=["routed-oracle", "linear"], ranks=[4, 8])
    out = tmp_path / "study"
    holder = start_holder(out / "r4" / "s0" / "fix-ja")
    free = [out / "cells" / cell_name(n, v, 8, 0) / "cell.json" for n in (1, 2) for v in cfg.variants]
    released = {}

    def release_when_the_free_cells_are_done():
        deadline = time.monotonic() + 180
        while not all(p.is_file() for p in free) and time.monotonic() < deadline:
            time.sleep(0.2)
        released["at"] = time.time_ns()
        stop(holder)

    watcher = threading.Thread(target=release_when_the_free_cells_are_done)
    watcher.start()
    try:
        result = run_study(cfg)
    finally:
        watcher.join()
    assert {c["name"] for c in result["cells"]} == {cell_name(*key) for key in cfg.cells()}
    blocked = [out / "cells" / cell_name(2, v, 4, 0) / "cell.json" for v in cfg.variants]
    assert all(p.stat().st_mtime_ns < released["at"] for p in free)  # done while the step was held
    assert all(p.stat().st_mtime_ns > released["at"] for p in blocked)  # done after it was free
