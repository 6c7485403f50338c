"""Benchmark prompts: the `BenchPrompt` type and the loader of the LCB `test_sets` folder.

`load_lcb(test_dir, ...)` reads `{monolingual,crosslingual}/<source>/<lang>.csv` (the benchmark's layout;
`id` = row index inside the file, the benchmark's own join key). Bad input raises one clear line:
a missing folder, a malformed CSV (file and row), a row whose language differs from its file name.
"""

from __future__ import annotations

import csv
import io
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import InputError, UsageError
from ..languages import check_language

TASKS = ("monolingual", "crosslingual")


@dataclass(frozen=True)
class BenchPrompt:
    """One prompt of a run. `key` is unique within a run and stable across runs."""

    task: str
    source: str
    language: str
    id: str
    prompt: str
    meta: dict = field(default_factory=dict, compare=False)

    @property
    def key(self) -> str:
        return f"{self.task}/{self.source}/{self.language}/{self.id}"

    def to_dict(self) -> dict:
        return asdict(self)


def parse_tasks(task: str) -> tuple[str, ...]:
    if task == "all":
        return TASKS
    if task not in TASKS:
        raise UsageError(f"unknown --task {task!r}; choose monolingual, crosslingual or all")
    return (task,)


def parse_langs(langs) -> list[str] | None:
    """`"ko,ja"` or a list -> validated codes (None = all). Unknown codes are a `UsageError`."""
    if langs is None or langs == "" or langs == []:
        return None
    items = langs.split(",") if isinstance(langs, str) else list(langs)
    return [check_language(x) for x in items if x.strip()]


def read_prompt_csv(path: Path) -> list[dict]:
    """Rows of one test-set CSV as dicts; `InputError` naming file and row on any malformation."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise InputError(f"{path}: not valid UTF-8 (byte offset {err.start})") from None
    except OSError as err:
        raise InputError(f"{path}: cannot read: {err.strerror}") from None
    csv.field_size_limit(sys.maxsize)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)  # csv's own line ends, not splitlines'
    rows: list[dict] = []
    try:
        header = next(reader, None)
        if not header or "prompt" not in header or "language" not in header:
            raise InputError(f"{path}: malformed CSV: header must have 'prompt' and 'language' columns, got {header}")
        for row in reader:
            if not row:
                continue
            if len(row) != len(header):
                raise InputError(f"{path}: malformed CSV at line {reader.line_num}: {len(row)} fields, "
                                 f"header has {len(header)}")
            rows.append(dict(zip(header, row)))
    except csv.Error as err:
        raise InputError(f"{path}: malformed CSV at line {reader.line_num}: {err}") from None
    return rows


def load_lcb(test_dir, task: str = "all", langs=None, sources=None, limit: int | None = None) -> list[BenchPrompt]:
    """Prompts of the LCB test sets under `test_dir` (the benchmark's `test_sets` folder).

    `sources` filters by folder name or `source` value (e.g. `aya` or `aya_human_annotated`); `limit`
    keeps the first N rows of each (source, language) file.
    """
    root = Path(test_dir)
    if not root.is_dir():
        raise InputError(f"LCB test-set folder {root} does not exist")
    tasks = parse_tasks(task)
    wanted = parse_langs(langs)
    srcs = {s.strip() for s in sources.split(",")} if isinstance(sources, str) else (set(sources) if sources else None)
    if limit is not None and limit < 1:
        raise UsageError(f"--limit must be >= 1, got {limit}")
    if not any((root / t).is_dir() for t in tasks):
        raise InputError(f"{root}: no {' or '.join(tasks)} folder (pass the benchmark's test_sets folder)")
    out: list[BenchPrompt] = []
    for t in tasks:
        for src_dir in sorted(p for p in (root / t).glob("*") if p.is_dir()):
            for csv_path in sorted(src_dir.glob("*.csv")):
                lang = csv_path.stem
                if wanted is not None and lang not in wanted:
                    continue
                rows = read_prompt_csv(csv_path)
                source = rows[0].get("source") or src_dir.name if rows else src_dir.name
                if srcs is not None and src_dir.name not in srcs and source not in srcs:
                    continue
                for i, row in enumerate(rows):
                    if limit is not None and i >= limit:
                        break
                    if row["language"].strip().lower() != lang:
                        raise InputError(f"{csv_path}: row {i + 2} has language {row['language']!r}, "
                                         f"expected {lang!r} (from the file name)")
                    if not row["prompt"].strip():
                        raise InputError(f"{csv_path}: row {i + 2} has an empty prompt")
                    meta = {k: v for k, v in row.items() if k in ("location", "phrasing")}
                    out.append(BenchPrompt(t, row.get("source") or source, lang, str(i), row["prompt"], meta))
    if not out:
        raise UsageError(f"no prompts in {root} match --task {task} --langs {langs or 'all'} "
                         f"--sources {sources or 'all'}")
    return out
