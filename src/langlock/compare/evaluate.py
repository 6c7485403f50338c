"""Stage 3 of `langlock compare`, evaluation: every method × seed through the same `langlock.evaluate.EvalPlan`
(held-out ``eval_suite`` or ``eval_lcb_dir`` prompts in the target language and English; ``builtin-retention``
accuracy and KL to the base on English prompts; decoding seed = the run's seed). A method differs only in its
model and in its decoding's per-language parts (`compare.methods.decoding_for`: ``lock`` a LanguageLock,
``site`` a steering file, ``fewshot`` in-context demonstrations, each on target-language requests only; every
other request decoded unchanged). The evaluation lives in ``runs/METHOD/seedN/eval``.

Evaluations cached by an older langlock (``runs/METHOD/seedN/metrics.json``) are read instead, their metric keys
renamed (`langlock.results.RENAMED_METRICS`) and their repetitiveness columns computed from their generations.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..evaluate import Decoding, EvalPlan, Metrics, Runtime, SuiteSpec, evaluate, finished_evaluation
from ..evaluate.result import degeneracy
from ..generate import GenerationSettings
from ..results import RESULTS_NAME, read_results, rename_metrics
from .config import CompareConfig, run_dir
from .methods import decoding_for

LEGACY = "metrics.json"


def plan_for(cfg: CompareConfig, method: str, seed: int) -> EvalPlan:
    settings = GenerationSettings(max_new_tokens=cfg.eval_max_new_tokens, temperature=cfg.eval_temperature,
                                  top_p=cfg.eval_top_p, seed=seed)
    langs = cfg.language if cfg.language == "en" else f"{cfg.language},en"
    return EvalPlan(
        target=cfg.language,
        confusion=SuiteSpec(suite=cfg.eval_suite, lcb_dir=cfg.eval_lcb_dir, task=cfg.eval_task, langs=langs,
                            limit=cfg.eval_limit),
        decoding=Decoding(settings, **decoding_for(cfg, method, seed)),
        retention=SuiteSpec(suite="builtin-retention", langs=cfg.retention_langs, limit=cfg.retention_limit)
        if cfg.retention else None,
        reference_model=str(cfg.model) if cfg.retention else None, quality=cfg.eval_quality)


def runtime_for(cfg: CompareConfig) -> Runtime:
    return Runtime(batch_size=cfg.batch_size, device=cfg.device, dtype=cfg.eval_dtype or cfg.dtype,
                   retention_dtype=cfg.dtype, threads=cfg.threads)


def evaluate_run(cfg: CompareConfig, method: str, seed: int, model: str) -> dict:
    """The metrics of `method` at `seed` (evaluated now unless cached); a `Metrics` dict."""
    out = run_dir(cfg, method, seed)
    legacy = read_legacy(out, cfg.language)
    if legacy is not None:
        return legacy
    result = evaluate(model, plan_for(cfg, method, seed), out / "eval", runtime_for(cfg),
                      label=f"{method}-seed{seed}")
    return {**result.metrics.to_dict(), "eval_seconds": result.seconds}


def finished_run(cfg: CompareConfig, method: str, seed: int, model: str) -> dict | None:
    """The metrics of `method` at `seed` when its evaluation of `model` under this config's plan is finished (a
    `Metrics` dict), else None; no model is loaded and nothing is trained, so an evaluation kept from an earlier
    session (the run folder without its weights) is reported as it is."""
    out = run_dir(cfg, method, seed)
    legacy = read_legacy(out, cfg.language)
    if legacy is not None:
        return legacy
    result = finished_evaluation(model, plan_for(cfg, method, seed), out / "eval", runtime_for(cfg))
    return None if result is None else {**result.metrics.to_dict(), "eval_seconds": result.seconds}


def read_evaluation(out: Path, target: str | None) -> dict | None:
    """The metrics of a finished evaluation in run folder `out` (either layout), or None."""
    legacy = read_legacy(out, target)
    if legacy is not None:
        return legacy
    f = out / "eval" / RESULTS_NAME
    if not f.is_file():
        return None
    data = read_results(f, kinds=("evaluation",))
    return {**Metrics.from_dict(data["metrics"]).to_dict(), "eval_seconds": data.get("seconds")}


def read_legacy(out: Path, target: str | None) -> dict | None:
    """An older langlock's ``metrics.json`` in run folder `out`, migrated when read (the file is left as it is):
    keys renamed, the repetitiveness columns it lacks computed from its generations when they are there."""
    f = out / LEGACY
    if not f.is_file():
        return None
    data = rename_metrics(json.loads(f.read_text(encoding="utf-8")))
    gens = out / "eval" / "confusion" / "generations.jsonl"
    if "repetitive_target" not in data and target and gens.is_file():  # evaluated before the column existed
        rows = [json.loads(line) for line in gens.read_text(encoding="utf-8").splitlines() if line.strip()]
        data.update(degeneracy(target, rows))
    return {**Metrics.from_dict(data).to_dict(), "eval_seconds": data.get("eval_seconds")}
