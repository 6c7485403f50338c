"""`langlock train tlpo --config FILE [key=value ...]`: token-level policy optimisation.

The YAML holds `TLPOConfig` fields (TrainingArguments + TLPO's) and these run keys:
  model               model directory, .gguf file or packaged short name (e.g. smollm2-135m-instruct)
  prompts             prompt suite name (builtin-train) or a JSONL file with a "prompt" field
  prompt_task         suite task filter: all | monolingual | crosslingual (default all)
  max_prompts         keep the first N prompts (default: all)
  use_peft            LoRA through PEFT (default true); lora_r, lora_alpha, lora_dropout, lora_target_modules
  dtype               float32 | bfloat16 (weights; default float32)
  save_merged         also write the LoRA-merged full model to OUTPUT_DIR/merged (default false)
Overrides after the file use the same keys: `max_steps=20 learning_rate=1e-5`.

Writes OUTPUT_DIR/model (adapter or model + tokenizer), config.yaml (the file as given),
config.resolved.yaml (every field), manifest.json and log_history.jsonl; checkpoints go to
OUTPUT_DIR/checkpoint-N (resume with resume_from_checkpoint=true or a path).

Example:
    langlock train tlpo --config configs/tlpo/smollm2-135m_ko.yaml max_steps=5
"""

from __future__ import annotations

import argparse
import difflib
import json
import time
from pathlib import Path

from ..errors import InputError, UsageError

RUN_KEYS = {
    "model": None,
    "prompts": "builtin-train",
    "prompt_task": "all",
    "max_prompts": None,
    "use_peft": True,
    "lora_r": 16,
    "lora_alpha": 32,
    "lora_dropout": 0.0,
    "lora_target_modules": "all-linear",
    "dtype": "float32",
    "save_merged": False,
}


def register(sub) -> None:
    p = sub.add_parser("train", help="train a model against language confusion (tlpo)", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    methods = p.add_subparsers(dest="method", metavar="METHOD")
    methods.required = True
    t = methods.add_parser("tlpo", help="token-level policy optimisation", description=__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    t.add_argument("--config", required=True, help="YAML recipe (see configs/tlpo/)")
    t.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="override config keys")
    t.set_defaults(func=run, run_dir="config.output_dir")
    from .baselines_cmd import register_methods  # sft, dpo, orpo, grpo, tbpo

    register_methods(methods)


def _read_config(path: str, overrides: list[str]) -> tuple[dict, str]:
    from ..config_io import apply_overrides, read_yaml_text

    data, text = read_yaml_text(path)
    return apply_overrides(data, overrides), text


def split_config(data: dict) -> tuple[dict, dict]:
    """(run keys, TLPOConfig kwargs); unknown keys raise `UsageError` naming the closest valid key."""
    import dataclasses

    from ..train.tlpo_config import TLPOConfig

    fields = {f.name for f in dataclasses.fields(TLPOConfig) if f.init}
    run, cfg = dict(RUN_KEYS), {}
    for key, value in data.items():
        if key in RUN_KEYS:
            run[key] = value
        elif key in fields:
            cfg[key] = value
        else:
            close = difflib.get_close_matches(key, sorted(fields | set(RUN_KEYS)), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise UsageError(f"unknown config key {key!r}{hint}")
    if not run["model"]:
        raise UsageError("config key 'model' is required (a model directory, .gguf file or short name)")
    if not cfg.get("output_dir"):
        raise UsageError("config key 'output_dir' is required")
    return run, cfg


def build_config(cfg: dict):
    from ..train.tlpo_config import TLPOConfig

    try:
        return TLPOConfig(**cfg)
    except (ValueError, TypeError) as err:
        raise UsageError(f"invalid training config: {str(err).splitlines()[0]}") from None


def load_prompts(run: dict, language: str) -> list[dict]:
    src = str(run["prompts"])
    limit = run["max_prompts"]
    if src.startswith("builtin-"):
        from ..suites import load_suite

        rows = [{"prompt": p.prompt} for p in load_suite(src, task=run["prompt_task"], langs=[language])]
    else:
        path = Path(src)
        if not path.is_file():
            raise InputError(f"prompts: {src}: no such file (or use a suite such as builtin-train)")
        rows = []
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                raise InputError(f"{src}:{n}: not valid JSON") from None
            if not isinstance(obj, dict) or not isinstance(obj.get("prompt"), str):
                raise InputError(f"{src}:{n}: expected an object with a string 'prompt'")
            rows.append({"prompt": obj["prompt"]})
    if limit is not None:
        rows = rows[: int(limit)]
    if not rows:
        raise InputError(f"no training prompts from {src} for language {language}")
    return rows


def run(args) -> int:
    data, raw_text = _read_config(args.config, args.overrides)
    run_keys, cfg_kwargs = split_config(data)
    config = build_config(cfg_kwargs)
    prompts = load_prompts(run_keys, config.target_language)

    from ..models.resolve import resolve_model

    model_dir = resolve_model(run_keys["model"])
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir, local_files_only=True, trust_remote_code=False)
    if not (config.chat_template or getattr(tok, "chat_template", None)):
        raise UsageError(f"model {run_keys['model']} has no chat template; set chat_template in the config")
    if run_keys["dtype"] not in ("float32", "bfloat16"):
        raise UsageError(f"dtype must be float32 or bfloat16, got {run_keys['dtype']!r}")

    # ---- compute starts here
    import torch
    from transformers import AutoModelForCausalLM

    from .. import __version__
    from ..io_utils import atomic_dir, write_json_atomic, write_jsonl_atomic, write_text_atomic
    from ..train.tlpo_trainer import TLPOTrainer

    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=getattr(torch, run_keys["dtype"]),
                                                 local_files_only=True, trust_remote_code=False)
    peft_config = None
    if run_keys["use_peft"]:
        from peft import LoraConfig

        peft_config = LoraConfig(r=int(run_keys["lora_r"]), lora_alpha=int(run_keys["lora_alpha"]),
                                 lora_dropout=float(run_keys["lora_dropout"]),
                                 target_modules=run_keys["lora_target_modules"], task_type="CAUSAL_LM")
    trainer = TLPOTrainer(model=model, args=config, train_dataset=prompts, processing_class=tok,
                          peft_config=peft_config)
    from ..resume import resolve_resume  # true: the last *complete* checkpoint (none yet: from scratch)

    result = trainer.train(resume_from_checkpoint=resolve_resume(config.resume_from_checkpoint, config.output_dir))

    out = Path(config.output_dir)
    if trainer.is_world_process_zero():
        with atomic_dir(out / "model") as tmp:
            trainer.save_model(str(tmp))
            tok.save_pretrained(str(tmp))
        if run_keys["save_merged"] and run_keys["use_peft"]:
            with atomic_dir(out / "merged") as tmp:
                trainer.model.merge_and_unload().save_pretrained(str(tmp))
                tok.save_pretrained(str(tmp))
        import yaml

        write_text_atomic(out / "config.yaml", raw_text)
        resolved = {**run_keys, **{k: v for k, v in config.to_dict().items()}}
        write_text_atomic(out / "config.resolved.yaml", yaml.safe_dump(resolved, sort_keys=True, allow_unicode=True))
        write_jsonl_atomic(out / "log_history.jsonl", trainer.state.log_history)
        import transformers

        write_json_atomic(out / "manifest.json", {
            "schema_version": 1, "command": "train tlpo", "langlock": __version__,
            "torch": torch.__version__, "transformers": transformers.__version__,
            "model": str(run_keys["model"]), "model_dir": str(model_dir), "seed": config.seed,
            "device": str(trainer.accelerator.device), "num_processes": trainer.accelerator.num_processes,
            "detector": {"profile": "tlpo", "language": config.target_language,
                         "ignore_english": config.ignore_english},
            "num_prompts": len(prompts), "global_steps": trainer.state.global_step,
            "train_runtime_s": result.metrics.get("train_runtime"), "started": started,
            "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "exit_status": 0,
            "outputs": {"model": "model", "merged": "merged" if run_keys["save_merged"] else None},
        })
        print(f"wrote {out / 'model'} ({'LoRA adapter' if run_keys['use_peft'] else 'full model'})")
    return 0
