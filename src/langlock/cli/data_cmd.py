"""`langlock data prompts|sample|pairs`: build training data the way the TLPO pipeline does.

    langlock data prompts --pool bactrian_ko.jsonl --lang ko -o work/ko/prompts.jsonl [--rules rules.yaml]
    langlock data sample  --prompts work/ko/prompts.jsonl --model smollm2-135m-instruct -n 16 -o work/ko/samples.jsonl
    langlock data pairs   --samples work/ko/samples.jsonl --lang ko -o work/ko/pairs-ief [--no-ignore-english]
    langlock data instruct --lcb-dir ../shared/lcb --holdout-langs ko,ja -o work/instruct   # instruction data

`sample` is resumable: rerun the same command after an interruption and it continues where it stopped.
Outputs are TRL datasets (conversational): pairs.jsonl (DPO/ORPO/TBPO), sft.jsonl (SFT), prompts.jsonl (GRPO/TLPO).
"""

from __future__ import annotations

import argparse
import json
import sys


def register(sub) -> None:
    p = sub.add_parser("data", help="build prompts, samples and preference/SFT data", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    steps = p.add_subparsers(dest="step", metavar="STEP")
    steps.required = True

    q = steps.add_parser("prompts", help="filter a prompt pool (TLPO rules, configurable)")
    q.add_argument("--pool", required=True, help="JSONL or JSON list with question/prompt/instruction(+input)")
    q.add_argument("--lang", required=True, help="target language code")
    q.add_argument("-o", "--output", required=True, help="output JSONL")
    q.add_argument("--rules", metavar="YAML", help="override filter rules (see langlock.databuild.prompts)")
    q.add_argument("--limit", type=int, help="keep at most this many prompts (first ones after filtering)")
    q.set_defaults(func=run_prompts, run_dir="output")

    s = steps.add_parser("sample", help="N completions per prompt from a model (resumable)")
    s.add_argument("--prompts", required=True, help="prompts JSONL from `langlock data prompts`")
    s.add_argument("--model", required=True, help="model directory, .gguf file or short name")
    s.add_argument("-n", type=int, default=16, help="completions per prompt (default 16, as TLPO)")
    s.add_argument("-o", "--output", required=True, help="output JSONL (appended to when resuming)")
    s.add_argument("--temperature", type=float, default=0.7)
    s.add_argument("--top-p", type=float, default=1.0)
    s.add_argument("--max-new-tokens", type=int, default=256)
    s.add_argument("--repetition-penalty", type=float, default=1.0)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--limit", type=int, help="only the first N prompts")
    s.add_argument("--dtype", default="float32")
    s.add_argument("--device", default="cpu")
    s.set_defaults(func=run_sample, run_dir="output")

    r = steps.add_parser("pairs", help="detector verdicts -> pairs.jsonl, sft.jsonl, prompts.jsonl")
    r.add_argument("--samples", required=True, help="samples JSONL from `langlock data sample`")
    r.add_argument("--lang", required=True)
    r.add_argument("-o", "--output-dir", required=True)
    r.add_argument("--profile", choices=("tlpo", "lcb"), default="tlpo")
    r.add_argument("--no-ignore-english", dest="ignore_english", action="store_false",
                   help="English counts as confusion (TLPO's English-as-confusion setting)")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--min-chars", type=int, default=1, help="completions shorter than this are unusable")
    r.add_argument("--sft-source", choices=("auto", "reference", "clean"), default="auto")
    r.add_argument("--skip-as-clean", action="store_true",
                   help="count completions the detector cannot judge as clean (TLPO's script did)")
    r.set_defaults(func=run_pairs, run_dir="output_dir")

    i = steps.add_parser("instruct", help="SFT rows for instruction-tuning a base model, from the benchmark's "
                                          "strong-model answers, disjoint from held-out evaluation prompts")
    i.add_argument("--lcb-dir", required=True, help="the benchmark folder (outputs/ and test_sets/)")
    i.add_argument("-o", "--output-dir", required=True)
    i.add_argument("--outputs-model", default="command-r-plus",
                   help="whose answers: outputs/MODEL.csv (comma-separated for several: one row per model and prompt)")
    i.add_argument("--holdout-langs", default="ko,ja",
                   help="languages kept out entirely, for evaluation (comma-separated; default ko,ja)")
    i.add_argument("--holdout-sources", default="okapi", help="sources kept out entirely (default okapi)")
    i.add_argument("--max-answer-chars", type=int, default=1200)
    i.add_argument("--max-overlap", type=float, default=0.3,
                   help="drop a training prompt sharing this share of its 8-character n-grams with held-out prompts")
    i.add_argument("--seed", type=int, default=0)
    i.set_defaults(func=run_instruct, run_dir="output_dir")


def _print(obj) -> None:
    print(json.dumps(obj, ensure_ascii=False, indent=2))


def run_prompts(args) -> int:
    from ..databuild.prompts import FilterRules, build_prompts

    stats = build_prompts(args.pool, args.lang, args.output, FilterRules.from_file(args.rules), limit=args.limit)
    _print(stats)
    return 0


def run_sample(args) -> int:
    from ..databuild.sample import SampleSettings, sample_file

    settings = SampleSettings(model=str(args.model), n=args.n, temperature=args.temperature, top_p=args.top_p,
                              max_new_tokens=args.max_new_tokens, repetition_penalty=args.repetition_penalty,
                              seed=args.seed)

    def progress(done: int, total: int) -> None:
        print(f"\rsampled {done}/{total}", end="", file=sys.stderr, flush=True)

    stats = sample_file(args.prompts, args.output, settings, limit=args.limit, dtype=args.dtype, device=args.device,
                        progress=progress)
    print(file=sys.stderr)
    _print(stats)
    return 0


def run_pairs(args) -> int:
    from ..databuild.pairs import build_pairs

    stats = build_pairs(args.samples, args.lang, args.output_dir, profile=args.profile,
                        ignore_english=args.ignore_english, seed=args.seed, min_chars=args.min_chars,
                        sft_source=args.sft_source, skip_as_clean=args.skip_as_clean)
    _print(stats)
    return 0


def run_instruct(args) -> int:
    from ..databuild.instruct import InstructSettings, build_instruct

    def codes(text: str) -> tuple[str, ...]:
        return tuple(x.strip() for x in text.split(",") if x.strip())

    settings = InstructSettings(lcb_dir=args.lcb_dir, outputs_model=args.outputs_model,
                                holdout_langs=codes(args.holdout_langs), holdout_sources=codes(args.holdout_sources),
                                max_answer_chars=args.max_answer_chars, max_overlap=args.max_overlap, seed=args.seed)
    _print(build_instruct(settings, args.output_dir))
    return 0
