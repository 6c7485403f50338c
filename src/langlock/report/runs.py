"""Read any langlock run directory into one normalised `Run` the HTML report can compare.

Recognised layouts (first match wins):

- scored runs (`langlock score -o`, `langlock bench`, an eval inside a training run): `results.json` with
  `rows` (the scorer's schema) and optionally `samples.jsonl` (completions with their detections);
- `langlock sweep`: `sweep.json` (one summary row per grid cell);
- `langlock analyze`: `analysis.json` (the Table 7 statistics) and `steps.jsonl` (per-step entropy and
  nucleus size of every response);
- training runs: `log_history.jsonl` (one JSON object per logged step), plus any of the above in
  subdirectories (`before/`, `after/`, `eval/`...), which become runs of their own.

A directory with none of these is an `InputError` naming what was expected.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError

#: The metric shown first for each detector profile.
PRIMARY = {"lcb": "lpr", "tlpo": "rpr"}


@dataclass
class Run:
    """One run, reduced to what the report shows."""

    name: str
    path: Path
    kind: str  # "score", "sweep", "analyze", "train"
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
    for r in rows:
        if model is not None and r.get("model") != model:
            continue
        metrics = {k: v for k, v in r.items() if k not in skip}
        if r.get("level") == "overall":
            run.overall[r["task"]] = metrics
        elif r.get("level") == "language":
            run.per_language.setdefault(r["task"], {})[r["language"]] = metrics
    if model is not None:
        run.settings.setdefault("model", model)


def _bench_run(name: str, path: Path, results: dict, sample_limit: int) -> Run:
    """A `langlock bench` folder: per-profile scorer results (lcb first) or builtin-retention accuracy."""
    run = Run(name, path, "bench")
    run.settings.update(results.get("generation") or {})
    run.settings["model"] = results.get("model")
    if results.get("generator", {}).get("lock"):
        run.settings["lock"] = results["generator"]["lock"]
    profiles = results.get("profiles") or {}
    if profiles:
        profile = "lcb" if "lcb" in profiles else next(iter(profiles))
        apply_results(run, profiles[profile], path)
        samples = path / profile / "samples.jsonl"
        if samples.is_file():
            run.samples = _read_jsonl(samples, sample_limit)
    for row in (results.get("retention") or {}).get("accuracy", []):
        if row.get("kind") == "all":
            metrics = {"accuracy": row.get("accuracy")}
            if row.get("language") == "all":
                run.overall["retention"] = metrics
            else:
                run.per_language.setdefault("retention", {})[row.get("language")] = metrics
    return run


def load_run(path: str | Path, name: str | None = None, sample_limit: int = 2000) -> list[Run]:
    """The run(s) in directory `path` (a training run may hold several evaluations)."""
    path = Path(path)
    if not path.is_dir():
        raise InputError(f"{path}: not a run directory")
    name = name or path.name
    if (path / "sweep.json").is_file():
        data = _read_json(path / "sweep.json")
        run = Run(name, path, "sweep", data.get("profile"), data.get("settings", {}), sweep=data)
        best = data.get("baseline") or {}
        for task, metrics in best.get("overall", {}).items():
            run.overall[task] = metrics
        for task, langs in best.get("per_language", {}).items():
            run.per_language[task] = langs
        return [run]
    if (path / "analysis.json").is_file():
        data = _read_json(path / "analysis.json")
        run = Run(name, path, "analyze", data.get("profile"), data.get("settings", {}), analysis=data)
        if (path / "steps.jsonl").is_file():
            run.steps = _read_jsonl(path / "steps.jsonl", sample_limit)
        return [run]
    if (path / "results.json").is_file():
        results = _read_json(path / "results.json")
        if not isinstance(results, dict):
            raise InputError(f"{path / 'results.json'}: expected a JSON object")
        if "profiles" in results or "retention" in results:  # a `langlock bench` run
            return [_bench_run(name, path, results, sample_limit)]
        run = Run(name, path, "score")
        apply_results(run, results, path)
        run.settings.update(results.get("settings") or {})
        if (path / "samples.jsonl").is_file():
            run.samples = _read_jsonl(path / "samples.jsonl", sample_limit)
        return [run]
    runs: list[Run] = []
    if (path / "log_history.jsonl").is_file():
        runs.append(Run(name, path, "train", log_history=_read_jsonl(path / "log_history.jsonl")))
    for sub in sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if any((sub / f).is_file() for f in ("results.json", "sweep.json", "analysis.json")):
            runs.extend(load_run(sub, f"{name}/{sub.name}", sample_limit))
    if not runs:
        raise InputError(f"{path}: no langlock run found (expected results.json, sweep.json, analysis.json or "
                         "log_history.jsonl, here or one level down)")
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
