"""A small, real layer-swap experiment on CPU (SmolLM2-135M-Instruct), end to end and resumable: a recipe
script over the library (`langlock.merge`, `langlock.generate`), not part of the installed package.

    python scripts/merge_experiment.py --lang ko --out runs/merge_exp [--steps 60] [--lr 3e-4] [--n-eval 20]

1. base: the packaged SmolLM2-135M-Instruct (`langlock.models.resolve_model`, converted from its GGUF);
2. language expert: LoRA SFT (TRL `SFTTrainer` + PEFT) on chatterbot-corpus conversations in the target
   language, then folded into the base with `langlock merge apply-adapter`;
3. task expert: LoRA SFT on English arithmetic word problems generated like `builtin-retention`'s (fresh
   seed, answers as digits), folded the same way;
4. `langlock merge analyze` of both experts against the base (table, CSV, heat-map) and its suggested (b, u);
5. merges: layer swap with the suggested zones, layer swap with the paper's default shape, soup, TIES;
6. evaluation of every model on the target-language arithmetic prompts of `builtin-retention` (greedy, with
   the generation core `langlock.generate.hf`): task accuracy (`suites.retention.check`) and LPR (share of responses the `lcb` detector passes).

Every step writes into `--out` and is skipped when its output exists, so a rerun resumes.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import sys
from pathlib import Path

logger = logging.getLogger(__name__)

CHATTERBOT_DIRS = {"ko": "korean", "es": "spanish", "fr": "french", "de": "german", "ja": "japanese",
                   "ru": "russian"}


def lang_sft_rows(lang: str) -> list[dict]:
    """Consecutive turns of every chatterbot-corpus conversation as (user, assistant) pairs."""
    import chatterbot_corpus
    import yaml

    root = Path(chatterbot_corpus.__file__).parent / "data" / CHATTERBOT_DIRS[lang]
    rows = []
    for f in sorted(root.glob("*.yml")):
        data = yaml.safe_load(f.read_text(encoding="utf-8")) or {}
        for conv in data.get("conversations") or []:
            conv = [str(t) for t in conv if t is not None]
            for q, a in zip(conv, conv[1:]):
                rows.append({"prompt": [{"role": "user", "content": q}],
                             "completion": [{"role": "assistant", "content": a}]})
    return rows


def task_sft_rows(n: int, seed: int = 12345) -> list[dict]:
    """English arithmetic word problems (the `builtin-retention` template, other operands), digit answers."""
    from num2words import num2words

    from langlock.suites.data import load_json

    template = load_json("retention.json")["arith"]["en"]
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        a, b = rng.randint(3, 19), rng.randint(2, 12)
        words = rng.random() < 0.5
        text = template.format(a=num2words(a) if words else a, b=num2words(b) if words else b)
        rows.append({"prompt": [{"role": "user", "content": text}],
                     "completion": [{"role": "assistant", "content": str(a + b)}]})
    return rows


def train_lora(base: Path, rows: list[dict], out: Path, steps: int, seed: int, lr: float = 3e-4) -> None:
    """LoRA SFT with TRL on CPU (loss on the completion only), adapter saved to `out`."""
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    from langlock.train import PeftSettings

    args = SFTConfig(output_dir=str(out) + ".trainer", max_steps=steps, per_device_train_batch_size=8,
                     learning_rate=lr, lr_scheduler_type="constant", logging_steps=1, save_strategy="no",
                     report_to="none", use_cpu=True, bf16=False, seed=seed, max_length=128,
                     dataloader_num_workers=0, gradient_checkpointing=False)
    lora = PeftSettings(r=16, alpha=32, dropout=0.0, target_modules=[
        "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]).lora_config()
    trainer = SFTTrainer(model=str(base), args=args, train_dataset=Dataset.from_list(rows), peft_config=lora)
    trainer.train()
    trainer.model.save_pretrained(out)
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    (out / "train_losses.json").write_text(json.dumps(losses))


def evaluate(model_dir: Path, lang: str, n_eval: int, max_new_tokens: int = 32) -> dict:
    """Greedy answers to the target-language arithmetic prompts: accuracy and LPR."""
    from langlock.detect import get_detector
    from langlock.generate import GenerationSettings, PromptItem
    from langlock.generate.hf import HFGenerator
    from langlock.suites.retention import check, retention_prompts

    prompts = [p for p in retention_prompts(langs=[lang], seed=0, per_kind=n_eval) if p.meta["kind"] == "arith"]
    gen = HFGenerator(str(model_dir), batch_size=10)
    texts: dict[str, str] = {}
    gen.generate([PromptItem(str(i), p.prompt, lang) for i, p in enumerate(prompts)],
                 GenerationSettings(max_new_tokens=max_new_tokens, temperature=0.0),
                 lambda c: texts.__setitem__(c.key, c.text))
    completions = [texts[str(i)] for i in range(len(prompts))]
    detector = get_detector("lcb", lang)
    correct = [check(p, c) for p, c in zip(prompts, completions)]
    passed = [detector.detect(c).status == "pass" for c in completions]
    return {"n": len(prompts), "accuracy": sum(correct) / len(prompts), "lpr": sum(passed) / len(prompts),
            "samples": [{"prompt": p.prompt, "completion": c, "correct": k, "lang_pass": s}
                        for p, c, k, s in zip(prompts, completions, correct, passed)]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lang", default="ko", choices=sorted(CHATTERBOT_DIRS))
    ap.add_argument("--out", required=True)
    ap.add_argument("--steps", type=int, default=60, help="LoRA SFT steps per expert (batch 8)")
    ap.add_argument("--lr", type=float, default=3e-4, help="LoRA learning rate (constant)")
    ap.add_argument("--n-eval", type=int, default=20, help="target-language arithmetic prompts")
    ap.add_argument("--task-examples", type=int, default=480)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)

    import time

    from langlock.merge.analyze import analyze, format_table, write_outputs
    from langlock.merge.apply_adapter import apply_adapter
    from langlock.merge.execute import run_plan
    from langlock.merge.io import Checkpoint
    from langlock.merge.plan import plan_layer_swap, plan_soup, plan_ties
    from langlock.models import resolve_model

    t_start = time.perf_counter()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    base = resolve_model("smollm2-135m-instruct")
    experts = {}
    for name, rows_fn, seed in (("lang", lambda: lang_sft_rows(args.lang), 1),
                                ("task", lambda: task_sft_rows(args.task_examples), 2)):
        merged = out / f"{name}_expert"
        if not merged.exists():
            adapter = out / f"{name}_adapter"
            if not (adapter / "adapter_model.safetensors").exists():
                rows = rows_fn()
                logger.info("training %s expert on %d rows for %d steps", name, len(rows), args.steps)
                train_lora(base, rows, adapter, args.steps, seed, args.lr)
            apply_adapter(base, adapter, merged)
        experts[name] = merged

    analysis_dir = out / "analysis"
    res = analyze(base, [experts["lang"], experts["task"]], top_fraction=0.05)
    table = format_table(res)
    if not analysis_dir.exists():
        write_outputs(res, analysis_dir)
    print(table)
    s = res.suggestion
    task_ck, lang_ck = Checkpoint(experts["task"]), Checkpoint(experts["lang"])
    n_layers = res.num_layers
    merges = {
        f"swap_suggested_b{s['bottom']}_u{s['top']}": lambda: plan_layer_swap(
            task_ck, lang_ck, s["bottom"], s["top"], s["transition_bottom"], s["transition_top"]),
        "swap_paper_b5_u2_t1": lambda: plan_layer_swap(task_ck, lang_ck, 5, 2, 1, 1),
        "soup": lambda: plan_soup([task_ck, lang_ck]),
        "ties_paper_d0.2": lambda: plan_ties(Checkpoint(base), [task_ck, lang_ck], density=0.2),
    }
    models = {"base": Path(base), "lang_expert": experts["lang"], "task_expert": experts["task"]}
    for name, make in merges.items():
        target = out / name
        if not target.exists():
            plan = make()
            run_plan(plan, target, {"method": plan.method, **plan.options})
        models[name] = target

    results_path = out / "results.json"
    results = json.loads(results_path.read_text()) if results_path.exists() else {}
    for name, path in models.items():
        if name not in results:
            logger.info("evaluating %s", name)
            results[name] = evaluate(path, args.lang, args.n_eval)
            results_path.write_text(json.dumps(results, ensure_ascii=False, indent=1))
    lines = [f"| model | {args.lang} arithmetic accuracy | LPR ({args.lang}) | n |", "|---|---:|---:|---:|"]
    for name in models:
        r = results[name]
        lines.append(f"| {name} | {100 * r['accuracy']:.1f}% | {100 * r['lpr']:.1f}% | {r['n']} |")
    report = "\n".join(lines)
    (out / "report.md").write_text(f"{table}\n\n{report}\n\nlayers: {n_layers}\n", encoding="utf-8")
    print(report)
    logger.info("experiment done in %.0f s", time.perf_counter() - t_start)
    return 0


if __name__ == "__main__":
    sys.exit(main())
