"""`langlock demo`: the main job on the embedded default.

Scores the project's own sample completions (10 languages, monolingual and cross-lingual, several with
deliberate confusions) with both detector profiles, prints the per-language LPR / WPR / LCPR table and the
first confusion point of each confused sample, and writes the results to `--output-dir`.
"""

from __future__ import annotations

import argparse
import sys
from importlib import resources


def register(sub) -> None:
    p = sub.add_parser("demo", help="run the embedded demo", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-o", "--output-dir", default="runs/demo", help="where to write results (default: runs/demo)")
    p.set_defaults(func=run)


def _excerpt(text: str, at: int, width: int = 28) -> str:
    left = text[max(0, at - width // 2) : at].replace("\n", "⏎")
    right = text[at : at + width].replace("\n", "⏎")
    return f"…{left}⟦{right}…"


def run(args) -> int:
    from pathlib import Path

    from ..score.format import to_table
    from ..score.metrics import score_records
    from ..score.records import read_jsonl
    from ..score.writers import detector_settings, write_outputs

    src = resources.files("langlock") / "data" / "demo_completions.jsonl"
    with resources.as_file(src) as path:
        records = read_jsonl(Path(path))
    out = sys.stdout
    for profile, opts in (("lcb", {}), ("tlpo", {"ignore_english": False})):
        report = score_records(records, profile, **opts)
        out.write(f"\n== profile {profile} {opts or ''}: {len(records)} sample completions ==\n")
        out.write(to_table(report, levels=("language", "overall")))
        out.write("first confusion points:\n")
        for rec, det in report.samples:
            if det is not None and det.confused and det.first_confusion_char >= 0:
                out.write(f"  {rec.language} {rec.task:12s} @{det.first_confusion_char:3d}  "
                          f"{_excerpt(rec.completion, det.first_confusion_char)}\n")
        write_outputs(report, Path(args.output_dir) / profile, detector_settings(profile, **opts))
    out.write(f"\nresults written to {args.output_dir}/{{lcb,tlpo}}\n")
    return 0
