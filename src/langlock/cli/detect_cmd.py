"""`langlock detect --lang ko [FILE|-]`: one JSON line per input line with the verdict, confusion spans
and `first_confusion_char`, for quick checks and scripting. With `--jsonl`, each input line is a JSON
object with a `text` (and optionally `language`) field instead of plain text.

Example:
    echo '안녕하세요. 저는 student입니다.' | langlock detect --lang ko --profile tlpo --no-ignore-english
"""

from __future__ import annotations

import argparse
import json
import sys

from .score_cmd import add_detector_options, detector_options


def register(sub) -> None:
    p = sub.add_parser("detect", help="mark confusion spans in text (JSON lines)", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input", nargs="?", default="-", metavar="FILE|-", help="text, one item per line (default: stdin)")
    p.add_argument("--lang", required=True, help="target language code, e.g. ko")
    p.add_argument("--jsonl", action="store_true", help="input lines are JSON objects with a 'text' field")
    p.add_argument("--lines", action="store_true", help="include per-line verdicts in the output")
    add_detector_options(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from ..detect.lines import detect_lines

    rows = detect_lines(args.input, args.lang, args.profile, jsonl=args.jsonl, with_lines=args.lines,
                        **detector_options(args))
    sys.stdout.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    return 0
