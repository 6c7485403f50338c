"""`langlock bench`: kill-and-resume (a real SIGKILL), bad input, the file backend on the LCB outputs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from langlock.bench.runner import BenchConfig, run_bench
from langlock.cli.main import main
from langlock.generate import GenerationSettings

from tiny_models import make_adapter_dir, make_model_dir, write_gguf

REPO = Path(__file__).resolve().parents[1]
SETTINGS = dict(max_new_tokens=16, temperature=0.7, top_p=0.9, seed=11)


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return make_model_dir(tmp_path_factory.mktemp("tiny") / "model")


def bench_args(model, out, *extra):
    return ["bench", "--model", str(model), "--suite", "builtin-confusion", "--langs", "ko,de,en",
            "--limit", "2", "--batch-size", "1", "--max-new-tokens", str(SETTINGS["max_new_tokens"]),
            "--temperature", str(SETTINGS["temperature"]), "--top-p", str(SETTINGS["top_p"]),
            "--seed", str(SETTINGS["seed"]), "--no-progress", "-o", str(out), *extra]


def log_keys(path: Path) -> list[str]:
    return [json.loads(line)["key"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_killed_run_resumes_without_regenerating_and_matches_uninterrupted(tiny_dir, tmp_path):
    full = tmp_path / "full"
    assert main(bench_args(tiny_dir, full)) == 0
    n_total = len(log_keys(full / "generations.jsonl"))
    assert n_total == 10  # 2 prompts x (3 monolingual + 2 cross-lingual languages)

    killed = tmp_path / "killed"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "langlock", *bench_args(tiny_dir, killed)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=REPO)
    log = killed / "generations.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if log.exists() and len(log.read_bytes().splitlines()) >= 3:
            break
        time.sleep(0.02)
    if proc.poll() is not None:
        pytest.fail(f"run ended before it could be killed: {proc.stderr.read().decode()[-500:]}")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stderr.close()
    before = log_keys(log)
    assert 3 <= len(before) < n_total
    assert not (killed / "results.json").exists()
    with open(log, "ab") as fh:  # a line cut in the middle of a write, as a kill can leave
        fh.write(b'{"key": "monolingual/builtin-confusion/ko/1", "completion": "hal')

    generated: list[str] = []
    from langlock.generate.hf import HFGenerator

    real = HFGenerator.generate_batch

    def spy(self, batch, settings, *options):
        generated.extend(p.key for p, _ in batch)
        return real(self, batch, settings, *options)

    mp = pytest.MonkeyPatch()
    mp.setattr(HFGenerator, "generate_batch", spy)
    try:
        assert main(bench_args(tiny_dir, killed)) == 0
    finally:
        mp.undo()
    after = log_keys(log)
    assert sorted(generated) == sorted(set(after) - set(before))  # only the missing ones were generated
    assert len(after) == len(set(after)) == n_total  # nothing generated twice
    texts = lambda d: {json.loads(x)["key"]: json.loads(x)["completion"]  # noqa: E731
                       for x in (d / "generations.jsonl").read_text(encoding="utf-8").splitlines()}
    assert texts(killed) == texts(full)
    rows = lambda d: json.loads((d / "results.json").read_text())["profiles"]  # noqa: E731
    assert rows(killed) == rows(full)
    for name in ("metrics.csv", "report.md", "lcb/results.json", "tlpo/samples.jsonl", "plots"):
        assert (killed / name).exists()


def test_resume_with_other_settings_is_refused(tiny_dir, tmp_path):
    out = tmp_path / "r"
    cfg = BenchConfig(output_dir=str(out), model=str(tiny_dir), suite="builtin-confusion", langs="ko", limit=1,
                      settings=GenerationSettings(max_new_tokens=4), progress=False)
    run_bench(cfg)
    cfg.settings = GenerationSettings(max_new_tokens=5)
    with pytest.raises(Exception, match="other settings"):
        run_bench(cfg)


def one_error_line(capsys) -> str:
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1, err
    return err[0]


@pytest.mark.parametrize("model, expect", [
    ("{tmp}/no/such/model", "does not exist"),
    ("no-such-short-name", "unknown model short name"),
    ("{tmp}/odd.gguf", "architecture 'rwkv99' is not supported"),
])
def test_bad_model_is_one_line_exit_2_nothing_written(tmp_path, capsys, model, expect):
    write_gguf(tmp_path / "odd.gguf", arch="rwkv99", tensors=False)
    out = tmp_path / "out"
    code = main(["bench", "--model", model.format(tmp=tmp_path), "--suite", "builtin-confusion", "--limit", "1",
                 "--cache-dir", str(tmp_path / "cache"), "--no-progress", "-o", str(out)])
    assert code == 2
    assert expect in one_error_line(capsys)
    assert not out.exists()


def test_bad_langs_and_malformed_lcb_csv(tmp_path, capsys, tiny_dir):
    out = tmp_path / "out"
    assert main(["bench", "--model", str(tiny_dir), "--suite", "builtin-confusion", "--langs", "xx",
                 "-o", str(out)]) == 2
    assert "unknown language code 'xx'" in one_error_line(capsys)
    lcb = tmp_path / "test_sets" / "monolingual" / "aya"
    lcb.mkdir(parents=True)
    (lcb / "zh.csv").write_text('prompt,source,language\n"一个问题,aya_human_annotated,zh\n', encoding="utf-8")
    (lcb / "ar.csv").write_text("prompt,source,language\nسؤال,aya_human_annotated,ar,extra\n", encoding="utf-8")
    for lang, expect in (("zh", "malformed CSV"), ("ar", "malformed CSV at line 2")):
        assert main(["bench", "--model", str(tiny_dir), "--lcb-dir", str(tmp_path / "test_sets"), "--langs", lang,
                     "-o", str(out)]) == 2
        line = one_error_line(capsys)
        assert expect in line and f"{lang}.csv" in line
    assert main(["bench", "--model", str(tiny_dir), "--lcb-dir", str(tmp_path / "nope"), "-o", str(out)]) == 2
    assert "does not exist" in one_error_line(capsys)
    assert not out.exists()


def test_file_backend_scores_released_outputs_like_score(lcb_dir, tmp_path):
    """LCB prompts joined to a released outputs CSV by (task, source, language, id) and scored."""
    from langlock.score.metrics import score_records
    from langlock.score.records import read_records

    out = tmp_path / "f"
    cfg = BenchConfig(output_dir=str(out), lcb_dir=str(lcb_dir / "test_sets"), langs="ko,de", limit=3,
                      backend="file", completions=[str(lcb_dir / "outputs" / "command-r.csv")],
                      model_label="command-r", progress=False)
    summary = run_bench(cfg)
    assert summary["n_prompts"] == 3 * (1 + 1 + 3 + 3)  # mono: ko native, de okapi; cross: 3 sources each
    recs = [r for r in read_records([lcb_dir / "outputs" / "command-r.csv"])
            if r.language in ("ko", "de") and int(r.id) < 3]
    want = score_records(recs, "lcb")
    got = {(r["task"], r["source"], r["language"]): r["lpr"]
           for r in summary["profiles"]["lcb"]["rows"] if r["level"] == "group"}
    assert got == {(r.task, r.source, r.language): r.metrics["lpr"] for r in want.groups()}
    prompts = [json.loads(x)["prompt"] for x in (out / "generations.jsonl").read_text().splitlines()]
    assert all(prompts)


def test_file_backend_with_missing_completions_is_an_input_error(lcb_dir, tmp_path, capsys):
    comp = tmp_path / "c.jsonl"
    comp.write_text(json.dumps({"task": "monolingual", "model": "m", "source": "native_prompts", "language": "ko",
                                "completion": "안녕하세요", "id": "0"}) + "\n", encoding="utf-8")
    out = tmp_path / "o"
    assert main(["bench", "--backend", "file", "--completions", str(comp), "--lcb-dir", str(lcb_dir / "test_sets"),
                 "--langs", "ko", "--task", "monolingual", "--limit", "2", "-o", str(out)]) == 2
    assert "1 of 2 prompts have no completion" in one_error_line(capsys)
    assert not out.exists()


def test_retention_suite_reports_accuracy_and_kl(tiny_dir, tmp_path):
    other = make_model_dir(tmp_path / "other", seed=1)
    base = dict(suite="builtin-retention", langs="en,de", limit=1, progress=False,
                settings=GenerationSettings(max_new_tokens=6, temperature=0.0))
    same = run_bench(BenchConfig(output_dir=str(tmp_path / "same"), model=str(tiny_dir),
                                 reference_model=str(tiny_dir), **base))
    diff = run_bench(BenchConfig(output_dir=str(tmp_path / "diff"), model=str(other),
                                 reference_model=str(tiny_dir), **base))
    acc = same["retention"]["accuracy"]
    assert {(r["kind"], r["language"]) for r in acc} >= {("arith", "en"), ("copy", "de"), ("all", "all")}
    assert all(0.0 <= r["accuracy"] <= 1.0 for r in acc)
    assert same["retention"]["kl"]["kl_mean"] == 0.0
    assert diff["retention"]["kl"]["kl_mean"] > 0.0
    assert same["retention"]["kl"]["n_tokens"] > 50
    csv_text = (tmp_path / "diff" / "metrics.csv").read_text()
    assert "kl_mean" in csv_text and "accuracy" in csv_text
    assert "KL(model" in (tmp_path / "diff" / "report.md").read_text()
    # the likelihood checks: multiple choice and genuine-text NLL, paired against the reference (subset: --limit)
    lk_same, lk_diff = same["retention"]["likelihood"], diff["retention"]["likelihood"]
    assert set(lk_diff["mc"]["by_language"]) == {"en", "de"} and lk_diff["mc"]["by_language"]["en"]["n"] == 1
    assert lk_same["nll"]["by_language"]["de"]["drift"]["mean"] == pytest.approx(0.0, abs=1e-6)
    assert lk_diff["nll"]["by_language"]["de"]["drift"]["mean"] != 0
    report = (tmp_path / "diff" / "report.md").read_text()
    assert "Multiple choice" in report and "NLL on genuine text" in report and "nll_drift" in csv_text


def test_bench_accepts_a_lora_adapter_directory(tiny_dir, tmp_path):
    """`--model RUN/model` (a PEFT adapter) generates exactly what the merged model generates."""
    adapter = tmp_path / "tlpo-run" / "model"
    make_adapter_dir(tiny_dir, adapter, seed=2)
    merged = tmp_path / "merged"
    assert main(["merge", "apply-adapter", str(tiny_dir), str(adapter), str(merged)]) == 0
    assert main(bench_args(adapter, tmp_path / "a")) == 0
    assert main(bench_args(merged, tmp_path / "m")) == 0
    base = tmp_path / "b"
    assert main(bench_args(tiny_dir, base)) == 0

    def completions(d):
        return [json.loads(x)["completion"] for x in (d / "generations.jsonl").read_text("utf-8").splitlines()]

    assert completions(tmp_path / "a") == completions(tmp_path / "m")
    assert completions(tmp_path / "a") != completions(base)
    assert json.loads((tmp_path / "a" / "results.json").read_text("utf-8"))["model"] == "tlpo-run-adapter"


def test_excerpt_marks_the_point_and_escapes_only_for_markdown():
    from langlock.bench.report import excerpt

    text = "안녕하세요\nHello | world"
    at = text.index("Hello")
    assert excerpt(text, at, width=8) == "…하세요⏎⟦Hello \\| …"
    assert excerpt(text, at, width=8, markdown=False) == "…하세요⏎⟦Hello | …"
    assert excerpt(text, 0, width=4) == "…⟦안녕하세…"


def test_bench_reports_validity_beside_the_pass_rate(lcb_dir, tmp_path):
    """An echo and a loop pass LPR but not VR/CPR: results.json rows, samples.jsonl and report.md say so."""
    from langlock.bench.prompts import load_lcb

    prompts = load_lcb(lcb_dir / "test_sets", "monolingual", "ko", limit=4)
    assert len(prompts) == 4
    answers = [prompts[0].prompt + " " + prompts[0].prompt,  # echo (restated twice)
               "동안" * 60,  # loop
               "네, 좋은 질문입니다. 매일 같은 시간에 잠자리에 들고 자기 전에는 휴대폰을 멀리 두세요.",  # genuine
               "You should go to bed at the same time every day and avoid coffee after lunch."]  # English
    comp = tmp_path / "c.jsonl"
    comp.write_text("".join(json.dumps({"task": p.task, "model": "m", "source": p.source, "language": "ko",
                                        "completion": a, "id": p.id}, ensure_ascii=False) + "\n"
                            for p, a in zip(prompts, answers)), encoding="utf-8")
    out = tmp_path / "o"
    summary = run_bench(BenchConfig(output_dir=str(out), lcb_dir=str(lcb_dir / "test_sets"), langs="ko",
                                    task="monolingual", limit=4, backend="file", completions=[str(comp)],
                                    progress=False))
    assert summary["quality"] == "cheap"
    row = next(r for r in summary["profiles"]["lcb"]["rows"] if r["level"] == "group")
    samples = [json.loads(x) for x in (out / "lcb" / "samples.jsonl").read_text().splitlines()]
    status = [s["detection"]["status"] for s in samples]
    assert status[2:] == ["pass", "fail"] and "fail" not in status[:2]  # echo and loop pass (or are skipped)
    judged = sum(s != "skip" for s in status)
    assert (row["lpr"], row["vr"], row["cpr"]) == (pytest.approx(1 - 1 / judged), 0.5, 0.25)
    assert [s["valid"] for s in samples] == [False, False, True, True]
    assert "echo" in samples[0]["invalid_reasons"] and samples[1]["invalid_reasons"]
    report = (out / "report.md").read_text()
    assert "| VR |" in report and "CPR [95% CI]" in report and "| 50.0 | 25.0 [" in report
    with pytest.raises(Exception, match="quality mode"):
        BenchConfig(output_dir=str(out), quality="bogus")
