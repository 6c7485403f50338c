"""TLPO step time with the rollouts on `transformers` and on a colocated vLLM engine (`use_vllm`), same run.

Both trainers are built by the run API's own pieces from one recipe (default: the SmolLM2-135M-Instruct
Korean recipe, configs/tlpo/smollm2-135m-instruct_ko.yaml: 4 prompts × 4 rollouts of ≤ 48 tokens per step,
16 branches, LoRA r=16): `RunConfig.from_yaml` → `runner.tlpo_config` / `runner.load_prompts` →
`TLPOTrainer` with the recipe's LoRA, the same seed and data order; the only difference is `use_vllm`. Each
side trains `--warmup` + `--steps` optimiser steps; the warm-up steps are not counted. Per step: the wall
time (step begin to step end), and the trainer's own split: `generation` (the rollouts, including the weight
push on the vLLM side), `weight_sync` (the push alone), `branching` and `update`. The two sides sample
different rollouts (different random streams), so they find different numbers of confusion points; the
generation part is the like-for-like number, the step time the end-to-end one. The vLLM engine's start-up
(eager by default: no compilation) is reported apart.

Run in the vLLM environment (`make install-vllm`), one or two threads:

    OMP_NUM_THREADS=1 .venv-vllm/bin/python benchmarks/bench_tlpo_vllm.py --threads 1 --steps 3

From another environment it re-runs itself with .venv-vllm/bin/python when that exists (`make bench`), else
it says so and exits 0.
Last line: RESULT step_s_hf=… step_s_vllm=… speedup=… gen_s_hf=… gen_s_vllm=… gen_speedup=…
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RECIPE = REPO / "configs" / "tlpo" / "smollm2-135m-instruct_ko.yaml"
PARTS = ("generation", "weight_sync", "branching", "update")


def _reexec_in_vllm_env() -> None:
    from langlock.train.vllm_rollouts import vllm_installed

    if vllm_installed():
        return
    python = REPO / ".venv-vllm" / "bin" / "python"
    if python.is_file() and os.environ.get("LANGLOCK_BENCH_REEXEC") != "1":
        os.environ["LANGLOCK_BENCH_REEXEC"] = "1"
        os.execv(str(python), [str(python), *sys.argv])
    print("bench_tlpo_vllm: skipped, needs vLLM: run `make install-vllm` (docs/vllm.md)")
    sys.exit(0)


def _trainer(recipe: Path, overrides: list[str], out: Path):
    """A TLPOTrainer built as `langlock.train.run` builds it (same config, data, model loading, LoRA)."""
    from langlock.models import load_model_and_tokenizer
    from langlock.train import RunConfig
    from langlock.train.runner import load_prompts, tlpo_config
    from langlock.train.tlpo_trainer import TLPOTrainer

    cfg = RunConfig.from_yaml(recipe, [f"output_dir={out}", "save_steps=100000", "disable_tqdm=true", *overrides])
    targs = tlpo_config(cfg)
    data = load_prompts(cfg)
    model, tok, model_path = load_model_and_tokenizer(cfg.model, dtype=cfg.dtype)
    model.config._name_or_path = str(Path(model_path).resolve())
    model.train()
    return TLPOTrainer(model=model, args=targs, train_dataset=data, processing_class=tok,
                       peft_config=cfg.peft.lora_config())


def _measure(trainer, warmup: int) -> dict:
    from transformers import TrainerCallback

    walls: list[float] = []

    class Clock(TrainerCallback):
        def on_step_begin(self, args, state, control, **kw):
            self.t = time.perf_counter()

        def on_step_end(self, args, state, control, **kw):
            walls.append(time.perf_counter() - self.t)

    trainer.add_callback(Clock())
    trainer.train()
    logs = [h for h in trainer.state.log_history if "step_time/generation" in h][warmup:]
    walls = walls[warmup:]
    res = {"step": statistics.mean(walls), "steps": len(walls),
           "cps": statistics.mean(h.get("branches/num_trained", 0.0) for h in logs),
           "length": statistics.mean(h["completions/mean_length"] for h in logs)}
    for part in PARTS:
        res[part] = statistics.mean(h.get(f"step_time/{part}", 0.0) for h in logs)
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", type=Path, default=RECIPE, help="a TLPO recipe (its rollout settings are used)")
    ap.add_argument("--model", help="override the recipe's model")
    ap.add_argument("--steps", type=int, default=3, help="timed optimiser steps per side")
    ap.add_argument("--warmup", type=int, default=1, help="untimed first steps per side")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--compile", action="store_true", help="vLLM's compiled engine (minutes to start on CPU)")
    ap.add_argument("--out", type=Path, default=Path("/tmp/langlock-bench-tlpo-vllm"))
    args = ap.parse_args()
    if args.steps < 1 or args.warmup < 0 or args.threads < 1:
        ap.error("--steps and --threads must be >= 1, --warmup >= 0")
    _reexec_in_vllm_env()
    import torch

    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")  # GiB of KV cache: plenty for 16 rollouts
    torch.set_num_threads(args.threads)
    common = [f"max_steps={args.steps + args.warmup}"] + ([f"model={args.model}"] if args.model else [])

    hf = _measure(_trainer(args.config, common, args.out / "hf"), args.warmup)
    print(f"hf:   step {hf['step']:.2f} s (generation {hf['generation']:.2f}, branching {hf['branching']:.2f}, "
          f"update {hf['update']:.2f}); {hf['cps']:.1f} CPs/step, mean rollout {hf['length']:.1f} tokens", flush=True)
    t0 = time.perf_counter()
    tr = _trainer(args.config, common + ["use_vllm=true", f"vllm_enforce_eager={str(not args.compile).lower()}"],
                  args.out / "vllm")
    start = time.perf_counter() - t0
    assert torch.get_num_threads() == args.threads, torch.get_num_threads()
    vl = _measure(tr, args.warmup)
    print(f"vllm: step {vl['step']:.2f} s (generation {vl['generation']:.2f} incl. weight push "
          f"{vl['weight_sync']:.2f}, branching {vl['branching']:.2f}, update {vl['update']:.2f}); "
          f"{vl['cps']:.1f} CPs/step, mean rollout {vl['length']:.1f} tokens; trainer + engine start {start:.1f} s "
          f"({'compiled' if args.compile else 'eager'})", flush=True)
    print(f"RESULT step_s_hf={hf['step']:.2f} step_s_vllm={vl['step']:.2f} speedup={hf['step'] / vl['step']:.2f} "
          f"gen_s_hf={hf['generation']:.2f} gen_s_vllm={vl['generation']:.2f} "
          f"gen_speedup={hf['generation'] / vl['generation']:.2f} weight_sync_s={vl['weight_sync']:.2f} "
          f"engine_start_s={start:.1f} threads={args.threads} steps={args.steps}")


if __name__ == "__main__":
    main()
