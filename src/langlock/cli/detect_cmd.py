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


def _read_lines(path: str):
    from ..errors import InputError

    if path == "-":
        data = sys.stdin.buffer.read()
        name = "<stdin>"
    else:
        from pathlib import Path

        p = Path(path)
        if p.is_dir():
            raise InputError(f"{path}: is a directory, expected a file")
        if not p.exists():
            raise InputError(f"{path}: no such file")
        data, name = p.read_bytes(), path
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise InputError(f"{name}: not valid UTF-8 (byte offset {err.start})") from None
    return name, text.splitlines()


def run(args) -> int:
    from ..detect import get_detector
    from ..errors import InputError

    detector = get_detector(args.profile, args.lang, **detector_options(args))
    name, lines = _read_lines(args.input)
    out = []
    for n, line in enumerate(lines, 1):
        if args.jsonl:
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
                text = obj["text"]
            except (json.JSONDecodeError, KeyError, TypeError):
                raise InputError(f"{name}:{n}: expected a JSON object with a 'text' field") from None
        else:
            text = line
        det = detector.detect(text)
        out.append(json.dumps({"text": text, **det.to_dict(with_lines=args.lines)}, ensure_ascii=False))
    sys.stdout.write("".join(s + "\n" for s in out))
    return 0
