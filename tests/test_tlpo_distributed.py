"""TLPO under `accelerate launch --multi_gpu --num_processes 2` on a CPU-only run (`use_cpu=True`: DDP over
gloo; with `--cpu` accelerate starts a single process) (slow): both ranks take the same optimiser
steps (DDP keeps the adapter identical), including steps where one rank found no confusion point."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from _tlpo_fixtures import smollm2_tokenizer

SCRIPT = textwrap.dedent(
    """
    import json, sys
    import torch
    from peft import LoraConfig
    from transformers import AutoTokenizer
    sys.path.insert(0, sys.argv[3])
    from _tlpo_fixtures import tiny_llama
    from test_tlpo_trainer import LetterDetector, PROMPTS
    from langlock.train.tlpo_config import TLPOConfig
    from langlock.train.tlpo_trainer import TLPOTrainer

    tok = AutoTokenizer.from_pretrained(sys.argv[1])
    cfg = TLPOConfig(output_dir=sys.argv[2], use_cpu=True, max_steps=2, per_device_train_batch_size=1,
                     num_generations=2, max_completion_length=10, confusion_check_every=4, num_branches=4,
                     branch_length=2, learning_rate=1e-2, warmup_steps=0, save_strategy="no", seed=3,
                     disable_tqdm=True, ddp_backend="gloo")
    tr = TLPOTrainer(model=tiny_llama(len(tok), seed=0), args=cfg, train_dataset=[{"prompt": p} for p in PROMPTS],
                     processing_class=tok, detector=LetterDetector(),
                     peft_config=LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj"], task_type="CAUSAL_LM"))
    tr.train()
    lora = {k: v for k, v in tr.model.state_dict().items() if "lora_" in k}
    rank = tr.accelerator.process_index
    total = float(sum(v.double().abs().sum() for v in lora.values()))
    json.dump({"rank": rank, "world": tr.accelerator.num_processes, "lora_abs_sum": total,
               "logs": tr.state.log_history}, open(f"{sys.argv[2]}/rank{rank}.json", "w"))
    """
)


@pytest.mark.slow
def test_two_cpu_processes_with_accelerate(tmp_path):
    tok = smollm2_tokenizer()
    tok_dir = tmp_path / "tok"
    tok.save_pretrained(tok_dir)
    script = tmp_path / "run.py"
    script.write_text(SCRIPT)
    out = tmp_path / "out"
    out.mkdir()
    launcher = Path(sys.executable).with_name("accelerate")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run(
        [str(launcher), "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1", "--mixed_precision", "no",
         "--dynamo_backend", "no", str(script), str(tok_dir), str(out), str(Path(__file__).parent)],
        capture_output=True, text=True, timeout=900, env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    ranks = [json.loads((out / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert all(r["world"] == 2 for r in ranks)
    assert ranks[0]["lora_abs_sum"] == ranks[1]["lora_abs_sum"]  # DDP: identical adapters on both ranks
    steps = [h for h in ranks[0]["logs"] if "branches/num_trained" in h]
    assert len(steps) == 2 and any(h["branches/num_trained"] > 0 for h in steps)
