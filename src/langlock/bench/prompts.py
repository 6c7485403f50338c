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


#: Columns of a user's prompt file: `prompt` and `language` required, the rest optional.
PROMPT_FILE_FIELDS = ("prompt", "language", "task", "source", "id")


def _prompt_file_rows(path: Path):
    """(where, row dict) of a user's CSV or JSONL prompt file; the format is chosen by extension."""
    suffix = path.suffix.lower()
    if path.is_dir():
        raise InputError(f"{path}: is a directory, expected a .csv or .jsonl prompt file")
    if not path.exists():
        raise InputError(f"prompt file {path} does not exist")
    if suffix == ".csv":
        for i, row in enumerate(read_prompt_csv(path)):
            yield f"{path}: row {i + 2}", row
    elif suffix in (".jsonl", ".json"):
        from ..score.records import _iter_jsonl

        for n, obj in _iter_jsonl(path):
            where = f"{path}:{n}"
            missing = [f for f in ("prompt", "language") if f not in obj]
            if missing:
                raise InputError(f"{where}: missing field(s) {', '.join(missing)}")
            bad = [f for f in PROMPT_FILE_FIELDS if f in obj and f != "id" and not isinstance(obj[f], str)]
            if "id" in obj and not isinstance(obj["id"], str | int) or isinstance(obj.get("id"), bool):
                bad.append("id")
            if bad:
                raise InputError(f"{where}: field(s) {', '.join(bad)} must be strings")
            yield where, obj
    else:
        raise InputError(f"{path}: unknown prompt file format {suffix or '(no extension)'!r}; expected .csv or .jsonl")


def load_prompt_file(path, task: str = "all", langs=None, sources=None, limit: int | None = None) -> list[BenchPrompt]:
    """A user's own prompts: CSV or JSONL rows with `prompt` and `language` (any code langlock can judge) and
    optional `task`, `source`, `id` (defaults: the scorer's JSONL defaults, task ``monolingual`` and source
    ``custom``; `id` = row index). `task` / `langs` / `sources` filter, `limit` keeps the first N prompts of
    each (task, source, language). Bad rows raise `InputError` naming file and row."""
    from ..languages import LANGUAGE_NAMES
    from ..score.records import JSONL_DEFAULTS

    path = Path(path)
    wanted = parse_langs(langs)
    srcs = {s.strip() for s in sources.split(",")} if isinstance(sources, str) else (set(sources) if sources else None)
    if limit is not None and limit < 1:
        raise UsageError(f"--limit must be >= 1, got {limit}")
    out: list[BenchPrompt] = []
    seen: set[str] = set()
    per_group: dict[tuple[str, str, str], int] = {}
    n_rows = 0
    for i, (where, row) in enumerate(_prompt_file_rows(path)):
        n_rows += 1
        language = row["language"].strip().lower()
        if language not in LANGUAGE_NAMES:
            raise InputError(f"{where}: unknown language code {row['language']!r}; known codes: "
                             f"{', '.join(sorted(LANGUAGE_NAMES))}")
        if not row["prompt"].strip():
            raise InputError(f"{where}: empty prompt")
        t = (row.get("task") or "").strip() or JSONL_DEFAULTS["task"]
        source = (row.get("source") or "").strip() or JSONL_DEFAULTS["source"]
        pid = str(row["id"]).strip() if row.get("id") not in (None, "") else str(i)
        prompt = BenchPrompt(t, source, language, pid, row["prompt"])
        if any("/" in v for v in (t, source)):
            raise InputError(f"{where}: task and source must not contain '/'")
        if prompt.key in seen:
            raise InputError(f"{where}: duplicate id {pid!r} for task {t}, source {source}, language {language}")
        seen.add(prompt.key)
        if task != "all" and t != task or wanted is not None and language not in wanted \
                or srcs is not None and source not in srcs:
            continue
        group = (t, source, language)
        if limit is not None and per_group.get(group, 0) >= limit:
            continue
        per_group[group] = per_group.get(group, 0) + 1
        out.append(prompt)
    if not n_rows:
        raise InputError(f"{path}: no prompts")
    if not out:
        raise UsageError(f"no prompts in {path} match --task {task} --langs {langs or 'all'} "
                         f"--sources {sources or 'all'}")
    return out
