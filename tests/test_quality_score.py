"""`langlock score --quality`: VR/CPR, bootstrap intervals, samples.jsonl fields, bad input, judge errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from langlock.cli.main import main
from langlock.quality.evaluate import roc_auc, valid_rates
from langlock.quality.verdict import Verdict
from langlock.score.intervals import bootstrap_sums, percentile_interval
from langlock.score.metrics import rates, score_records
from langlock.score.records import read_records

GOOD = "잠들기 전에 스마트폰을 멀리 두고 매일 같은 시간에 자고 일어나는 습관을 들이세요. 카페인은 오후에 피하세요."
PROMPT = "밤에 더 빨리 잠들려면 어떻게 해야 하나요?"
ENGLISH = "You should put your phone away before bed and keep a regular schedule every single day of the week."


def test_bootstrap_sums_deterministic_and_correct_shape():
    rows = [[1, 0], [0, 1], [1, 1]]
    a, b = bootstrap_sums(rows, 200, 3), bootstrap_sums(rows, 200, 3)
    assert a.shape == (200, 2) and np.array_equal(a, b)
    assert not np.array_equal(a, bootstrap_sums(rows, 200, 4))
    assert a.min() >= 0 and a.max() <= 3
    assert bootstrap_sums(np.zeros((0, 2)), 5).shape == (5, 2)
    with pytest.raises(ValueError):
        bootstrap_sums([1, 2, 3], 5)


def test_percentile_interval_covers_the_mean_of_a_binomial():
    rng = np.random.default_rng(0)
    rows = (rng.random((400, 1)) < 0.3).astype(float)
    lo, hi = percentile_interval(bootstrap_sums(rows, 2000, 1)[:, 0] / 400)
    assert lo < rows.mean() < hi and 0.03 < hi - lo < 0.12  # ~ 2 x 1.96 x sqrt(.21/400) = 0.09
    assert percentile_interval([np.nan]) is None
    assert percentile_interval([0.5, 0.5]) == (0.5, 0.5)


def test_rates_vr_cpr_scalars_and_arrays():
    c = {"judged": 4, "line_errors": 1, "word_errors": 0, "line_acc_sum": 3.0, "valid_n": 4, "valid": 2, "cpr_n": 4,
         "clean": 1}
    r = rates("lcb", "ko", c, quality=True)
    assert r["lpr"] == 0.75 and r["vr"] == 0.5 and r["cpr"] == 0.25
    arr = rates("lcb", "ko", {k: np.array([v, 0.0]) for k, v in c.items()}, quality=True)
    assert arr["vr"][0] == 0.5 and np.isnan(arr["vr"][1]) and arr["lpr"][1] == 1.0
    assert rates("lcb", "ko", {**c, "valid_n": 0}, quality=True)["vr"] is None


def test_cpr_equals_lpr_when_all_valid_and_counts_empty_answers(tmp_path):
    rows = _rows() + [{**_rows()[0], "completion": "", "id": "e"}, {**_rows()[0], "completion": "123", "id": "f"}]
    recs = read_records([_records(tmp_path, rows)])
    all_valid = score_records(recs, "lcb", verdicts=[Verdict(True)] * len(recs), n_boot=0).groups()[0]
    assert all_valid.n_skipped >= 1 and all_valid.metrics["cpr"] == pytest.approx(all_valid.metrics["lpr"])
    # the same skipped answers judged invalid count as failures
    vs = [Verdict(True)] * 4 + [Verdict(False, ("empty",))] * 2
    g = score_records(recs, "lcb", verdicts=vs, n_boot=0).groups()[0]
    judged = 6 - g.n_skipped
    assert g.metrics["cpr"] == pytest.approx((judged - 1) / (judged + 2))  # 1 line error; 2 invalid skipped
    t = score_records(recs, "tlpo", verdicts=[Verdict(True)] * len(recs), n_boot=0).groups()[0]
    assert t.metrics["cpr"] == pytest.approx(t.metrics["rpr"])


def _records(tmp_path, rows):
    p = tmp_path / "in.jsonl"
    p.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return p


def _rows():
    base = {"task": "monolingual", "model": "m", "source": "s", "language": "ko"}
    return [
        {**base, "completion": GOOD, "prompt": PROMPT, "id": "a", "my_field": 1},
        {**base, "completion": PROMPT, "prompt": PROMPT, "id": "b"},  # an echo that passes the language check
        {**base, "completion": ENGLISH, "prompt": PROMPT, "id": "c"},  # valid, but the wrong language
        {**base, "completion": "동안" * 30, "prompt": PROMPT, "id": "d"},  # a loop
    ]


def test_score_records_vr_cpr_and_intervals(tmp_path):
    recs = read_records([_records(tmp_path, _rows())])
    verdicts = [Verdict(True), Verdict(False, ("echo",)), Verdict(True), Verdict(False, ("repetitive",))]
    rep = score_records(recs, "lcb", verdicts=verdicts, n_boot=200)
    g = rep.groups()[0]
    assert g.metrics["vr"] == 0.5
    assert g.metrics["cpr"] == 0.25  # only the first answer is both in Korean and valid
    assert g.metrics["lpr"] == pytest.approx(1 - 1 / (4 - g.n_skipped))  # the English answer fails
    lo, hi = g.ci["cpr"]
    assert 0 <= lo <= 0.25 <= hi <= 1
    assert rep.overall("monolingual", "m").ci["vr"] is not None
    # without verdicts: no vr/cpr, intervals still there; reproducible
    plain = score_records(recs, "lcb", n_boot=200)
    assert "vr" not in plain.groups()[0].metrics and plain.groups()[0].ci["lpr"] == \
        score_records(recs, "lcb", n_boot=200).groups()[0].ci["lpr"]
    assert score_records(recs, "lcb", n_boot=0).groups()[0].ci == {}
    with pytest.raises(ValueError):
        score_records(recs, "lcb", verdicts=verdicts[:1])


def test_cli_quality_cheap_tsv_and_samples(tmp_path, capsys):
    path = _records(tmp_path, _rows())
    out = tmp_path / "out"
    assert main(["score", str(path), "--quality", "cheap", "--format", "tsv", "-o", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split("\t") == ["task", "model", "source", "language", "lpr", "wpr", "vr", "cpr"]
    group = lines[1].split("\t")
    assert group[6:] == ["50.00%", "25.00%"]
    samples = [json.loads(x) for x in (out / "samples.jsonl").read_text(encoding="utf-8").splitlines()]
    assert samples[0]["my_field"] == 1 and samples[0]["id"] == "a"
    assert [s["valid"] for s in samples] == [True, False, True, False]
    assert samples[1]["invalid_reasons"] == ["echo"] and "repeated_ngrams" in samples[3]["invalid_reasons"]
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert len(results["ci95"]) == len(results["rows"]) and results["ci95"][0]["vr"] is not None
    assert all(not isinstance(v, dict) for row in results["rows"] for v in row.values())  # rows stay scalar
    settings = json.loads((out / "settings.json").read_text(encoding="utf-8"))
    assert settings["quality"] == "cheap" and settings["bootstrap"] == 1000


def test_cli_table_shows_intervals(tmp_path, capsys):
    assert main(["score", str(_records(tmp_path, _rows())), "--quality", "cheap"]) == 0
    out = capsys.readouterr().out
    assert "vr" in out and "cpr" in out and "[" in out


def test_cli_csv_join_and_not_judged(tmp_path, capsys):
    lcb = tmp_path / "lcb"
    (lcb / "test_sets" / "monolingual" / "native").mkdir(parents=True)
    (lcb / "test_sets" / "monolingual" / "native" / "ko.csv").write_text(
        f"prompt,source,language\n{PROMPT},native_prompts,ko\n", encoding="utf-8")
    (lcb / "outputs").mkdir()
    csv_path = lcb / "outputs" / "m.csv"
    csv_path.write_text(f"id,model,completion,task,source,language\n0,m,{PROMPT},monolingual,native_prompts,ko\n",
                        encoding="utf-8")
    out = tmp_path / "o"
    assert main(["score", str(csv_path), "--quality", "cheap", "-o", str(out)]) == 0
    s = json.loads((out / "samples.jsonl").read_text(encoding="utf-8"))
    assert s["valid"] is False and s["invalid_reasons"] == ["echo"]
    other = tmp_path / "elsewhere.csv"
    other.write_text(csv_path.read_text(encoding="utf-8"), encoding="utf-8")
    assert main(["score", str(other), "--quality", "cheap", "-o", str(tmp_path / "o2")]) == 0
    assert "echo not judged for 1 answer" in capsys.readouterr().err
    s = json.loads((tmp_path / "o2" / "samples.jsonl").read_text(encoding="utf-8"))
    assert s["valid"] is True and s["not_judged"] == ["echo"]


@pytest.mark.parametrize("args,needle", [
    (["--quality", "--judge-model", "/nonexistent/model"], "does not exist"),
    (["--quality", "--judge-model", "no-such-short-name"], "unknown model short name"),
    (["--quality", "cheap", "--test-sets", "/nonexistent/sets"], "does not exist"),
    (["--bootstrap", "-1"], "--bootstrap"),
])
def test_cli_quality_errors_one_line_exit_2(tmp_path, capsys, args, needle):
    rows = [{k: v for k, v in r.items() if k != "prompt"} for r in _rows()]
    out = tmp_path / "out"
    rc = main(["score", str(_records(tmp_path, rows)), *args, "-o", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and needle in err[0], err
    assert not out.exists()


def test_roc_auc_and_valid_rates():
    assert roc_auc([3, 4], [1, 2]) == 1.0
    assert roc_auc([1, 2], [3, 4]) == 0.0
    assert roc_auc([1, 2], [1, 2]) == 0.5
    assert roc_auc([], [1]) is None
    rows = [{"language": "ko", "kind": "genuine"}] * 2 + [{"language": "ko", "kind": "echo"}]
    vs = [Verdict(True), Verdict(None), Verdict(False)]
    assert valid_rates(rows, vs) == {("ko", "genuine"): (1, 1), ("ko", "echo"): (0, 1)}


def test_bench_answers_after_demonstrations_are_judged_for_copies(tmp_path):
    """A bench run with N-shot prompting (meta `shots`) judges each answer against the demonstrations its
    language was shown: a copied demonstration is invalid ("copy"), the same text without shots is not."""
    from langlock.bench.prompts import BenchPrompt
    from langlock.bench.runner import write_confusion
    from langlock.fewshot import demonstration_turns

    demo = next(t["content"] for t in demonstration_turns("de", 1) if t["role"] == "assistant")
    prompts = [BenchPrompt("crosslingual", "own", "de", "0", "Explain how options trading works. Answer in German."),
               BenchPrompt("crosslingual", "own", "de", "1", "Why do cats purr? Please answer in German.")]
    answers = [demo, "Katzen schnurren, wenn sie sich wohlfühlen, und manchmal auch, wenn sie Schmerzen haben."]
    pairs = [(p, {"completion": a}) for p, a in zip(prompts, answers)]
    meta = {"model": "m", "prompt_set": "own", "task": "crosslingual", "langs": "de", "sources": None, "limit": None,
            "subset": False, "n_prompts": 2, "hit_max_tokens": 0, "benchmark_standard_decoding": True,
            "generator": {"backend": "test"},
            "generation": {"temperature": 0.3, "top_p": 0.75, "max_new_tokens": 100, "seed": 0}}
    for shots, want in ((None, [[], []]), ({"de": 2}, [["copy"], []])):
        out = tmp_path / f"run-{bool(shots)}"
        write_confusion(out, pairs, {**meta, **({"shots": shots} if shots else {})})
        rows = [json.loads(x) for x in (out / "lcb" / "samples.jsonl").read_text(encoding="utf-8").splitlines()]
        assert [r["invalid_reasons"] for r in rows] == want
