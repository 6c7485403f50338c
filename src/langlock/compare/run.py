"""The stages of `langlock compare` in order, seed-major (every method at seed 0, then every method at seed 1...,
so an interrupted run already holds a complete comparison over the seeds it finished); `report_only` rewrites
the report from the evaluations already finished. A method whose evaluation is finished is neither trained nor
evaluated again, so a compare folder kept without its weights (`results/README.md`: the head-to-head's
evaluations, kept in git across sessions) resumes at its first unfinished run."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from ..errors import UsageError
from ..io_utils import write_json_atomic
from .config import UNTRAINED, CompareConfig, run_dir, say
from .data import build_data
from .evaluate import evaluate_run, finished_run, read_evaluation
from .methods import FITS, run_cost
from .report import write_report
from .statistics import summarize
from .train import model_for, model_path


def _summary(cfg: CompareConfig, per_run: dict, unavailable: dict) -> dict:
    return {"config": asdict(cfg), **summarize(cfg.methods, per_run, unavailable)}


def run_compare(cfg: CompareConfig) -> dict:
    out = Path(cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out / "config.json", asdict(cfg))
    if cfg.threads:
        import torch

        torch.set_num_threads(cfg.threads)
    data: list[Path | None] = []  # the shared training data, built when a method first needs it

    def data_dir() -> Path | None:
        if not data:
            data.append(build_data(cfg) if cfg.needs_data() else None)
        return data[0]

    per_run: dict[str, dict[int, dict]] = {}
    for seed in cfg.seeds:
        for method in cfg.methods:
            model = model_path(cfg, method, seed)
            if method in FITS:  # cheap once fitted, and refuses a file fitted with other settings
                FITS[method](cfg, seed, data_dir)
            metrics = finished_run(cfg, method, seed, model)
            if metrics is None:  # a finished evaluation needs neither its model nor training
                needs = method not in UNTRAINED and method not in cfg.checkpoints
                model = model_for(cfg, method, seed, data_dir() if needs else None)
                metrics = evaluate_run(cfg, method, seed, model)
            metrics = {**metrics, **run_cost(cfg, method, seed, model)}
            per_run.setdefault(method, {})[seed] = metrics
            say(f"evaluated {method} seed {seed}: RPR (English=confusion) {metrics.get('rpr_en_confusion')}, "
                f"retention {metrics.get('retention_acc')}")
    summary = _summary(cfg, per_run, {})
    write_report(cfg, summary)
    say(f"report in {out}/compare.md, compare.png")
    return summary


def load_evaluations(compare_dir: str | Path, method: str, target: str | None) -> dict[int, dict]:
    """seed -> metrics of `method`'s finished evaluations in a compare output folder (any seed found)."""
    out = {}
    for d in sorted(Path(compare_dir).glob(f"runs/{method}/seed*")):
        metrics = read_evaluation(d, target)
        if metrics is not None:
            out[int(d.name.removeprefix("seed"))] = metrics
    return out


def load_answers(compare_dir: str | Path) -> list[tuple[str, int, list[dict]]]:
    """(method, seed, answer rows) of every run of a compare output folder with answers, in path order: the rows of
    each run's ``eval/confusion/generations.jsonl`` (key, task, source, language, prompt, completion...). A folder
    without any is an `InputError`."""
    import json

    from ..errors import InputError

    out = []
    for f in sorted(Path(compare_dir).glob("runs/*/seed*/eval/confusion/generations.jsonl")):
        rows = [json.loads(x) for x in f.read_text(encoding="utf-8").splitlines() if x.strip()]
        out.append((f.parents[3].name, int(f.parents[2].name.removeprefix("seed")), rows))
    if not out:
        raise InputError(f"{compare_dir}: no compare evaluations found")
    return out


def report_only(cfg: CompareConfig) -> dict:
    """Write the report from the evaluations already finished (no data, training or evaluation is run)."""
    per_run: dict[str, dict[int, dict]] = {}
    missing: dict[str, str] = {}
    for method in cfg.methods:
        for seed in cfg.seeds:
            metrics = read_evaluation(run_dir(cfg, method, seed), cfg.language)
            if metrics is not None:
                model = model_path(cfg, method, seed)
                per_run.setdefault(method, {})[seed] = {**metrics, **run_cost(cfg, method, seed, model)}
        if method not in per_run:
            missing[method] = "no finished evaluation yet"
    if not per_run:
        raise UsageError(f"{cfg.output_dir}: no finished evaluation to report")
    summary = _summary(cfg, per_run, missing)
    write_report(cfg, summary)
    return summary
