"""Read any langlock run directory into one normalised `Run` the HTML report can compare.

A run directory holds ``results.json`` in the one results schema (`langlock.results`); the reader dispatches on
its ``kind`` (`READERS`): ``bench``, ``score``, ``evaluation`` (its suite folders become runs), ``compare``
(the per-method table), ``sweep``, ``analyze`` (with ``steps.jsonl``) and ``train`` (its log history and its
evaluation subfolders). Results written before the schema are migrated by `langlock.results.read_results`.
Kept besides the rates: their stored 95 % intervals (``ci95``), a retention bench's likelihood checks and KL.

Fallback for folders written before their writer adopted the schema (documented, read only when there is no
``results.json``): ``sweep.json`` (a sweep), ``analysis.json`` (an analysis), and a training folder with
``log_history.jsonl`` and evaluations one level down. A directory with none of these is an `InputError`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError
from ..results import RESULTS_NAME, read_results

#: The metric shown first for each detector profile.
PRIMARY = {"lcb": "lpr", "tlpo": "rpr"}


@dataclass
class Run:
    """One run, reduced to what the report shows."""

    name: str
    path: Path
    kind: str  # a results kind (langlock.results.KINDS)
    profile: str | None = None
    settings: dict = field(default_factory=dict)
    #: task -> metric -> value (the benchmark's ('all','all') row per task, first model)
    overall: dict[str, dict[str, float | None]] = field(default_factory=dict)
    #: task -> language -> metric -> value (the ('all', lang) rows)
    per_language: dict[str, dict[str, dict[str, float | None]]] = field(default_factory=dict)
    samples: list[dict] = field(default_factory=list)
    sweep: dict | None = None
    analysis: dict | None = None
    steps: list[dict] = field(default_factory=list)
    log_history: list[dict] = field(default_factory=list)
    compare: dict | None = None
    #: task -> metric -> [low, high]: the stored 95 % bootstrap interval of each overall rate (results ``ci95``)
    ci: dict[str, dict[str, list | None]] = field(default_factory=dict)
    #: a retention bench's likelihood checks (multiple choice, NLL drift) and KL, as its results.json stores them
    likelihood: dict | None = None
    kl: dict | None = None

    @property
    def primary(self) -> str:
        return PRIMARY.get(self.profile or "lcb", "lpr")


def _read_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise InputError(f"{path}: not readable JSON ({err})") from None


def _read_jsonl(path: Path, limit: int | None = None) -> list[dict]:
    out = []
    try:
        with open(path, encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                if line.strip():
                    try:
                        out.append(json.loads(line))
                    except ValueError as err:
                        raise InputError(f"{path}:{n}: not a JSON object ({err})") from None
                if limit is not None and len(out) >= limit:
                    break
    except OSError as err:
        raise InputError(f"{path}: not readable ({err})") from None
    return out


def apply_results(run: Run, results: dict, where: Path) -> None:
    """Fill `overall` and `per_language` from a scorer `results.json` object."""
    rows = results.get("rows")
    if not isinstance(rows, list):
        raise InputError(f"{where}: results.json has no 'rows' list")
    run.profile = results.get("profile") or run.profile
    skip = {"level", "task", "model", "source", "language", "n", "n_skipped", "applicable"}
    models = [r.get("model") for r in rows if r.get("level") == "overall"]
    model = models[0] if models else None
    cis = results.get("ci95")
    if not (isinstance(cis, list) and len(cis) == len(rows)):  # results written before the intervals
        cis = [None] * len(rows)
    for r, ci in zip(rows, cis):
        if model is not None and r.get("model") != model:
            continue
        metrics = {k: v for k, v in r.items() if k not in skip}
        if r.get("level") == "overall":
            run.overall[r["task"]] = metrics
            if isinstance(ci, dict):
                run.ci[r["task"]] = ci
        elif r.get("level") == "language":
            run.per_language.setdefault(r["task"], {})[r["language"]] = metrics
    if model is not None:
        run.settings.setdefault("model", model)


def _bench_run(name: str, path: Path, results: dict, sample_limit: int) -> list[Run]:
    """A `langlock bench` folder: per-profile scorer results (lcb first) or builtin-retention accuracy."""
    run = Run(name, path, "bench")
    run.settings.update(results.get("generation") or {})
    run.settings["model"] = results.get("model")
    if results.get("locks"):
        run.settings["lock"] = results["locks"]
    profiles = results.get("profiles") or {}
    if profiles:
        profile = "lcb" if "lcb" in profiles else next(iter(profiles))
        apply_results(run, profiles[profile], path)
        samples = path / profile / "samples.jsonl"
        if samples.is_file():
            run.samples = _read_jsonl(samples, sample_limit)
    retention = results.get("retention") or {}
    run.likelihood, run.kl = retention.get("likelihood"), retention.get("kl")
    for row in retention.get("accuracy", []):
        if row.get("kind") == "all":
            metrics = {"accuracy": row.get("accuracy")}
            if row.get("language") == "all":
                run.overall["retention"] = metrics
            else:
                run.per_language.setdefault("retention", {})[row.get("language")] = metrics
    return [run]


def _score_run(name: str, path: Path, results: dict, sample_limit: int) -> list[Run]:
    run = Run(name, path, "score")
    apply_results(run, results, path)
    run.settings.update(results.get("settings") or {})
    if (path / "samples.jsonl").is_file():
        run.samples = _read_jsonl(path / "samples.jsonl", sample_limit)
    return [run]


def _evaluation_runs(name: str, path: Path, results: dict, sample_limit: int) -> list[Run]:
    """An evaluation (`langlock.evaluate`): the bench runs of its suites, named NAME/SUITE."""
    runs: list[Run] = []
    for suite, rel in (results.get("reports") or {}).items():
        runs.extend(load_run(path / rel, f"{name}/{suite}", sample_limit))
    if not runs:
        raise InputError(f"{path / 'results.json'}: an evaluation without suite reports")
    return runs


def _compare_run(name: str, path: Path, results: dict, sample_limit: int) -> list[Run]:
    return [Run(name, path, "compare", settings={"model": (results.get("config") or {}).get("model")},
                compare=results)]


def _sweep_run(name: str, path: Path, data: dict, sample_limit: int) -> list[Run]:
    run = Run(name, path, "sweep", data.get("profile"), data.get("settings", {}), sweep=data)
    best = data.get("baseline") or {}
    for task, metrics in best.get("overall", {}).items():
        run.overall[task] = metrics
    for task, langs in best.get("per_language", {}).items():
        run.per_language[task] = langs
    return [run]


def _analyze_run(name: str, path: Path, data: dict, sample_limit: int) -> list[Run]:
    run = Run(name, path, "analyze", data.get("profile"), data.get("settings", {}), analysis=data)
    if (path / "steps.jsonl").is_file():
        run.steps = _read_jsonl(path / "steps.jsonl", sample_limit)
    return [run]


def _train_runs(name: str, path: Path, data: dict, sample_limit: int, subdirs: list[str] | None = None) -> list[Run]:
    """A training run: its per-step log, then its evaluations (`subdirs`; every subfolder holding a result
    when not named)."""
    runs: list[Run] = []
    log = path / data.get("log_history", "log_history.jsonl")
    if log.is_file():
        runs.append(Run(name, path, "train", settings={k: data[k] for k in ("method", "model") if k in data},
                        log_history=_read_jsonl(log)))
    if subdirs is None:
        subdirs = [p.name for p in sorted(path.iterdir()) if p.is_dir() and not p.name.startswith(".")
                   and any((p / f).is_file() for f in (RESULTS_NAME, *LEGACY_FILES))]
    for sub in subdirs:
        runs.extend(load_run(path / sub, f"{name}/{sub}", sample_limit))
    return runs


#: results kind -> reader(name, path, results, sample_limit) -> runs
READERS = {"bench": _bench_run, "score": _score_run, "evaluation": _evaluation_runs, "compare": _compare_run,
           "sweep": _sweep_run, "analyze": _analyze_run,
           "train": lambda name, path, data, limit: _train_runs(name, path, data, limit, data.get("evaluations")),
           # `langlock adapters study`: every cell's evaluation
           "adapter-study": lambda name, path, data, limit: [
               r for c in data["cells"] for r in load_run(path / "cells" / c["name"] / "eval", f"{name}/{c['name']}",
                                                          limit)]}
#: files of writers from before the results schema (fallback; see the module docstring)
LEGACY_FILES = ("sweep.json", "analysis.json")


def load_run(path: str | Path, name: str | None = None, sample_limit: int = 2000) -> list[Run]:
    """The run(s) in directory `path` (a training run or an evaluation may hold several)."""
    path = Path(path)
    if not path.is_dir():
        raise InputError(f"{path}: not a run directory")
    name = name or path.name
    if (path / RESULTS_NAME).is_file():
        results = read_results(path / RESULTS_NAME)
        return READERS[results["kind"]](name, path, results, sample_limit)
    # fallback: folders written before their writer adopted the results schema
    if (path / "sweep.json").is_file():
        return _sweep_run(name, path, _read_json(path / "sweep.json"), sample_limit)
    if (path / "analysis.json").is_file():
        return _analyze_run(name, path, _read_json(path / "analysis.json"), sample_limit)
    runs = _train_runs(name, path, {}, sample_limit)
    if not runs:
        raise InputError(f"{path}: no langlock run found (expected results.json, here or one level down, or a "
                         "training run's log_history.jsonl)")
    return runs


def load_runs(paths, sample_limit: int = 2000, names: list[str] | None = None) -> list[Run]:
    """All runs of `paths`, named by `names` (one per path) or by their directory names, made unique."""
    if not paths:
        raise InputError("give at least one run directory")
    paths = list(paths)
    if names is not None and len(names) != len(paths):
        raise InputError(f"{len(names)} name(s) for {len(paths)} run directories")
    runs: list[Run] = []
    for i, p in enumerate(paths):
        runs.extend(load_run(p, names[i] if names else None, sample_limit=sample_limit))
    seen: dict[str, int] = {}
    for run in runs:
        base = run.name
        if base in seen:
            seen[base] += 1
            run.name = f"{base} ({seen[base]})"
        else:
            seen[base] = 1
    return runs
