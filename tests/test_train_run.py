"""The run API (`langlock.train`): one LoraConfig, every shipped recipe read, unknown keys, skip and resume,
and the data pipeline feeding every trainer from the files each stage writes (issue 12, bugs 2 and 5)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from langlock.errors import UsageError
from langlock.train import METHODS, PeftSettings, RunConfig, is_finished, run

ROOT = Path(__file__).resolve().parents[1]
TLPO_RECIPES = sorted((ROOT / "configs" / "tlpo").glob("*.yaml"))
BASELINE_RECIPES = sorted((ROOT / "configs" / "baselines").glob("*.yaml"))


def test_lora_config_is_built_in_exactly_one_place():
    hits = [(p.relative_to(ROOT), n) for p in sorted((ROOT / "src").rglob("*.py"))
            for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if re.search(r"LoraConfig\(", line)]
    assert [str(p) for p, _ in hits] == ["src/langlock/train/run_config.py"], hits
    cli = [p.name for p in (ROOT / "src/langlock/cli").glob("*.py")
           if re.search(r"from_pretrained|LoraConfig\(", p.read_text(encoding="utf-8"))]
    assert cli == []


def test_peft_settings_one_default_for_every_method():
    for method in METHODS:
        cfg = RunConfig(method=method, model="m", output_dir="o", data="d.jsonl")
        lora = cfg.peft.lora_config()
        assert lora.lora_dropout == 0.0 and lora.r == 16 and lora.lora_alpha == 32
        assert lora.task_type == "CAUSAL_LM" and cfg.lr == 1e-4
    full = RunConfig(method="dpo", model="m", output_dir="o", data="d", peft=PeftSettings(enabled=False))
    assert full.peft.lora_config() is None and full.lr == 5e-6
    lora = PeftSettings(r=4, alpha=8, dropout=0.1, target_modules=["q_proj"]).lora_config()
    assert (lora.r, lora.lora_alpha, lora.lora_dropout, set(lora.target_modules)) == (4, 8, 0.1, {"q_proj"})


@pytest.mark.parametrize("path", TLPO_RECIPES, ids=lambda p: p.name)
def test_every_tlpo_recipe_reads(path):
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    cfg = RunConfig.from_yaml(path)
    assert cfg.method == "tlpo" and cfg.model == raw["model"] and cfg.output_dir == raw["output_dir"]
    assert cfg.language == raw["target_language"] and cfg.data == raw["prompts"]
    assert cfg.peft.enabled is raw["use_peft"] and cfg.seed == raw["seed"] and cfg.lr == raw["learning_rate"]
    assert cfg.peft.dropout == raw.get("lora_dropout", 0.0)
    assert cfg.method_args["num_branches"] == raw["num_branches"]
    # the recipe as it was before it named its method: the subcommand gives it
    legacy = {k: v for k, v in raw.items() if k != "method"}
    assert RunConfig.from_mapping(legacy, method="tlpo") == cfg
    assert RunConfig.from_mapping(cfg.to_mapping()) == RunConfig.from_mapping({**cfg.to_mapping()})
    with pytest.raises(UsageError, match="is a tlpo config"):
        RunConfig.from_yaml(path, method="dpo")


@pytest.mark.parametrize("path", BASELINE_RECIPES, ids=lambda p: p.name)
@pytest.mark.parametrize("method", ["sft", "dpo", "orpo", "grpo", "tbpo"])
def test_every_baseline_recipe_reads(path, method):
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    cfg = RunConfig.from_yaml(path, ["max_steps=3"], method=method)
    assert cfg.method == method and cfg.data == raw["data"] and cfg.language == raw["language"]
    assert cfg.max_steps == 3 and cfg.peft.enabled is raw["lora"] and cfg.peft.r == raw["lora_r"]
    assert cfg.method_args["beta"] == raw["beta"] and cfg.peft.dropout == 0.0
    assert RunConfig.from_mapping(cfg.to_mapping()) == cfg


@pytest.mark.parametrize("key,valid", [("num_brnaches", "num_branches"), ("lora_alpah", "lora_alpha"),
                                       ("output_directory", "output_dir")])
def test_unknown_key_names_the_closest(key, valid):
    with pytest.raises(UsageError, match=f"unknown config key '{key}'; did you mean '{valid}'"):
        RunConfig.from_mapping({"model": "m", "output_dir": "o", "target_language": "ko", key: 1}, method="tlpo")


def test_bad_mappings():
    with pytest.raises(UsageError, match="missing key 'method'"):
        RunConfig.from_mapping({"model": "m", "output_dir": "o"})
    with pytest.raises(UsageError, match="disagree"):
        RunConfig.from_mapping({"model": "m", "output_dir": "o", "language": "ko", "target_language": "ja"},
                               method="tlpo")
    with pytest.raises(UsageError, match="is a run setting"):
        RunConfig(method="tlpo", model="m", output_dir="o", method_args={"seed": 3})
    with pytest.raises(UsageError, match="unknown config key 'beta2'"):
        RunConfig(method="dpo", model="m", output_dir="o", data="d", method_args={"beta2": 3})
    with pytest.raises(UsageError, match="not the suite"):
        RunConfig(method="dpo", model="m", output_dir="o", data="builtin-train")


# ---------------------------------------------------------------------------------------------- pipeline


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    """`data prompts -> data sample -> data pairs` through the CLI on a tiny bilingual model."""
    from _pipeline_fixtures import QUESTIONS, bilingual_model
    from langlock.cli.main import main

    root = tmp_path_factory.mktemp("pipeline")
    model = bilingual_model(root / "model")
    pool = root / "pool.jsonl"
    pool.write_text("".join(json.dumps({"question": q}, ensure_ascii=False) + "\n" for q in QUESTIONS),
                    encoding="utf-8")
    work = root / "work"
    assert main(["data", "prompts", "--pool", str(pool), "--lang", "ko", "-o", str(work / "prompts.jsonl")]) == 0
    assert main(["data", "sample", "--prompts", str(work / "prompts.jsonl"), "--model", str(model), "-n", "4",
                 "--max-new-tokens", "12", "-o", str(work / "samples.jsonl")]) == 0
    assert main(["data", "pairs", "--samples", str(work / "samples.jsonl"), "--lang", "ko", "-o",
                 str(work / "pairs"), "--no-ignore-english"]) == 0
    return root, model, work / "pairs"


def _recipe(root: Path, name: str, data: dict) -> str:
    path = root / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return str(path)


PIPELINE_CASES = {  # method -> (data file of `data pairs`, method keys for a 1-step run)
    "tlpo": ("prompts.jsonl", {"num_generations": 2, "max_completion_length": 8, "num_branches": 2,
                               "branch_length": 1, "confusion_check_every": 4, "save_strategy": "no",
                               "use_cpu": True}),
    "sft": ("sft.jsonl", {"max_length": 64}),
    "dpo": ("pairs.jsonl", {"max_length": 64}),
    "orpo": ("pairs.jsonl", {"max_length": 64}),
    "grpo": ("prompts.jsonl", {"num_generations": 2, "max_completion_length": 8, "ignore_english": False}),
}


@pytest.mark.parametrize("method", list(PIPELINE_CASES))
def test_data_pairs_feed_every_trainer(pipeline, method, tmp_path):
    """Bug 2: the files `langlock data pairs` writes train every method as they are (no language key either:
    it comes from the data's `language` column)."""
    from langlock.cli.main import main
    from langlock.models import load_model_and_tokenizer

    root, model, pairs = pipeline
    stats = json.loads((pairs / "stats.json").read_text(encoding="utf-8"))
    assert stats["pairs"] >= 1 and stats["clean"] >= 1 and stats["confused"] >= 1
    data_file, extra = PIPELINE_CASES[method]
    out = tmp_path / method
    recipe = _recipe(tmp_path, method, {"model": str(model), "data": str(pairs / data_file), "output_dir": str(out),
                                        "max_steps": 1, "per_device_train_batch_size": 2, "lora_r": 4,
                                        "learning_rate": 1e-2, **extra})
    assert main(["train", method, "--config", recipe]) == 0
    assert is_finished(out)
    manifest = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert manifest["method"] == method and manifest["global_step"] == 1 and manifest["data"].endswith(data_file)
    assert (out / "model" / "adapter_config.json").is_file()
    resolved = yaml.safe_load((out / "config.resolved.yaml").read_text(encoding="utf-8"))
    assert resolved["language"] == "ko" and resolved["lora_dropout"] == 0
    load_model_and_tokenizer(out / "model")  # the adapter loads onto its base


def test_finished_run_is_skipped_and_tlpo_resumes(pipeline, tmp_path, monkeypatch):
    from langlock.train import tlpo_trainer

    _, model, pairs = pipeline
    cfg = RunConfig(method="tlpo", model=str(model), data=str(pairs / "prompts.jsonl"), output_dir=str(tmp_path / "r"),
                    max_steps=2, per_device_train_batch_size=2, learning_rate=1e-2,
                    method_args={**PIPELINE_CASES["tlpo"][1], "save_strategy": "steps", "save_steps": 1,
                                 "stop_after_steps": 1})
    first = run(cfg)
    assert first.global_step == 1 and not first.skipped and (tmp_path / "r" / "checkpoint-1").is_dir()
    again = run(cfg)
    assert again.skipped and again.global_step == 1 and again.train_loss == first.train_loss
    # killed after checkpoint-1, before the end: no manifest -> unfinished; the rerun resumes at step 1
    (tmp_path / "r" / "results.json").unlink()
    assert not is_finished(tmp_path / "r")
    steps = []
    real = tlpo_trainer.TLPOTrainer.training_step
    monkeypatch.setattr(tlpo_trainer.TLPOTrainer, "training_step",
                        lambda self, *a, **k: steps.append(self.state.global_step) or real(self, *a, **k))
    cfg.method_args.pop("stop_after_steps")
    resumed = run(cfg)
    assert steps == [1] and resumed.global_step == 2 and is_finished(tmp_path / "r")


@pytest.mark.parametrize("method", METHODS)
def test_train_help_paths_exist(method, capsys):
    """Bug 8: every input path `langlock train METHOD --help` shows exists in the repository."""
    from langlock.cli.main import main

    with pytest.raises(SystemExit):
        main(["train", method, "--help"])
    text = capsys.readouterr().out
    paths = set(re.findall(r"(?:configs|src|docs)/[\w./-]+", text))
    assert paths, text
    assert [p for p in sorted(paths) if not (ROOT / p.rstrip(".")).exists()] == []


def test_sft_checkpoints_resume_and_chat_template(pipeline, tmp_path, monkeypatch):
    """A baseline with save_steps writes OUT/checkpoint-N and a killed run resumes from the last complete one
    (as TLPO's); chat_template is set on the tokenizer and saved with the trained model."""
    from transformers import AutoTokenizer, Trainer

    _, model, pairs = pipeline
    template = "{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}\n{% endfor %}" \
               "{% if add_generation_prompt %}<assistant>{% endif %}"
    cfg = RunConfig(method="sft", model=str(model), data=str(pairs / "sft.jsonl"), output_dir=str(tmp_path / "s"),
                    max_steps=1, per_device_train_batch_size=2, learning_rate=1e-2,
                    method_args={"max_length": 64, "save_steps": 1, "chat_template": template})
    first = run(cfg)
    assert first.global_step == 1 and (tmp_path / "s" / "checkpoint-1").is_dir()
    assert AutoTokenizer.from_pretrained(tmp_path / "s" / "model").chat_template == template
    # killed after checkpoint-1 of a 2-step run: the rerun resumes there and trains only step 2
    (tmp_path / "s" / "results.json").unlink()
    steps = []
    real = Trainer.training_step
    monkeypatch.setattr(Trainer, "training_step",
                        lambda self, *a, **k: steps.append(self.state.global_step) or real(self, *a, **k))
    cfg.max_steps = 2
    resumed = run(cfg)
    assert steps == [1] and resumed.global_step == 2 and is_finished(tmp_path / "s")
    with pytest.raises(UsageError, match="save_steps"):
        from langlock.baselines.trl_baselines import BaselineArgs

        BaselineArgs(save_steps=0)


def test_subject_recipe_reads_and_its_chat_template_renders():
    """configs/subjects/gemma3-270m-it.yaml: an SFT recipe with resumable checkpoints and Gemma's turn format,
    whose prompt render is a prefix of the full conversation (what TRL's prompt-completion SFT needs)."""
    import jinja2

    path = Path(__file__).resolve().parents[1] / "configs" / "subjects" / "gemma3-270m-it.yaml"
    cfg = RunConfig.from_yaml(path)
    assert cfg.method == "sft" and cfg.save_merged and cfg.method_args["save_steps"] == 10
    tmpl = jinja2.Template(cfg.method_args["chat_template"])
    msgs = [{"role": "user", "content": "안녕?"}, {"role": "assistant", "content": "안녕하세요!"}]
    prompt = tmpl.render(messages=msgs[:1], bos_token="<bos>", add_generation_prompt=True)
    full = tmpl.render(messages=msgs, bos_token="<bos>", add_generation_prompt=False)
    assert prompt == "<bos><start_of_turn>user\n안녕?<end_of_turn>\n<start_of_turn>model\n"
    assert full.startswith(prompt) and full.endswith("안녕하세요!<end_of_turn>\n")


def test_the_1200_step_subject_is_the_recipe_trained_longer():
    """configs/subjects/gemma3-270m-it-1200.yaml differs from the 150-step recipe only in its budget and folder."""
    import yaml

    root = Path(__file__).resolve().parents[1] / "configs" / "subjects"
    short = yaml.safe_load((root / "gemma3-270m-it.yaml").read_text(encoding="utf-8"))
    long = yaml.safe_load((root / "gemma3-270m-it-1200.yaml").read_text(encoding="utf-8"))
    budget = {"max_steps", "output_dir", "save_steps", "trl_args"}
    assert {k for k in short.keys() | long.keys() if short.get(k) != long.get(k)} == budget
    assert long["max_steps"] == 1200 and RunConfig.from_yaml(root / "gemma3-270m-it-1200.yaml").method == "sft"
