"""`langlock report RUN_DIR… -o report.html`: one self-contained HTML page comparing runs.

Any mix of run directories: `langlock score -o` / `langlock bench` outputs (results.json + samples.jsonl),
`langlock sweep`, `langlock analyze`, and training runs (log_history.jsonl, evaluations in subfolders).
The first run is the baseline the others are compared with. Plots are embedded as base64 PNG; the page
loads nothing from the network.

Example:
    langlock report runs/before runs/after runs/sweep -o report.html
"""

from __future__ import annotations


def register(subparsers) -> None:
    p = subparsers.add_parser("report", help="HTML report comparing run directories",
                              description=__doc__, formatter_class=__import__("argparse").RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+", metavar="RUN_DIR", help="run directories (the first is the baseline)")
    p.add_argument("-o", "--output", default="report.html", help="HTML file to write (default: report.html)")
    p.add_argument("--names", help="comma-separated display names, one per RUN_DIR (default: directory names)")
    p.add_argument("--title", default="langlock report")
    p.add_argument("--examples", type=int, default=6, help="examples shown per run (default 6)")
    p.set_defaults(func=run, run_dir="output")


def run(args) -> int:
    from ..errors import UsageError
    from ..report import build_report

    if args.examples < 0:
        raise UsageError("--examples must be >= 0")
    names = [n.strip() for n in args.names.split(",")] if args.names else None
    path = build_report(args.runs, args.output, title=args.title, examples=args.examples, names=names)
    print(f"wrote {path}")
    return 0
