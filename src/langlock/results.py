"""One results schema for every langlock output folder, versioned: ``FOLDER/results.json`` holds

    {"schema": "langlock.results", "schema_version": 2, "kind": KIND, ...payload}

where KIND says what wrote it and so how to read it (the HTML report dispatches on it; nothing guesses from
which files exist):

- ``bench``: `langlock bench` (`langlock.bench.runner`): ``profiles`` (one scorer result per detector
  profile) or ``retention`` (accuracy rows, KL), plus the run's metadata (model, generation, generator...);
- ``score``: one scorer result (``profile``, ``settings``, ``rows``), as ``langlock score -o`` writes;
- ``evaluation``: one `langlock.evaluate.EvalResult` (the plan, the model, the metrics, and ``reports``: the
  suite folders, relative to this one, whose ``bench`` results the metrics were read from);
- ``compare``: a `langlock compare` summary (``config``, ``metrics`` labels, ``rows`` per method with mean,
  95 % interval and per-seed values, ``paired``: per-method change against the base, paired by seed);
- ``sweep``: a decoding sweep: ``axes``, ``cells`` (``name``, ``axis``, ``params``, ``overall``, ``n``),
  ``baseline`` (``overall``, ``per_language``), ``metric``, ``profile``, ``settings``;
- ``analyze``: a confusion-point analysis: ``table7``, ``distributions``, ``finding``, ``top_p``, ``profile``,
  ``settings``; per-step rows in ``steps.jsonl`` beside it;
- ``train``: a training run: ``method``, ``global_step``, ``train_loss``..., its per-step log in the file named
  by ``log_history`` (default ``log_history.jsonl``) and evaluations in the subfolders named by
  ``evaluations`` (each with its own ``results.json``).

- ``adapter-study``: `langlock adapters study`: ``config``, ``cells`` (one per N, variant, rank, seed: ``params``,
  per-language ``metrics``), ``retained_gain`` (cell -> language -> share of the fix's own gain kept), ``curves``.

Migration: files written before this schema (``schema_version`` 1 or none) are read as ``bench`` when they
hold ``profiles`` or ``retention`` and as ``score`` when they hold ``rows``; metric keys renamed since
(`RENAMED_METRICS`: ``rpr_ief`` → ``rpr_en_confusion``...) are renamed when any results file is read.
A file of a newer schema version is refused with a message.
"""

from __future__ import annotations

import json
from pathlib import Path

from .errors import InputError
from .io_utils import write_json_atomic

SCHEMA = "langlock.results"
SCHEMA_VERSION = 2
RESULTS_NAME = "results.json"
KINDS = ("bench", "score", "evaluation", "compare", "sweep", "analyze", "train", "adapter-study")
#: old metric key -> the name that says what it is (English counted as confusion / English neutral)
RENAMED_METRICS = {
    "rpr_ief": "rpr_en_confusion",
    "wpr_ief": "wpr_en_confusion",
    "rpr_iet": "rpr_en_neutral",
    "wpr_iet": "wpr_en_neutral",
}


def stamp(kind: str, payload: dict) -> dict:
    """`payload` as a results object of `kind` (schema fields first)."""
    if kind not in KINDS:
        raise ValueError(f"unknown results kind {kind!r}; known: {', '.join(KINDS)}")
    body = {k: v for k, v in payload.items() if k not in ("schema", "schema_version", "kind")}
    return {"schema": SCHEMA, "schema_version": SCHEMA_VERSION, "kind": kind, **body}


def write_results(path: str | Path, kind: str, payload: dict) -> dict:
    """Write `payload` as a results file of `kind` atomically (`path`: the file, or a folder for its
    ``results.json``); returns what was written."""
    p = Path(path)
    if p.suffix != ".json":
        p = p / RESULTS_NAME
    data = stamp(kind, payload)
    write_json_atomic(p, data)
    return data


def rename_metrics(value):
    """`value` with every dict key in `RENAMED_METRICS` renamed, at any depth (a new object)."""
    if isinstance(value, dict):
        return {RENAMED_METRICS.get(k, k): rename_metrics(v) for k, v in value.items()}
    if isinstance(value, list):
        return [rename_metrics(v) for v in value]
    return value


def migrate(data: dict, where: str | Path = "results") -> dict:
    """A results object of any version as the current schema (see the module docstring)."""
    if not isinstance(data, dict):
        raise InputError(f"{where}: expected a JSON object")
    if data.get("schema") == SCHEMA:
        version = data.get("schema_version")
        if not isinstance(version, int) or version > SCHEMA_VERSION:
            raise InputError(f"{where}: results schema version {version!r} is newer than this langlock reads "
                             f"({SCHEMA_VERSION}); upgrade langlock")
        if data.get("kind") not in KINDS:
            raise InputError(f"{where}: unknown results kind {data.get('kind')!r}")
        return rename_metrics(data)
    # before the schema: the bench runner's and the scorer's results.json (schema_version 1)
    if "profiles" in data or "retention" in data:
        kind = "bench"
    elif isinstance(data.get("rows"), list):
        kind = "score"
    else:
        raise InputError(f"{where}: not a langlock results file (no 'schema': {SCHEMA!r})")
    return stamp(kind, rename_metrics(data))


def read_results(path: str | Path, kinds: tuple[str, ...] | None = None) -> dict:
    """Read a results file (or a folder's ``results.json``), migrated to the current schema; with `kinds`,
    any other kind is an `InputError`."""
    p = Path(path)
    if p.is_dir():
        p = p / RESULTS_NAME
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise InputError(f"{p}: not readable JSON ({err})") from None
    data = migrate(data, p)
    if kinds is not None and data["kind"] not in kinds:
        raise InputError(f"{p}: a {data['kind']!r} result, expected {' or '.join(kinds)}")
    return data


__all__ = ["KINDS", "RENAMED_METRICS", "RESULTS_NAME", "SCHEMA", "SCHEMA_VERSION", "migrate", "read_results",
           "rename_metrics", "stamp", "write_results"]
