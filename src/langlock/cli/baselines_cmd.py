"""`langlock train sft|dpo|orpo|grpo|tbpo --config FILE [KEY=VALUE ...]`: the baselines.

SFT, DPO, ORPO and GRPO are TRL's own trainers; TBPO (`--variant q|a`) is TRL's DPO trainer with the TokenRatio
loss. Each run goes through `langlock.train.run` like TLPO's: the same recipe keys, LoRA settings and output
layout (see `langlock train tlpo --help`). A recipe without a `method` key serves every method;
PAIRS_DIR is the output directory of `langlock data pairs`.

Examples:
    langlock train dpo --config configs/baselines/dpo-smollm2-ko.yaml max_steps=5
    langlock train tbpo --variant a --config configs/baselines/dpo-smollm2-ko.yaml output_dir=OUT_DIR
    langlock train grpo --config configs/baselines/dpo-smollm2-ko.yaml data=PAIRS_DIR/prompts.jsonl
"""

from __future__ import annotations

import argparse

HELP = {
    "sft": "supervised fine-tuning on clean answers (TRL SFTTrainer)",
    "dpo": "direct preference optimisation on clean-vs-confused pairs (TRL DPOTrainer)",
    "orpo": "odds-ratio preference optimisation (TRL experimental ORPOTrainer)",
    "grpo": "GRPO with the detector-based language-consistency reward (TRL GRPOTrainer)",
    "tbpo": "TokenRatio / TBPO token-level preference optimisation (--variant q|a)",
}


def register_methods(methods) -> None:
    """Add the baseline subcommands to `langlock train`'s method subparsers."""
    from .train_cmd import run

    for name, text in HELP.items():
        p = methods.add_parser(name, help=text, description=__doc__,
                               formatter_class=argparse.RawDescriptionHelpFormatter)
        p.add_argument("--config", required=True, help="YAML recipe (see configs/baselines/)")
        if name == "tbpo":
            p.add_argument("--variant", choices=("q", "a"), help="q: baseline head; a: KL advantage (default: config)")
        p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="override config keys")
        p.set_defaults(func=run, train_method=name, run_dir="config.output_dir")
