"""Strict JSON/JSONL reading shared by the data builders: one clear `InputError` naming file and line."""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import InputError


def read_rows(path: str | Path, what: str = "records") -> list[dict]:
    """Read a JSONL file (one object per line) or a JSON list of objects; blank lines are skipped.

    Raises `InputError` for a missing file, malformed JSON (with the line number), a non-object row, or a
    file with no rows at all.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    try:
        text = path.read_text(encoding="utf-8", errors="strict")
    except UnicodeDecodeError as err:
        raise InputError(f"{path}: not valid UTF-8 (byte offset {err.start})") from None
    stripped = text.lstrip()
    rows: list = []
    if stripped.startswith("["):
        try:
            rows = json.loads(text)
        except json.JSONDecodeError as err:
            raise InputError(f"{path}: malformed JSON at line {err.lineno}: {err.msg}") from None
        except RecursionError:
            raise InputError(f"{path}: malformed JSON: nested too deeply") from None
    else:
        for n, line in enumerate(text.split("\n"), 1):  # not splitlines: JSON strings may hold U+2028, \x85
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as err:
                raise InputError(f"{path}:{n}: malformed JSON line: {err.msg}") from None
            except RecursionError:
                raise InputError(f"{path}:{n}: malformed JSON line: nested too deeply") from None
    for n, row in enumerate(rows, 1):
        if not isinstance(row, dict):
            raise InputError(f"{path}: {what} row {n} is {type(row).__name__}, expected a JSON object")
    if not rows:
        raise InputError(f"{path}: no {what} (the file is empty)")
    return rows


def user_text(prompt) -> str:
    """The user's text of a prompt given as a string or a list of chat messages (last user message)."""
    if isinstance(prompt, str):
        return prompt
    if isinstance(prompt, list):
        for msg in reversed(prompt):
            if isinstance(msg, dict) and msg.get("role") == "user" and isinstance(msg.get("content"), str):
                return msg["content"]
    raise InputError(f"prompt must be a string or a list of chat messages with a user turn, got {prompt!r:.80}")


def as_messages(text: str, role: str) -> list[dict]:
    return [{"role": role, "content": text}]
