"""Reading completions to score: the LCB outputs CSV, JSONL with the same fields, lm-eval samples files.

Every reader returns `Record`s and raises `InputError` with one clear line (file and row) on bad input:
malformed rows, missing columns, unknown language codes, invalid UTF-8, empty files, directories, and
completions above a size limit (default 1,000,000 characters).

A JSONL record needs only `language` and `completion` (and may carry `prompt` and `id`); the grouping keys
it lacks take documented defaults (`JSONL_DEFAULTS`): task `monolingual` (the completion is judged against
its own `language`, as the benchmark's monolingual task), model the `--model-name` given or else the file's
stem, source `custom`. The CSV keeps the benchmark's required header.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sys
from dataclasses import dataclass, field
from dataclasses import fields as dc_fields
from pathlib import Path

from ..errors import InputError
from ..languages import LANGUAGE_NAMES

REQUIRED_FIELDS = ("task", "model", "source", "language", "completion")
#: What a JSONL record must have; the other REQUIRED_FIELDS default as below (model: --model-name or file stem).
JSONL_REQUIRED = ("language", "completion")
JSONL_DEFAULTS = {"task": "monolingual", "source": "custom"}
#: A completion longer than this is refused (a 10 MB "completion" is a broken file, not a model answer).
DEFAULT_MAX_CHARS = 1_000_000
_LM_EVAL_NAME = re.compile(r"^samples_(?P<task>.+?)_(?P<stamp>\d{4}-\d{2}-\d{2}T[\d\-:.]+)\.jsonl$")


@dataclass(frozen=True, slots=True)
class Record:
    """One completion to judge, with the keys the benchmark groups by."""

    task: str
    model: str
    source: str
    language: str
    completion: str
    id: str | None = None
    prompt: str | None = None
    #: input fields langlock does not use (kept so `score -o` can write them back into samples.jsonl)
    extra: dict | None = field(default=None, compare=False, repr=False)

    def to_dict(self) -> dict:
        """The known fields (not `extra`)."""
        return {f.name: getattr(self, f.name) for f in dc_fields(self) if f.name != "extra"}


_KNOWN = frozenset(("task", "model", "source", "language", "completion", "id", "prompt"))


def _read_text(path: Path) -> str:
    if path.is_dir():
        raise InputError(f"{path}: is a directory, expected a file")
    if not path.exists():
        raise InputError(f"{path}: no such file")
    try:
        data = path.read_bytes()
    except OSError as err:
        raise InputError(f"{path}: cannot read: {err.strerror}") from None
    if not data.strip():
        raise InputError(f"{path}: file is empty")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise InputError(f"{path}: not valid UTF-8 (byte offset {err.start})") from None


def _check_record(rec: Record, where: str, max_chars: int) -> Record:
    lang = rec.language.strip().lower()
    if lang not in LANGUAGE_NAMES:
        known = ", ".join(sorted(LANGUAGE_NAMES))
        raise InputError(f"{where}: unknown language code {rec.language!r} (known: {known})")
    if len(rec.completion) > max_chars:
        raise InputError(
            f"{where}: completion of {len(rec.completion):,} characters exceeds the limit of "
            f"{max_chars:,} (raise it with --max-chars)"
        )
    if "\x00" in rec.completion:
        raise InputError(f"{where}: completion contains NUL bytes (binary data?)")
    return rec if lang == rec.language else Record(**{**rec.to_dict(), "language": lang, "extra": rec.extra})


def read_csv(path: Path, max_chars: int = DEFAULT_MAX_CHARS) -> list[Record]:
    text = _read_text(path)
    csv.field_size_limit(sys.maxsize)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)  # csv's own line ends, not splitlines'
    try:
        header = next(reader)
    except (csv.Error, StopIteration) as err:
        raise InputError(f"{path}: malformed CSV header: {err}") from None
    header = [h.strip() for h in header]
    missing = [f for f in REQUIRED_FIELDS if f not in header]
    if missing:
        raise InputError(f"{path}: missing column(s) {', '.join(missing)}; found {', '.join(header)}")
    idx = {name: i for i, name in enumerate(header)}
    out = []
    try:
        for row in reader:
            where = f"{path}:{reader.line_num}"
            if not row:
                continue
            if len(row) != len(header):
                raise InputError(f"{where}: malformed CSV row: {len(row)} fields, header has {len(header)}")
            fields = {k: row[i] for k, i in idx.items()}
            rec = Record(
                task=fields["task"],
                model=fields["model"],
                source=fields["source"],
                language=fields["language"],
                completion=fields["completion"],
                id=fields.get("id"),
                prompt=fields.get("prompt"),
                extra={k: v for k, v in fields.items() if k not in _KNOWN} or None,
            )
            out.append(_check_record(rec, where, max_chars))
    except csv.Error as err:
        raise InputError(f"{path}:{reader.line_num}: malformed CSV: {err}") from None
    if not out:
        raise InputError(f"{path}: no rows")
    return out


def _iter_jsonl(path: Path):
    text = _read_text(path)
    for n, line in enumerate(text.split("\n"), 1):  # not splitlines: JSON strings may hold U+2028, \x85
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as err:
            raise InputError(f"{path}:{n}: malformed JSON: {err.msg}") from None
        except RecursionError:
            raise InputError(f"{path}:{n}: malformed JSON: nested too deeply") from None
        if not isinstance(obj, dict):
            raise InputError(f"{path}:{n}: expected a JSON object per line")
        yield n, obj


def _lm_eval_task_kind(task: str) -> str:
    for kind in ("crosslingual", "monolingual"):
        if kind in task:
            return kind
    return task


def read_jsonl(path: Path, max_chars: int = DEFAULT_MAX_CHARS, model: str | None = None) -> list[Record]:
    """JSONL with the CSV's fields, or an lm-eval `samples_<task>_<timestamp>.jsonl` file."""
    out = []
    m = _LM_EVAL_NAME.match(path.name)
    for n, obj in _iter_jsonl(path):
        where = f"{path}:{n}"
        if "resps" in obj and "doc" in obj:  # lm-eval samples
            doc = obj["doc"] if isinstance(obj["doc"], dict) else {}
            resps = obj.get("resps")
            first = resps[0] if isinstance(resps, list) and resps else None
            completion = first[0] if isinstance(first, list) and first else first
            if not isinstance(completion, str):
                raise InputError(f"{where}: lm-eval sample without a response in 'resps'")
            task = m.group("task") if m else str(obj.get("task", "lm_eval"))
            language = doc.get("language")
            if language is None:
                raise InputError(f"{where}: lm-eval sample has no 'language' field in its doc")
            rec = Record(
                task=_lm_eval_task_kind(task),
                model=model or path.parent.name or "model",
                source=str(doc.get("source", task)),
                language=str(language),
                completion=completion,
                id=str(obj.get("doc_id")) if obj.get("doc_id") is not None else None,
                prompt=doc["prompt"] if isinstance(doc.get("prompt"), str) else None,
            )
        else:
            missing = [f for f in JSONL_REQUIRED if f not in obj]
            if missing:
                raise InputError(f"{where}: missing field(s) {', '.join(missing)}")
            bad = [f for f in (*REQUIRED_FIELDS, "prompt") if obj.get(f) is not None and not isinstance(obj[f], str)]
            bad += [f for f in JSONL_REQUIRED if obj[f] is None]
            if bad:
                raise InputError(f"{where}: field(s) {', '.join(bad)} must be strings")
            rec = Record(
                task=obj.get("task") or JSONL_DEFAULTS["task"],
                model=obj.get("model") or model or path.stem,
                source=obj.get("source") or JSONL_DEFAULTS["source"],
                language=obj["language"],
                completion=obj["completion"],
                id=None if obj.get("id") is None else str(obj["id"]),
                prompt=obj.get("prompt"),
                extra={k: v for k, v in obj.items() if k not in _KNOWN} or None,
            )
        out.append(_check_record(rec, where, max_chars))
    if not out:
        raise InputError(f"{path}: no records")
    return out


def read_records(paths, max_chars: int = DEFAULT_MAX_CHARS, model: str | None = None) -> list[Record]:
    """Read every file in `paths` (.csv, or .jsonl/.json lines); the format is chosen by extension."""
    records: list[Record] = []
    for p in map(Path, paths):
        suffix = p.suffix.lower()
        if p.is_dir():
            raise InputError(f"{p}: is a directory, expected a .csv or .jsonl file")
        if suffix == ".csv":
            records.extend(read_csv(p, max_chars))
        elif suffix in (".jsonl", ".json"):
            records.extend(read_jsonl(p, max_chars, model))
        else:
            raise InputError(f"{p}: unknown format {suffix or '(no extension)'!r}; expected .csv or .jsonl")
    return records
