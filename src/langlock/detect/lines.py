"""`langlock detect`'s work: judge every line of a text file (or stdin), each line a text or, with `jsonl`, a
JSON object with a ``text`` field; one JSON object per judged line comes back (the verdict, confusion spans and
``first_confusion_char``; per-line verdicts with `with_lines`). Bad input raises `InputError` naming file and
line.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ..errors import InputError
from . import get_detector


def read_lines(path: str) -> tuple[str, list[str]]:
    """(display name, lines) of `path` ("-": stdin), decoded as UTF-8."""
    if path == "-":
        data, name = sys.stdin.buffer.read(), "<stdin>"
    else:
        p = Path(path)
        if p.is_dir():
            raise InputError(f"{path}: is a directory, expected a file")
        if not p.exists():
            raise InputError(f"{path}: no such file")
        data, name = p.read_bytes(), path
    try:
        return name, data.decode("utf-8").splitlines()
    except UnicodeDecodeError as err:
        raise InputError(f"{name}: not valid UTF-8 (byte offset {err.start})") from None


def detect_lines(path: str, language: str, profile: str = "lcb", *, jsonl: bool = False, with_lines: bool = False,
                 **options) -> list[dict]:
    """One result object per line of `path` (blank lines are skipped in `jsonl` mode)."""
    detector = get_detector(profile, language, **options)
    name, lines = read_lines(path)
    out = []
    for n, line in enumerate(lines, 1):
        if jsonl:
            if not line.strip():
                continue
            try:
                text = json.loads(line)["text"]
            except (json.JSONDecodeError, KeyError, TypeError):
                raise InputError(f"{name}:{n}: expected a JSON object with a 'text' field") from None
            if not isinstance(text, str):
                raise InputError(f"{name}:{n}: 'text' must be a string")
        else:
            text = line
        out.append({"text": text, **detector.detect(text).to_dict(with_lines=with_lines)})
    return out
