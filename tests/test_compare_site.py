"""`langlock compare` with the ``fewshot`` and ``site`` methods on a tiny model: each is the base model with a
per-language part in its evaluation plan's decoding (demonstrations before target-language prompts; a SITE steering
file fitted per seed), rows and cost columns in the report, resume without refitting."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("torch")

from langlock.compare import CompareConfig, report_only, run_compare  # noqa: E402
from langlock.errors import UsageError  # noqa: E402

from _baseline_fixtures import tiny_model  # noqa: E402

SITE_ARGS = {"shots": 2, "num_prompts": 2, "steps": 3, "loss": 2, "lr": 0.5}


def _config(tmp_path, methods, **extra) -> CompareConfig:
    return CompareConfig(model=str(tiny_model(tmp_path)), language="ko", output_dir=str(tmp_path / "cmp"),
                         methods=methods, seeds=[0, 1], method_args={"site": SITE_ARGS, "fewshot": {"shots": 3}},
                         eval_limit=1, eval_max_new_tokens=6, eval_temperature=0.0, retention_limit=1,
                         retention_langs="en,ko", batch_size=4, **extra)


def _completions(out, method, seed) -> dict:
    rows = (out / f"runs/{method}/seed{seed}/eval/confusion/generations.jsonl").read_text(encoding="utf-8")
    return {r["key"]: r["completion"] for r in map(json.loads, rows.splitlines())}


def test_compare_base_fewshot_site(tmp_path, monkeypatch):
    from langlock.compare.evaluate import plan_for
    from langlock.fewshot import demonstration_turns
    from langlock.generate.hf import HFGenerator
    from langlock.steer.file import load_steer_file

    rendered: list[tuple[str, tuple]] = []
    real_render = HFGenerator.render

    def spy(self, text, settings, shots=(), prefix=""):
        rendered.append((text, tuple(shots)))
        return real_render(self, text, settings, shots, prefix)

    monkeypatch.setattr(HFGenerator, "render", spy)
    cfg = _config(tmp_path, ["base", "fewshot", "site"])
    out = tmp_path / "cmp"
    summary = run_compare(cfg)
    rows = {r["method"]: r for r in summary["rows"]}
    assert set(rows) == {"base", "fewshot", "site"}
    for m, row in rows.items():
        assert row["seeds"] == [0, 1]
        for key in ("lcb_lpr", "en_lpr", "vr_target", "cpr_target", "retention_acc", "kl_en", "eval_seconds"):
            assert all(v is not None for v in row[key]["values"]), (m, key)

    # site: a steering file per seed, carried by the plan's decoding for the target language only
    files = [out / f"runs/site/seed{s}/steer-ko.safetensors" for s in (0, 1)]
    plan = plan_for(cfg, "site", 1)
    assert plan.decoding.steer == {"ko": str(files[1])} and not plan.decoding.locks and not plan.decoding.shots
    fitted = [load_steer_file(f) for f in files]
    assert [f.meta["settings"]["seed"] for f in fitted] == [0, 1]
    assert fitted[0].meta["settings"]["loss_tokens"] == 2 and fitted[0].meta["settings"]["steps"] == 3
    assert not fitted[0].logits.equal(fitted[1].logits)  # a fit per seed
    n_heads = fitted[0].logits.numel()
    assert rows["site"]["trainable_params"]["values"] == [n_heads, n_heads]
    assert all(v > 0 for v in rows["site"]["train_seconds"]["values"])
    assert rows["base"]["trainable_params"]["values"] == [0, 0] == rows["fewshot"]["trainable_params"]["values"]
    base, site = _completions(out, "base", 0), _completions(out, "site", 0)
    assert all(site[k] == base[k] for k in base if "/en/" in k)  # English requests are not steered
    assert all(abs(v) < 1e-6 for v in rows["site"]["kl_en"]["values"])  # the weights are the base's

    # fewshot: the demonstrations SITE is fitted on, before Korean prompts only
    assert plan_for(cfg, "fewshot", 0).decoding.shots == {"ko": 3}
    turns = demonstration_turns("ko", 3)
    assert len(turns) == 6 and turns[1]["content"] and turns[0]["role"] == "user"
    fs = _completions(out, "fewshot", 0)
    with_shots = [text for text, shots in rendered if shots == turns]
    assert with_shots and all(shots in ((), turns) for _, shots in rendered)
    ko_prompts = _prompts(out, "fewshot", 0, "ko")
    assert set(ko_prompts) <= set(with_shots)
    assert not set(_prompts(out, "fewshot", 0, "en")) & set(with_shots)
    assert fs.keys() == base.keys()

    md = (out / "compare.md").read_text(encoding="utf-8")
    assert "| site |" in md and "| fewshot |" in md and "trainable parameters" in md
    csv = (out / "compare.csv").read_text(encoding="utf-8")
    assert f"site,trainable_params,{n_heads}.000000" in csv

    # resume: nothing refitted or re-evaluated; the report rewritten from files keeps the cost columns
    mtimes = {f: f.stat().st_mtime_ns for f in files}

    def boom(*a, **k):
        raise AssertionError("refitted or re-evaluated a finished run")

    monkeypatch.setattr("langlock.steer.fit.fit_steer", boom)
    monkeypatch.setattr("langlock.bench.runner.run_bench", boom)
    assert run_compare(cfg)["rows"] == summary["rows"]
    assert {f: f.stat().st_mtime_ns for f in files} == mtimes
    assert report_only(cfg)["rows"] == summary["rows"]


def _prompts(out, method, seed, lang) -> list[str]:
    rows = (out / f"runs/{method}/seed{seed}/eval/confusion/generations.jsonl").read_text(encoding="utf-8")
    return [r["prompt"] for r in map(json.loads, rows.splitlines()) if r["language"] == lang]


def test_site_checkpoint_steers_target_rows(tmp_path):
    """A steering file fitted elsewhere (``checkpoints.site``, "{seed}" filled in) is what the plan carries, and it
    changes the target language's generations and nothing else (a strong file: the tiny random model's fitted
    3-step selection barely moves its greedy output)."""
    import torch

    from langlock.steer.file import SteerFile

    cfg = _config(tmp_path, ["site"], retention=False)
    cfg.seeds = [0]
    run_compare(cfg)
    from langlock.steer.file import load_steer_file

    fitted = load_steer_file(tmp_path / "cmp/runs/site/seed0/steer-ko.safetensors")
    gen = torch.Generator().manual_seed(0)
    strong = SteerFile(torch.randn(fitted.embedding.shape, generator=gen) * 20, torch.full_like(fitted.logits, 6.0),
                       fitted.meta)
    strong.save(tmp_path / "strong-seed0.safetensors")
    cfg2 = _config(tmp_path, ["base", "site"], retention=False,
                   checkpoints={"site": str(tmp_path / "strong-seed{seed}.safetensors")})
    cfg2.output_dir, cfg2.seeds = str(tmp_path / "cmp2"), [0]
    summary = run_compare(cfg2)
    out = tmp_path / "cmp2"
    assert not (out / "runs/site/seed0/steer-ko.safetensors").exists()  # nothing fitted here
    from langlock.compare.evaluate import plan_for

    assert plan_for(cfg2, "site", 0).decoding.steer == {"ko": str(tmp_path / "strong-seed0.safetensors")}
    base, site = _completions(out, "base", 0), _completions(out, "site", 0)
    assert all(site[k] == base[k] for k in base if "/en/" in k)
    assert any(site[k] != base[k] for k in base if "/ko/" in k)
    row = {r["method"]: r for r in summary["rows"]}["site"]
    assert row["trainable_params"]["values"] == [fitted.logits.numel()]


def test_site_and_fewshot_config_errors(tmp_path):
    with pytest.raises(UsageError, match="method_args.site: unknown key"):
        CompareConfig(model="m", language="ko", output_dir="o", methods=["site"],
                      method_args={"site": {"steps": 3, "layers": 2}})
    with pytest.raises(UsageError, match="method_args.fewshot: unknown key"):
        CompareConfig(model="m", language="ko", output_dir="o", methods=["fewshot"],
                      method_args={"fewshot": {"n": 3}})
    with pytest.raises(UsageError, match="train nothing"):
        CompareConfig(model="m", language="ko", output_dir="o", methods=["fewshot"], checkpoints={"fewshot": "x"})
    from langlock.compare.methods import loss_tokens

    assert loss_tokens("first") == 1 and loss_tokens(3) == 3
    with pytest.raises(UsageError, match="loss"):
        loss_tokens("all")


def test_site_refuses_a_file_fitted_otherwise(tmp_path):
    cfg = _config(tmp_path, ["site"], retention=False)
    cfg.seeds = [0]
    run_compare(cfg)
    cfg.method_args = {"site": {**SITE_ARGS, "steps": 4}}
    with pytest.raises(UsageError, match="fitted with other settings"):
        run_compare(cfg)


def test_plan_steer_language_checked(tmp_path):
    """A steering file given for a language it was not fitted for is refused before anything runs."""
    from langlock.evaluate import Decoding, EvalPlan, SuiteSpec, evaluate

    cfg = _config(tmp_path, ["site"], retention=False)
    cfg.seeds = [0]
    run_compare(cfg)
    f = tmp_path / "cmp/runs/site/seed0/steer-ko.safetensors"
    plan = EvalPlan(target="ja", confusion=SuiteSpec(suite="builtin-confusion", langs="ja", limit=1),
                    decoding=Decoding(steer={"ja": str(f)}))
    with pytest.raises(UsageError, match="fitted for 'ko'"):
        evaluate(cfg.model, plan, tmp_path / "bad")
    assert not (tmp_path / "bad").exists()
    with pytest.raises(UsageError, match="shots.ko"):
        Decoding(shots={"ko": -1})


def test_demonstration_turns_are_sites_examples():
    from langlock.fewshot import demonstration_turns, demonstrations

    pool = demonstrations("de")
    turns = demonstration_turns("de", 3)
    pairs = [(turns[i]["content"], turns[i + 1]["content"]) for i in range(0, len(turns), 2)]
    assert [t["role"] for t in turns] == ["user", "assistant"] * 3
    assert all(p in pool for p in pairs)  # SITE's demonstrations, nothing else
    assert pairs[0][1] != pairs[1][1]  # consecutive shots show different answers
    assert len(demonstration_turns("de", len(pool) + 2)) == 2 * (len(pool) + 2)  # the pool repeats
    assert demonstration_turns("de", 0) == ()
    with pytest.raises(UsageError):
        demonstration_turns("de", -1)


def _messages(role, text):
    return [{"role": role, "content": text}]


def test_site_fitted_on_the_shared_data(tmp_path):
    """``method_args.site.examples: data``: SITE's demonstrations are the shared data's target-language SFT rows (the
    English replay rows left out), the file records them, and a file fitted on other examples is refused."""
    from langlock.compare.data import site_examples_path
    from langlock.compare.methods import fit_site
    from langlock.steer.file import load_steer_file

    pairs = tmp_path / "pairs"
    pairs.mkdir()
    requests = ["Answer in Korean. How do I water plants?", "Reply in Korean. Why walk every day?"]
    (pairs / "prompts.jsonl").write_text("".join(json.dumps({"prompt": _messages("user", r), "id": str(i)}) + "\n"
                                                 for i, r in enumerate(requests)), encoding="utf-8")
    sft = [(requests[0], "흙이 마르면 물을 주세요."), (requests[1], "매일 걸으면 건강해집니다."),
           ("What is the capital of France?", "Paris is the capital of France.")]  # the replay row
    (pairs / "sft.jsonl").write_text("".join(json.dumps({"prompt": _messages("user", p),
                                                         "completion": _messages("assistant", a)}) + "\n"
                                             for p, a in sft), encoding="utf-8")
    cfg = _config(tmp_path, ["site"], retention=False)
    cfg.method_args = {"site": {**SITE_ARGS, "examples": "data"}}
    assert cfg.needs_data()
    with pytest.raises(UsageError, match="shared training data"):
        fit_site(cfg, 0)  # no data to draw from
    built = []
    path = fit_site(cfg, 0, lambda: built.append(1) or pairs)
    rows = [json.loads(x) for x in site_examples_path(cfg).read_text(encoding="utf-8").splitlines()]
    assert rows == [{"prompt": p, "answer": a} for p, a in sft[:2]]
    meta = load_steer_file(path).meta["settings"]
    assert meta["examples"] == str(site_examples_path(cfg)) and meta["n_examples"] == 2
    assert fit_site(cfg, 0, lambda: built.append(1) or pairs) == path and built == [1]  # reused: no data asked for
    cfg.method_args = {"site": SITE_ARGS}  # langlock's own demonstrations: not what the file was fitted on
    with pytest.raises(UsageError, match="fitted with other settings"):
        fit_site(cfg, 0)
