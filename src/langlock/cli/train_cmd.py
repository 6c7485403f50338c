"""`langlock train METHOD --config FILE [KEY=VALUE ...]`: one training run (`langlock.train.run`).

METHOD is tlpo (token-level policy optimisation) or a baseline: sft, dpo, orpo, grpo, tbpo. The YAML is a
flat `langlock.train.RunConfig` recipe; the keys every method shares:

  model               model directory, .gguf file, LoRA adapter directory or packaged short name
                      (e.g. smollm2-135m-instruct)
  data                tlpo: a prompt suite (builtin-train; prompt_task all|monolingual|crosslingual) or a JSONL
                      with a "prompt" (text or chat messages), e.g. prompts.jsonl of `langlock data pairs`;
                      sft: sft.jsonl, dpo/orpo/tbpo: pairs.jsonl, grpo: prompts.jsonl (`langlock data pairs`)
                      (older TLPO recipes call it `prompts`)
  output_dir          where the run goes (below)
  language            target language (`target_language` in TLPO recipes)
  seed, max_steps, per_device_train_batch_size, learning_rate (default 1e-4 with LoRA, 5e-6 full)
  use_peft            LoRA (default true; `lora` also works); lora_r, lora_alpha, lora_dropout (default 0),
                      lora_target_modules
  dtype               float32 | bfloat16 | float16 (weights; default float32)
  save_merged         also write the LoRA-merged full model to OUTPUT_DIR/merged (default false)
  limit               use only the first N rows (`max_prompts` in TLPO recipes)
Method keys: tlpo takes every `TLPOConfig` field (num_generations, num_branches, beta, save_steps, ...);
the baselines take `BaselineArgs` fields (beta, num_generations, tbpo_variant, max_length, trl_args, ...).
Overrides after the file use the same keys: `max_steps=20 learning_rate=1e-5`.

Every method writes OUTPUT_DIR/model (LoRA adapter or full model + tokenizer), config.resolved.yaml,
log_history.jsonl and results.json (the manifest, last; a finished run is not retrained). TLPO checkpoints go to
OUTPUT_DIR/checkpoint-N and an interrupted run resumes from the last one.

Examples (PAIRS_DIR: the output directory of `langlock data pairs`):
    langlock train tlpo --config configs/tlpo/smollm2-135m-instruct_ko.yaml max_steps=5
    langlock train tlpo --config configs/tlpo/smollm2-135m-instruct_ko.yaml data=PAIRS_DIR/prompts.jsonl
    langlock train dpo --config configs/baselines/dpo-smollm2-ko.yaml max_steps=5
"""

from __future__ import annotations

import argparse
import json


def register(sub) -> None:
    p = sub.add_parser("train", help="train a model against language confusion (tlpo or a baseline)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    methods = p.add_subparsers(dest="method", metavar="METHOD")
    methods.required = True
    t = methods.add_parser("tlpo", help="token-level policy optimisation", description=__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    t.add_argument("--config", required=True, help="YAML recipe (see configs/tlpo/)")
    t.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="override config keys")
    t.set_defaults(func=run, train_method="tlpo", run_dir="config.output_dir")
    from .baselines_cmd import register_methods  # sft, dpo, orpo, grpo, tbpo

    register_methods(methods)


def run(args) -> int:
    from ..train import RunConfig, run

    overrides = list(args.overrides)
    if getattr(args, "variant", None):
        overrides.append(f"tbpo_variant={args.variant}")
    result = run(RunConfig.from_yaml(args.config, overrides, method=args.train_method))
    print(json.dumps({"method": result.method, "global_step": result.global_step,
                      "train_loss": result.train_loss, "runtime_s": result.runtime_s, "skipped": result.skipped}))
    print(f"{'finished run reused' if result.skipped else 'wrote'}: {result.output_dir}")
    return 0
