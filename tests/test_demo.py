"""`langlock demo` end to end on a tiny model: diagnose → SFT on the model's own valid German answers → verify
→ HTML report (same prompts side by side) → RESULT line, resumable.

A random tiny model writes no German, so the base samples of the fix stage are pre-written for the prompts the
stage selects (the cross-lingual German requests of builtin-train), as a resumed run would find them; the prompt
selection, the validity filter, training and evaluation run for real. The real SmolLM2 run is in docs/subjects.md.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict

from langlock.cli.main import main

from tiny_models import make_model_dir

TINY = ["train={max_steps: 2, per_device_train_batch_size: 1, lora: true, lora_r: 4, max_length: 512}",
        "pool_limit=3", "sample_max_new_tokens=6", "retention_limit=1", "pair_validity=cheap", "eval_quality=cheap",
        "sample_temperature=0.7"]
ANSWERS = ["Gerne! Nimm frische Bohnen und heißes Wasser, dann lass den Kaffee vier Minuten ziehen.",
           "Im Winter ist das Dorf still, die Dächer sind weiß und aus den Kaminen steigt Rauch.",
           "Hier sind fünf Ideen: ein Vulkanmodell, Kresse im Dunkeln, eine Zitronenbatterie, Magnete, Wetter."]


def _demo_args(model, out):
    args = ["demo", "--recipe", "de", "--model", str(model), "--limit", "1", "--langs", "de,en", "--verify-limit", "1",
            "--max-new-tokens", "6", "--batch-size", "4", "-o", str(out)]
    for kv in TINY:
        args += ["--set", kv]
    return args


def _seed_samples(out, model):
    """The base's samples for the first 3 cross-lingual German builtin-train prompts: one valid German answer, one
    English answer and one German loop each."""
    from langlock.databuild.prompts import prompt_id
    from langlock.databuild.sample import SampleSettings, meta_path
    from langlock.suites import load_suite

    prompts = [p.prompt for p in load_suite("builtin-train", task="crosslingual", langs="de")][:3]
    assert all("German" in p for p in prompts)
    data = out / "verify" / "data"
    data.mkdir(parents=True)
    rows = [{"id": prompt_id(q), "prompt": q, "language": "de",
             "completions": [a, "Sure! Here is my answer in English.", "Kaffee ist gut. " * 10]}
            for q, a in zip(prompts, ANSWERS)]
    (data / "samples.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    settings = SampleSettings(model=str(model), n=2, temperature=0.7, max_new_tokens=6, seed=0)
    meta_path(data / "samples.jsonl").write_text(json.dumps(asdict(settings)))
    return prompts


def test_demo_runs_the_whole_story_and_resumes(tmp_path, capsys):
    model = make_model_dir(tmp_path / "m")
    out = tmp_path / "demo"
    prompts = _seed_samples(out, model)
    assert main(_demo_args(model, out)) == 0
    text = capsys.readouterr().out
    for stage in ("1/4 diagnose", "2/4 fix de", "3/4 verify", "4/4 report"):
        assert stage in text
    assert "monolingual   de" in text
    # the fix stage kept the cross-lingual requests (which name the language) and only valid German targets
    data = out / "verify" / "data"
    assert [json.loads(x)["prompt"] for x in (data / "prompts.jsonl").read_text().splitlines()] == prompts
    sft = [json.loads(x) for x in (data / "pairs-ief-valid-cheap" / "sft.jsonl").read_text().splitlines()]
    assert [s["completion"][0]["content"] for s in sft] == ANSWERS
    assert "3 SFT targets" in text
    assert (out / "verify" / "runs" / "sft" / "seed0" / "model" / "adapter_config.json").is_file()
    table = text[text.index("before/after"):]
    for label in ("before (base)", "SFT (LoRA)"):
        assert label in table
    saved = json.loads((out / "verify" / "results.json").read_text())
    rows = {r["method"]: r for r in saved["rows"]}
    assert set(rows) == {"base", "sft"}
    assert rows["base"]["kl_en"]["mean"] == 0.0 and rows["sft"]["kl_en"]["mean"] > 0.0
    assert rows["sft"]["mc_acc"]["mean"] is not None and rows["sft"]["nll_drift_en"]["mean"] is not None
    # the RESULT line is the summary's numbers: cross-lingual CPR and VR (%) and the relative English NLL drift
    result = text.strip().splitlines()[-1]
    m = re.fullmatch(r"RESULT cpr_before=(\S+) cpr_after=(\S+) vr_before=(\S+) vr_after=(\S+) nll_drift_en=(\S+)",
                     result)
    assert m, result
    assert float(m[1]) == round(100 * rows["base"]["cpr_cross"]["mean"], 1)
    assert float(m[4]) == round(100 * rows["sft"]["vr_cross"]["mean"], 1)
    ret = json.loads((out / "verify" / "runs" / "sft" / "seed0" / "eval" / "retention" / "results.json").read_text())
    en = ret["retention"]["likelihood"]["nll"]["by_language"]["en"]
    assert float(m[5]) == round(en["drift"]["mean"] / en["base_nll_per_byte"], 4)
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "Same prompts, side by side" in html and "http://" not in html.split("<body", 1)[1]

    # a rerun trains and evaluates nothing again
    stamps = {p: p.stat().st_mtime_ns for p in out.glob("verify/runs/*/seed*/eval/results.json")}
    assert len(stamps) == 2
    adapter = out / "verify" / "runs" / "sft" / "seed0" / "model" / "adapter_model.safetensors"
    before = adapter.stat().st_mtime_ns
    assert main(_demo_args(model, out)) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == result
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps and adapter.stat().st_mtime_ns == before


def test_demo_bad_limit_and_bad_recipe_key_are_usage_errors(tmp_path, capsys):
    assert main(["demo", "--verify-limit", "0", "-o", str(tmp_path / "d")]) == 2
    assert "--verify-limit" in capsys.readouterr().err and not (tmp_path / "d").exists()
    assert main(["demo", "--set", "no_such_key=1", "-o", str(tmp_path / "e")]) == 2
    assert "no_such_key" in capsys.readouterr().err and not (tmp_path / "e").exists()


def test_canned_demo_still_scores_the_sample_completions(tmp_path, capsys):
    assert main(["demo", "--canned", "-o", str(tmp_path / "c")]) == 0
    assert "first confusion points" in capsys.readouterr().out
    assert (tmp_path / "c" / "lcb" / "results.json").exists()


def test_default_recipe_fixes_the_japanese_of_the_shipped_subject():
    """`make demo` runs recipe ja: the shipped gemma3-270m-it subject, in-language distillation with English replay,
    held-out builtin-confusion prompts (all 30 cross-lingual ones) judged by the full validity judge; recipe ko is
    the same fix of its Korean."""
    from langlock.demo import RECIPES, DemoSettings, recipe
    from langlock.models import PACKAGED_ADAPTERS

    assert next(iter(RECIPES)) == "ja"
    cfg = recipe(DemoSettings(output_dir="runs/x"))
    assert cfg.model in PACKAGED_ADAPTERS and cfg.language == "ja" and cfg.methods == ["base", "sft"]
    assert cfg.eval_limit == 30 and cfg.retention_langs == "en,ja"
    ko = recipe(DemoSettings(output_dir="runs/x", recipe="ko"))
    assert ko.language == "ko" and ko.model == cfg.model and ko.train == cfg.train
    assert cfg.sample_in_language and cfg.replay_english > 0 and cfg.pair_validity == "full"
    assert cfg.eval_suite == "builtin-confusion" and cfg.eval_task == "crosslingual" and cfg.eval_quality == "full"
    assert recipe(DemoSettings(output_dir="runs/x", recipe="de")).model == "smollm2-135m-instruct"
