"""`langlock data instruct`: SFT rows from the benchmark's strong-model answers, with every cross-lingual
prompt, every prompt of the held-out languages and sources, and anything overlapping them kept out."""

from __future__ import annotations

import csv
import json

import pytest

from langlock.cli.main import main
from langlock.databuild.instruct import InstructSettings, build_instruct
from langlock.errors import UsageError

ZH = ["请解释一下为什么天空是蓝色的。", "怎样才能睡得更好？", "请介绍一下长城的历史。"]
ZH_ANSWERS = ["天空是蓝色的，因为大气中的分子更容易散射波长较短的蓝光，所以我们从各个方向都能看到蓝光。",
              "Sleep better by keeping a regular schedule and avoiding screens before bed.",  # wrong language
              "请介绍一下长城的历史。请介绍一下长城的历史。"]  # echoes the prompt twice
KO = ["잠을 더 잘 자려면 어떻게 해야 하나요?"]
CROSS = "Reply in Korean. How can I keep my houseplants healthy and green all year?"
ES_DUP = "How can I keep my houseplants healthy and green all year?"  # the cross-lingual question, asked in es data


def _csv(path, header, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)


@pytest.fixture
def mini_lcb(tmp_path):
    root = tmp_path / "lcb"
    t = root / "test_sets"
    _csv(t / "monolingual" / "aya" / "zh.csv", ["prompt", "source", "language"],
         [[q, "aya_human_annotated", "zh"] for q in ZH])
    _csv(t / "monolingual" / "native" / "ko.csv", ["prompt", "source", "language"], [[KO[0], "native_prompts", "ko"]])
    _csv(t / "monolingual" / "dolly" / "es.csv", ["prompt", "source", "language"],
         [[ES_DUP, "dolly_human_edited", "es"], ["¿Cuál es la capital de Francia y por qué es famosa?",
                                                  "dolly_human_edited", "es"]])
    _csv(t / "crosslingual" / "okapi" / "ko.csv", ["prompt", "location", "phrasing", "language", "source"],
         [[CROSS, "start", "1", "ko", "okapi"]])
    rows = [[i, "cr", a, "monolingual", "aya_human_annotated", "zh"] for i, a in enumerate(ZH_ANSWERS)]
    rows += [[0, "cr", "충분히 자고 규칙적인 시간에 잠자리에 드세요.", "monolingual", "native_prompts", "ko"],
             [0, "cr", "Riega las plantas cuando la tierra esté seca y dales mucha luz natural.", "monolingual",
              "dolly_human_edited", "es"],
             [1, "cr", "La capital de Francia es París, famosa por la torre Eiffel, sus museos y su cocina.",
              "monolingual", "dolly_human_edited", "es"],
             [0, "cr", "식물이 건강하려면 빛과 물이 필요합니다.", "crosslingual", "okapi", "ko"]]
    _csv(root / "outputs" / "cr.csv", ["id", "model", "completion", "task", "source", "language"], rows)
    return root


def test_held_out_prompts_never_become_training_rows(mini_lcb, tmp_path):
    st = build_instruct(InstructSettings(lcb_dir=str(mini_lcb), outputs_model="cr", holdout_langs=("ko",),
                                         holdout_sources=()), tmp_path / "out")
    rows = [json.loads(x) for x in (tmp_path / "out" / "sft.jsonl").read_text(encoding="utf-8").splitlines()]
    got = {(r["language"], r["prompt"][0]["content"]) for r in rows}
    # the Korean answers (held-out language, both tasks) and the es prompt that repeats the cross-lingual
    # question are out; the wrong-language and the echo answer are filtered
    assert got == {("zh", ZH[0]), ("es", "¿Cuál es la capital de Francia y por qué es famosa?")}
    assert st["dropped"] == {"answers": 5, "overlaps_held_out": 1, "wrong_language": 1, "invalid": 1}
    assert st["held_out_prompts"] == 2 and st["max_overlap_kept"] < 0.3
    assert all(r["completion"][0]["role"] == "assistant" and r["prompt"][0]["role"] == "user" for r in rows)
    # holding out a source removes its rows too
    st2 = build_instruct(InstructSettings(lcb_dir=str(mini_lcb), outputs_model="cr", holdout_langs=("ko",),
                                          holdout_sources=("dolly",)), tmp_path / "out2")
    assert st2["per_language"] == {"zh": 1}


def test_several_teachers_give_one_row_per_model_and_prompt(mini_lcb, tmp_path):
    import shutil

    shutil.copy(mini_lcb / "outputs" / "cr.csv", mini_lcb / "outputs" / "cr2.csv")
    one = build_instruct(InstructSettings(lcb_dir=str(mini_lcb), outputs_model="cr", holdout_langs=("ko",),
                                          holdout_sources=()), tmp_path / "one")
    two = build_instruct(InstructSettings(lcb_dir=str(mini_lcb), outputs_model="cr, cr2", holdout_langs=("ko",),
                                          holdout_sources=()), tmp_path / "two")
    rows = [json.loads(x) for x in (tmp_path / "two" / "sft.jsonl").read_text(encoding="utf-8").splitlines()]
    assert two["rows"] == 2 * one["rows"] and two["per_teacher"] == {"cr": one["rows"], "cr2": one["rows"]}
    assert {r["id"].split(":")[0] for r in rows} == {"cr", "cr2"} and len({r["id"] for r in rows}) == len(rows)
    assert two["dropped"] == {k: 2 * v for k, v in one["dropped"].items()}
    with pytest.raises(UsageError, match="twice"):
        build_instruct(InstructSettings(lcb_dir=str(mini_lcb), outputs_model="cr,cr"), tmp_path / "x")


def test_instruct_bad_input_one_line_exit_2(mini_lcb, tmp_path, capsys):
    for args, msg in ((["--outputs-model", "nope"], "no such outputs file"),
                      (["--holdout-langs", "ko,zh,es"], "no monolingual answers outside"),
                      (["--max-overlap", "0"], "max_overlap")):
        out = tmp_path / "o"
        capsys.readouterr()
        assert main(["data", "instruct", "--lcb-dir", str(mini_lcb), "--outputs-model", "cr", "-o", str(out),
                     *args]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and msg in err[0], err
        assert not out.exists()


def test_real_benchmark_instruct_data_is_disjoint(lcb_dir, tmp_path):
    """On the benchmark itself: no Korean or Japanese row, no cross-lingual or okapi prompt, and no training
    prompt equal to any held-out prompt."""
    from langlock.bench.prompts import load_lcb

    st = build_instruct(InstructSettings(lcb_dir=str(lcb_dir)), tmp_path / "it")
    rows = [json.loads(x) for x in (tmp_path / "it" / "sft.jsonl").read_text(encoding="utf-8").splitlines()]
    assert st["rows"] == len(rows) >= 1000
    assert not {"ko", "ja"} & set(st["per_language"]) and not any("okapi" in s for s in st["per_source"])
    held = {p.prompt.strip() for p in load_lcb(lcb_dir / "test_sets")
            if p.task == "crosslingual" or p.language in ("ko", "ja") or p.source.startswith("okapi")}
    assert not held & {r["prompt"][0]["content"].strip() for r in rows}
