"""`run(RunConfig) -> RunResult`: the one place a training run of any method happens.

The CLI (`langlock train METHOD`), `langlock compare` and the demo all call `run`. It loads the model once
(`langlock.models.load_model_and_tokenizer`: a model directory, a .gguf file, a packaged short name, or a LoRA
adapter directory — merged into its base, which full fine-tuning then trains; a new LoRA on top of an adapter
is refused), builds the LoRA configuration from `RunConfig.peft`, hands both to the method's trainer
(`TLPOTrainer` for ``tlpo``; `langlock.baselines.trl_baselines.build_trainer` for the others), trains and
writes one layout for every method:

    OUT/model/               the LoRA adapter (adapter_config.json) or the full model, + the tokenizer
    OUT/merged/              with ``save_merged`` and LoRA: the adapter merged into the base
    OUT/config.resolved.yaml every setting in effect (the flat form `RunConfig.from_mapping` reads)
    OUT/log_history.jsonl    the trainer's log, one row per logging step
    OUT/results.json         the manifest (`langlock.results` kind "train"): method, versions, model, data, language, seed, steps, loss, trainable parameters, runtime — written
                             last: its presence marks a finished run (`is_finished`), which `run` skips
    OUT/checkpoint-N/        checkpoints (``save_steps``; TLPO's, or a baseline's when set); an unfinished run
                             resumes from the last *complete* one unless ``resume_from_checkpoint: false``

``chat_template`` (any method) is set on the tokenizer before training, for a base model without one, and is
saved with the trained model.

TLPO prompts (``data``): a prompt suite (``builtin-train``, filtered by ``prompt_task`` and the language) or a
JSONL whose ``prompt`` is a string or chat messages — the ``prompts.jsonl`` of `langlock data pairs` as it is.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError, UsageError
from .run_config import TLPO_DATA_ARGS, RunConfig

MANIFEST = "results.json"  # the run's manifest, a `langlock.results` object of kind "train"


@dataclass
class RunResult:
    output_dir: Path
    model_dir: Path
    method: str
    global_step: int
    train_loss: float | None
    runtime_s: float
    skipped: bool


def is_finished(output_dir: str | Path) -> bool:
    """True when `output_dir` holds a finished run (its results.json manifest, written last, and its model)."""
    out = Path(output_dir)
    model = out / "model"
    if not ((out / MANIFEST).is_file() and ((model / "adapter_config.json").is_file()
                                           or (model / "config.json").is_file())):
        return False
    read_manifest(out)  # a results file of another kind here is an error, not a finished run
    return True


def read_manifest(output_dir: str | Path) -> dict:
    """The finished run's manifest (a results object of kind "train")."""
    from ..results import read_results

    return read_results(Path(output_dir) / MANIFEST, kinds=("train",))


def run(cfg: RunConfig) -> RunResult:
    """Train `cfg` unless its output directory holds a finished run (then ``skipped=True``); see the module."""
    out = Path(cfg.output_dir)
    if is_finished(out):
        m = read_manifest(out)
        if m.get("method") != cfg.method:
            raise UsageError(f"{out} holds a finished {m.get('method')} run; choose another output_dir for {cfg.method}")
        return RunResult(out, out / "model", m.get("method", cfg.method), int(m.get("global_step", 0)),
                         m.get("train_loss"), float(m.get("runtime_s", 0.0)), skipped=True)
    from ..models.adapter import adapter_dir

    if cfg.peft.enabled and adapter_dir(cfg.model) is not None:
        raise UsageError(f"model {cfg.model} is a LoRA adapter: a new LoRA on top of it is not supported; merge it "
                         "first (langlock merge apply-adapter) or train it fully (use_peft: false)")
    if cfg.method == "tlpo" and cfg.language is not None:
        tlpo_config(cfg)  # a bad TLPO field fails before anything is read
    data = load_data(cfg)  # bad data fails before the model is loaded
    targs = tlpo_config(cfg) if cfg.method == "tlpo" else None
    from ..models.load import load_tokenizer

    template = cfg.method_args.get("chat_template")
    if cfg.method == "tlpo" and not (template or getattr(load_tokenizer(cfg.model), "chat_template", None)):
        raise UsageError(f"model {cfg.model} has no chat template; set chat_template in the config")
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    t0 = time.time()
    from ..models import load_model_and_tokenizer

    model, tok, model_path = load_model_and_tokenizer(cfg.model, dtype=cfg.dtype)
    if template:
        tok.chat_template = template
    # the adapter's base_model_name_or_path: absolute, so OUT/model loads from anywhere
    model.config._name_or_path = str(Path(model_path).resolve())
    peft_config = cfg.peft.lora_config()
    resume = _resume_point(cfg)
    if cfg.method == "tlpo":
        from .tlpo_trainer import TLPOTrainer

        model.train()
        trainer = TLPOTrainer(model=model, args=targs, train_dataset=data, processing_class=tok,
                              peft_config=peft_config)
    else:
        from ..baselines.trl_baselines import build_trainer

        trainer = build_trainer(cfg, model, tok, model_path, data, peft_config)
    result = trainer.train(resume_from_checkpoint=resume)
    runtime = round(time.time() - t0, 2)
    if trainer.is_world_process_zero():
        write_outputs(cfg, trainer, tok, result, started=started, runtime_s=runtime, model_path=model_path,
                      num_rows=len(data))
    return RunResult(out, out / "model", cfg.method, trainer.state.global_step, result.training_loss, runtime,
                     skipped=False)


# ------------------------------------------------------------------------------------------------ data


def load_data(cfg: RunConfig):
    """The training rows: TLPO prompts (`load_prompts`) or a baseline's dataset (`trl_baselines.load_rows`)."""
    if cfg.method == "tlpo":
        return load_prompts(cfg)
    from ..baselines.trl_baselines import load_rows

    return load_rows(cfg)


def load_prompts(cfg: RunConfig) -> list[dict]:
    """TLPO's ``[{"prompt": user text}]`` from a suite or a JSONL (string or chat-message prompts).

    Sets ``cfg.language`` from the data's ``language`` column when the config has none; a row in another
    language than the target is an `InputError` (TLPO trains one language).
    """
    src = str(cfg.data or "builtin-train")
    limit = cfg.method_args.get("limit")
    task = cfg.method_args.get("prompt_task", "all")
    if src.startswith("builtin-"):
        if cfg.language is None:
            raise UsageError("config key 'language' (or target_language) is required to train on a prompt suite")
        from ..suites import load_suite

        rows = [{"prompt": p.prompt} for p in load_suite(src, task=task, langs=[cfg.language])]
    else:
        from ..databuild.jsonl import read_rows, user_text

        raw = read_rows(src, "prompts")
        langs = {r["language"] for r in raw if isinstance(r.get("language"), str)}
        if cfg.language is None:
            if len(langs) != 1:
                raise UsageError(f"{src}: set 'language' (the data has {'no' if not langs else 'several'} "
                                 "language column values)")
            cfg.language = langs.pop()
        rows = []
        for n, obj in enumerate(raw, 1):
            if "prompt" not in obj:
                raise InputError(f"{src} row {n}: expected an object with a 'prompt' (text or chat messages)")
            if obj.get("language") not in (None, cfg.language):
                raise InputError(f"{src} row {n}: language {obj['language']!r} is not the target {cfg.language!r}")
            try:
                rows.append({"prompt": user_text(obj["prompt"])})
            except InputError as err:
                raise InputError(f"{src} row {n}: {err}") from None
    if limit is not None:
        rows = rows[: int(limit)]
    if not rows:
        raise InputError(f"no training prompts from {src} for language {cfg.language}")
    return rows


# ------------------------------------------------------------------------------------------------ TLPO


def tlpo_config(cfg: RunConfig):
    """The `TLPOConfig` of a TLPO run (checkpoints in OUT); `UsageError` for a bad field."""
    from .tlpo_config import TLPOConfig

    kwargs = {k: v for k, v in cfg.method_args.items() if k not in TLPO_DATA_ARGS and k != "resume_from_checkpoint"}
    try:
        return TLPOConfig(output_dir=str(cfg.output_dir), seed=cfg.seed, max_steps=cfg.max_steps,
                          per_device_train_batch_size=cfg.per_device_train_batch_size, learning_rate=cfg.lr,
                          target_language=cfg.language, **kwargs)
    except (ValueError, TypeError) as err:
        raise UsageError(f"invalid training config: {str(err).splitlines()[0]}") from None


def _resume_point(cfg: RunConfig):
    """Where a run starts (`train.checkpoints.resolve_resume`): by default its last *complete*
    OUT/checkpoint-N (a kill inside a save leaves a torn one, which is skipped), or from scratch."""
    from .checkpoints import resolve_resume

    return resolve_resume(cfg.method_args.get("resume_from_checkpoint"), cfg.output_dir)


# ------------------------------------------------------------------------------------------------ outputs


def resolved_mapping(cfg: RunConfig, trainer) -> dict:
    """Every setting in effect, flat: the run's keys, then the TLPO trainer's arguments (TLPO) or the
    baseline arguments with their defaults."""
    import dataclasses

    flat = cfg.to_mapping()
    if cfg.method == "tlpo":
        from .run_config import method_arg_names

        names = method_arg_names("tlpo")
        flat.update({k: v for k, v in trainer.args.to_dict().items() if k in names and k not in flat})
    else:
        from ..baselines.trl_baselines import BaselineArgs

        flat.update({k: v for k, v in dataclasses.asdict(BaselineArgs.of(cfg)).items() if k not in flat})
    return flat


def write_outputs(cfg: RunConfig, trainer, tok, result, *, started: str, runtime_s: float, model_path,
                  num_rows: int) -> None:
    """Write the layout of the module docstring; results.json (the manifest) last."""
    import peft
    import torch
    import transformers
    import yaml

    from .. import __version__
    from ..io_utils import atomic_dir, write_jsonl_atomic, write_text_atomic
    from ..results import write_results

    out = Path(cfg.output_dir)
    model = trainer.accelerator.unwrap_model(trainer.model)
    with atomic_dir(out / "model") as tmp:
        model.save_pretrained(str(tmp), safe_serialization=True)
        tok.save_pretrained(str(tmp))
    merged = cfg.save_merged and cfg.peft.enabled
    if merged:
        with atomic_dir(out / "merged") as tmp:
            model.merge_and_unload().save_pretrained(str(tmp), safe_serialization=True)
            tok.save_pretrained(str(tmp))
    resolved = json.loads(json.dumps(resolved_mapping(cfg, trainer), default=str))
    write_text_atomic(out / "config.resolved.yaml", yaml.safe_dump(resolved, sort_keys=False, allow_unicode=True))
    write_jsonl_atomic(out / "log_history.jsonl", json.loads(json.dumps(trainer.state.log_history, default=str)))
    versions = {"langlock": __version__, "torch": torch.__version__, "transformers": transformers.__version__,
                "peft": peft.__version__}
    if cfg.method != "tlpo":
        import trl

        versions["trl"] = trl.__version__
    manifest = {
        "method": cfg.method, "versions": versions,
        "model": str(cfg.model), "model_dir": str(model_path), "data": str(cfg.data) if cfg.data else None,
        "num_rows": num_rows, "language": cfg.language, "seed": cfg.seed, "adapter": cfg.peft.enabled,
        "global_step": trainer.state.global_step, "train_loss": result.training_loss,
        # what the run trained (a LoRA adapter: its tensors), kept when the weights are not (results/README.md)
        "trainable_params": sum(p.numel() for p in model.parameters() if p.requires_grad),
        "runtime_s": runtime_s, "device": str(trainer.accelerator.device),
        "num_processes": trainer.accelerator.num_processes, "started": started,
        "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "outputs": {"model": "model", "merged": "merged" if merged else None,
                    "config": "config.resolved.yaml", "log_history": "log_history.jsonl"},
        "log_history": "log_history.jsonl", "evaluations": [],
    }
    if cfg.method == "tlpo":
        manifest["detector"] = {"profile": "tlpo", "language": trainer.args.target_language,
                                "ignore_english": trainer.args.ignore_english,
                                "capital_rule": trainer.args.capital_rule}
    write_results(out / MANIFEST, "train", manifest)
