"""The generation log `generations.jsonl`: one JSON line per finished completion, flushed as it finishes.

A killed run leaves at most one incomplete last line; `read_log` ignores it and `GenerationLog` cuts it off
before appending, so resuming regenerates only the prompts whose line is missing.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..errors import InputError

LOG_NAME = "generations.jsonl"


def read_log(path: Path) -> tuple[dict[str, dict], int]:
    """Entries by key, and the byte length of the complete lines (where appending must resume)."""
    entries: dict[str, dict] = {}
    if not path.exists():
        return entries, 0
    data = path.read_bytes()
    good = 0
    pos = 0
    while pos < len(data):
        nl = data.find(b"\n", pos)
        if nl < 0:
            break  # a line cut by a kill: dropped, regenerated
        line = data[pos:nl]
        pos = nl + 1
        if line.strip():
            try:
                row = json.loads(line.decode("utf-8"))
            except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
                row = None
            if not isinstance(row, dict) or not isinstance(row.get("key"), str):
                raise InputError(f"{path}: corrupt line at byte {pos - len(line) - 1}; "
                                 "delete the file or use a new --output-dir")
            entries[row["key"]] = row
        good = pos
    return entries, good


class GenerationLog:
    """Append-only writer; each `append` writes one line and flushes it to the OS."""

    def __init__(self, path: Path):
        self.path = path
        self.entries, good = read_log(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(path, "ab")  # noqa: SIM115 - kept open for the run, closed in close()
        if self._fh.tell() != good:
            self._fh.truncate(good)
            self._fh.seek(good)

    def append(self, row: dict) -> None:
        self._fh.write((json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8"))
        self._fh.flush()
        self.entries[row["key"]] = row

    def close(self) -> None:
        if not self._fh.closed:
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._fh.close()
