"""`langlock train sft|dpo|orpo|grpo|tbpo --config FILE [KEY=VALUE ...]`: the baselines.

SFT, DPO, ORPO and GRPO are TRL's own trainers; TBPO (`--variant q|a`) is TRL's DPO trainer with the TokenRatio
loss. The YAML holds `langlock.baselines.trl_baselines.BaselineConfig` keys:

  model        model directory, .gguf file or packaged short name (e.g. smollm2-135m-instruct)
  data         JSONL from `langlock data pairs`: sft.jsonl (sft), pairs.jsonl (dpo/orpo/tbpo), prompts.jsonl (grpo)
  output_dir   where OUTPUT_DIR/model (LoRA merged) and OUTPUT_DIR/train_log.json go
  lora         true (default; lora_r, lora_alpha, lora_dropout, lora_target_modules) or false (full fine-tuning)
  max_steps, num_train_epochs, per_device_train_batch_size, gradient_accumulation_steps, learning_rate,
  max_length, seed, beta, language (GRPO reward target), num_generations, max_completion_length,
  tbpo_variant, generator, ...; trl_args: {any other field of the TRL config}

Overrides after the file use the same keys: `max_steps=20 learning_rate=1e-5`.

Example:
    langlock train dpo --config configs/baselines/dpo-smollm2-ko.yaml max_steps=5
    langlock train tbpo --variant a --config configs/baselines/dpo-smollm2-ko.yaml output_dir=runs/tbpo-a
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..errors import UsageError

HELP = {
    "sft": "supervised fine-tuning on clean answers (TRL SFTTrainer)",
    "dpo": "direct preference optimisation on clean-vs-confused pairs (TRL DPOTrainer)",
    "orpo": "odds-ratio preference optimisation (TRL experimental ORPOTrainer)",
    "grpo": "GRPO with the detector-based language-consistency reward (TRL GRPOTrainer)",
    "tbpo": "TokenRatio / TBPO token-level preference optimisation (--variant q|a)",
}


def register_methods(methods) -> None:
    """Add the baseline subcommands to `langlock train`'s method subparsers."""
    for name, text in HELP.items():
        p = methods.add_parser(name, help=text, description=__doc__,
                               formatter_class=argparse.RawDescriptionHelpFormatter)
        p.add_argument("--config", required=True, help="YAML (BaselineConfig keys; see configs/baselines/)")
        if name == "tbpo":
            p.add_argument("--variant", choices=("q", "a"), help="q: baseline head; a: KL advantage (default: config)")
        p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="override config keys")
        p.set_defaults(func=run, baseline_method=name, run_dir="config.output_dir")


def read_config(path: str, overrides: list[str]) -> dict:
    from ..config_io import apply_overrides, read_yaml

    return apply_overrides(read_yaml(path), overrides)


def run(args) -> int:
    from ..baselines.trl_baselines import BaselineConfig, load_rows, train_baseline
    from ..models import resolve_model

    data = read_config(args.config, args.overrides)
    method = args.baseline_method
    if data.get("method", method) != method:
        raise UsageError(f"{args.config} is a {data['method']} config; run `langlock train {data['method']}`")
    data["method"] = method
    if getattr(args, "variant", None):
        data["tbpo_variant"] = args.variant
    cfg = BaselineConfig.from_mapping(data, args.config)
    resolve_model(cfg.model)  # fail on a bad model or data before any compute
    load_rows(cfg)
    log = train_baseline(cfg)
    print(json.dumps({k: log[k] for k in ("method", "global_step", "train_loss", "runtime_s")}))
    print(f"wrote {Path(cfg.output_dir) / 'model'} and train_log.json")
    return 0
