"""The analysis scripts under scripts/ on small hand-made compare folders."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(script: str, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "scripts" / script), *map(str, args)],
                          capture_output=True, text=True, timeout=120)


def _metrics(root: Path, method: str, seed: int, **values):
    d = root / "runs" / method / f"seed{seed}"
    d.mkdir(parents=True)
    (d / "metrics.json").write_text(json.dumps(values), encoding="utf-8")
    return d


def test_paired_delta_pairs_by_seed(tmp_path):
    for seed, (b, t) in enumerate([(0.40, 0.60), (0.50, 0.60), (0.30, 0.60)]):
        _metrics(tmp_path, "base", seed, lcb_lpr_cross=b, en_lpr=1.0, kl_en=0.0)
        _metrics(tmp_path, "tlpo", seed, lcb_lpr_cross=t, en_lpr=1.0, kl_en=0.05)
    _metrics(tmp_path, "tlpo", 7, lcb_lpr_cross=1.0, en_lpr=1.0, kl_en=0.0)  # no base for seed 7: left out
    res = _run("paired_delta.py", tmp_path)
    assert res.returncode == 0, res.stderr
    rows = {line.split("|")[1].strip(): line for line in res.stdout.splitlines()}
    # differences +20, +10, +30: mean +20, t(0.975, 2) = 4.303, sd 10 -> half width 24.8
    assert "+20.0 ± 24.8" in rows["cross-lingual LPR (LCB)"] and "+20.0 / +10.0 / +30.0" in rows["cross-lingual LPR (LCB)"]
    assert "+0.0 ± 0.0" in rows["English LPR (LCB)"] and "+0.050" in rows["KL(model ‖ base), English"]
    assert "seeds 0, 1, 2 " in res.stdout
    assert _run("paired_delta.py", tmp_path, "--method", "dpo").returncode == 2


def test_answer_shapes_counts_repetitive_noise_per_language(tmp_path):
    d = _metrics(tmp_path, "tlpo", 0) / "eval" / "confusion"
    d.mkdir(parents=True)
    rows = [{"language": "ko", "completion": "새로운 " * 30}, {"language": "ko", "completion": "안녕하세요"},
            {"language": "en", "completion": "A plain, short and ordinary English answer to a question."}]
    (d / "generations.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    res = _run("answer_shapes.py", tmp_path, "--repetitive")
    assert res.returncode == 0, res.stderr
    assert "| tlpo | 0 | ko | 2 | 50.0 % |" in res.stdout and "| tlpo | 0 | en | 1 | 0.0 % |" in res.stdout


def _samples(root: Path, method: str, rows: list[dict]):
    d = root / "runs" / method / "seed0" / "eval" / "confusion" / "lcb"
    d.mkdir(parents=True)
    (d / "samples.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def _sample(i: int, completion: str, status: str, valid: bool = True, language: str = "ja",
            task: str = "crosslingual") -> dict:
    return {"task": task, "source": "okapi", "language": language, "id": str(i), "prompt": f"Request {i}. " * 40,
            "completion": completion, "valid": valid, "invalid_reasons": [] if valid else ["echo"],
            "detection": {"status": status, "lines": [{"judged": True, "lang": "ja" if status == "pass" else "en"}]}}


def test_answer_pairs_prints_the_same_draw_unedited(tmp_path):
    before = [_sample(i, f"English answer {i}\n```code```", "fail") for i in range(6)]
    after = [_sample(i, f"日本語の答え {i}\n\n二行目", "pass", valid=i != 3) for i in range(5)]  # id 5 unanswered
    after.append(_sample(9, "other language", "pass", language="ko"))
    _samples(tmp_path, "base", before + [_sample(0, "mono", "pass", task="monolingual")])
    _samples(tmp_path, "tlpo", after)
    args = ("answer_pairs.py", tmp_path, "--language", "ja", "--n", "3", "--prompt-chars", "30")
    res = _run(*args)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("3 of 5 ja crosslingual prompts drawn with random.Random(0)")
    assert _run(*args).stdout == res.stdout  # the same draw every time
    drawn = [line.split("`")[1] for line in res.stdout.splitlines() if line.startswith("### ")]
    assert len(drawn) == 3 and all(k.startswith("crosslingual/okapi/") and k != "crosslingual/okapi/5" for k in drawn)
    i = drawn[0].rsplit("/", 1)[1]
    assert f"日本語の答え {i}\n\n二行目" in res.stdout  # answers in full, newlines kept
    assert f"````text\nEnglish answer {i}\n```code```\n````" in res.stdout  # a fence the answer cannot close
    assert "Request 0. Request 0. Request 0" not in res.stdout and "more characters]" in res.stdout
    assert "**tlpo** (LCB pass (first judged line: ja); valid)" in res.stdout or "invalid: echo" in res.stdout
    assert _run("answer_pairs.py", tmp_path, "--language", "ja", "--n", "6").returncode == 2  # only 5 shared
    assert _run("answer_pairs.py", tmp_path, "--language", "ja", "--methods", "base,dpo").returncode == 2


def test_answer_shapes_counts_title_case_and_openings_per_task_and_language(tmp_path):
    d = _metrics(tmp_path, "tlpo", 0) / "eval" / "confusion"
    d.mkdir(parents=True)
    rows = [{"task": "crosslingual", "language": "ja", "completion": "To Make A Knife: Step One, Sharpen The Blade Well"},
            {"task": "crosslingual", "language": "ja", "completion": "This answer is plain English with lowercase words"},
            {"task": "crosslingual", "language": "ja", "completion": "日本語の答え Tokyo"},  # too few Latin words
            {"task": "monolingual", "language": "en", "completion": "Here Is Another Capitalised Answer About Knives"}]
    (d / "generations.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    res = _run("answer_shapes.py", tmp_path)
    assert res.returncode == 0, res.stderr
    assert "| tlpo | 0 | crosslingual | ja | 2 | 1 (50.0 %) |" in res.stdout
    assert "| tlpo | 0 | monolingual | en | 1 | 1 (100.0 %) |" in res.stdout
    assert _run("answer_shapes.py", tmp_path / "none").returncode == 2
    res = _run("answer_shapes.py", tmp_path, "--first-words", "2")
    assert res.returncode == 0, res.stderr
    assert '| tlpo | 0 | crosslingual | ja | 3 | 2 | "To" 1, "This" 1 |' in res.stdout
    assert '| tlpo | 0 | monolingual | en | 1 | 1 | "Here" 1 |' in res.stdout
    res = _run("answer_shapes.py", tmp_path, "--opens-with", "To")
    assert '| tlpo | 0 | crosslingual | ja | 3 | 1 |' in res.stdout and '| tlpo | 0 | monolingual | en | 1 | 0 |' in res.stdout


def test_head_to_head_table_means_intervals_and_the_base_vs_best_check(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model": "m", "language": "ja", "output_dir": "elsewhere"}),
                                          encoding="utf-8")
    for seed, (b, s) in enumerate([(0.0, 0.5), (0.10, 0.6), (0.05, 0.55)]):
        _metrics(tmp_path, "base", seed, cpr_cross=b, mc_acc=0.70 + seed / 100)
        _metrics(tmp_path, "sft", seed, cpr_cross=s, mc_acc=0.69 + seed / 100)
    _metrics(tmp_path, "dpo", 0, cpr_cross=0.3)
    res = _run("head_to_head_table.py", tmp_path)
    assert res.returncode == 0, res.stderr
    rows = {line.split("|")[1].strip(): line for line in res.stdout.splitlines() if line.startswith("| ")}
    # sd 5 points, t(0.975, 2) = 4.303: half width 4.303 * 5 / sqrt(3) = 12.4; MC paired by seed: -1 every seed
    assert "| 55.0 ± 12.4 |" in rows["sft"] and "| -1.0 ± 0.0 |" in rows["sft"] and rows["sft"].endswith("| 0,1,2 |")
    assert "| 5.0 ± 12.4 |" in rows["base"] and "| 30.0 |" in rows["dpo"]
    assert "best cross-lingual CPR: sft." in res.stdout and "Intervals do not overlap." in res.stdout
    assert "margin: sft − dpo (paired by seed, seeds 0): cross CPR +20.0 points: no interval." in res.stdout
    for seed, cpr in ((1, 0.3), (2, 0.4)):  # sft − dpo by seed: +20, +30, +15: mean 21.7, sd 7.6, half 19.0
        _metrics(tmp_path, "dpo", seed, cpr_cross=cpr)
    assert "cross CPR +21.7 [+2.7, +40.6] points: apart." in _run("head_to_head_table.py", tmp_path).stdout
    _metrics(tmp_path, "tlpo", 0, cpr_cross=0.9)  # the best now has one seed: no interval to compare
    assert "No interval before 2 seeds." in _run("head_to_head_table.py", tmp_path).stdout
    assert _run("head_to_head_table.py", tmp_path / "runs").returncode == 2


def _retention(run: Path, correct: list[bool], base_correct: list[bool], drift: float) -> None:
    d = run / "eval" / "retention"
    d.mkdir(parents=True)
    items = [{"id": f"en-fact-{i}", "correct": c, "base_correct": b}
             for i, (c, b) in enumerate(zip(correct, base_correct))]
    items.append({"id": "ko-fact-0", "correct": False, "base_correct": True})  # another language: not counted
    nll = {"en": {"n": 16, "nll_per_byte": 1.0 + drift, "base_nll_per_byte": 1.0, "drift": {"mean": drift}}}
    (d / "results.json").write_text(json.dumps({"schema": "langlock.results", "schema_version": 2, "kind": "bench",
                                                "retention": {"likelihood": {"mc": {"items": items},
                                                                             "nll": {"by_language": nll}}}}),
                                    encoding="utf-8")


def test_head_to_head_table_checks_the_issue_targets(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model": "m", "language": "ko", "output_dir": "x"}),
                                          encoding="utf-8")
    base_correct = [True] * 50 + [False] * 50
    for seed, (cpr, vr, drift) in enumerate([(0.30, 0.96, 0.002), (0.32, 0.97, 0.003), (0.34, 0.98, 0.004)]):
        _metrics(tmp_path, "base", seed, cpr_cross=0.0, vr_cross=0.97)
        run = _metrics(tmp_path, "tlpo", seed, cpr_cross=cpr, vr_cross=vr)
        # every seed loses items 0-1 and wins item 50 on seed 0 only: per item over seeds -2 + 1/3 points
        correct = [i >= 2 for i in range(50)] + [seed == 0 and i == 0 for i in range(50)]
        _retention(run, correct, base_correct, drift)
    lines = [x for x in _run("head_to_head_table.py", tmp_path).stdout.splitlines() if x.startswith("- ")]
    cpr, vr, mc, nll = lines
    # CPR +30, +32, +34: mean +32, half width 4.303 * 2 / sqrt(3) = 5.0, the interval above 20
    assert "+32.0 points [+27.0, +37.0]" in cpr and cpr.endswith(": met")
    assert "+0.0 points [-2.5, +2.5]" in vr and vr.endswith("met, within noise")
    assert "-1.7 points" in mc and "100 English items" in mc and mc.endswith(": met, within noise")
    assert "+0.3 % [+0.1, +0.5]" in nll and nll.endswith(": met")
    # one seed: no interval, said so
    for seed in (1, 2):
        for method in ("base", "tlpo"):
            shutil.rmtree(tmp_path / "runs" / method / f"seed{seed}")
    out = _run("head_to_head_table.py", tmp_path, "--targets", "tlpo").stdout
    assert "targets for tlpo (seeds 0;" in out and "+30.0 points (paired by seed): met (no interval)" in out and "VR -1.0 points (paired by seed): not met (no interval)" in out
