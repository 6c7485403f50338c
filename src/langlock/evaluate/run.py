"""`evaluate(model, plan, out_dir) -> EvalResult`: execute an `EvalPlan`, resumably.

Layout of OUT: ``confusion/`` and ``retention/`` are `langlock bench` runs (their ``generations.jsonl`` resumes
a killed evaluation; a suite whose ``results.json`` matches the plan is not run again), and ``results.json``
(kind ``evaluation``) holds the `EvalResult`. A finished evaluation is returned from that file; one made with
another plan or model is refused. The metrics are read from the bench reports (`result.confusion_metrics`,
`result.retention_metrics`); nothing is scored twice. The model is loaded once, and only when a suite runs.
"""

from __future__ import annotations

import time
from pathlib import Path

from ..errors import UsageError
from ..results import RESULTS_NAME, read_results, write_results
from .plan import EvalPlan, Runtime, SuiteSpec
from .result import EvalResult, Metrics, confusion_metrics, retention_metrics

SUITE_DIRS = {"confusion": "confusion", "retention": "retention"}


def _bench_config(model: str, plan: EvalPlan, spec: SuiteSpec, out: Path, runtime: Runtime, label: str | None,
                  reference: str | None, dtype: str):
    from ..bench.runner import BenchConfig

    return BenchConfig(output_dir=str(out), model=str(model), suite=spec.suite, lcb_dir=spec.lcb_dir,
                       task=spec.task, langs=spec.langs, limit=spec.limit, settings=plan.decoding.settings,
                       locks=plan.decoding.locks, steer=list(plan.decoding.steer.values()),
                       shots=dict(plan.decoding.shots), adapters=plan.decoding.adapters, route=plan.decoding.route,
                       model_label=label, batch_size=runtime.batch_size,
                       max_batch_tokens=runtime.max_batch_tokens, device=runtime.device, dtype=dtype,
                       threads=runtime.threads, cache_dir=runtime.cache_dir, progress=runtime.progress,
                       reference_model=reference, quality=plan.quality if spec is plan.confusion else "cheap")


def _finished(cfg) -> dict | None:
    """The bench result already in `cfg.output_dir` when it was made with these settings, else None."""
    from ..bench.runner import SCORINGS, model_label, steer_identity

    f = Path(cfg.output_dir) / RESULTS_NAME
    if not f.is_file():
        return None
    res = read_results(f, kinds=("bench",))
    same = (res.get("model") == model_label(cfg) and res.get("generation") == cfg.settings.to_dict()
            and (res.get("locks") or {}) == cfg.locks and res.get("task") == cfg.task
            and res.get("langs") == cfg.langs and res.get("limit") == cfg.limit
            and res.get("steer") == (steer_identity(cfg) if cfg.steer else None)
            and (res.get("shots") or {}) == cfg.shots and _same_dtype(res, cfg))
    if cfg.suite == "builtin-retention":
        kl = (res.get("retention") or {}).get("kl")
        lk = (res.get("retention") or {}).get("likelihood")  # written by a langlock with the likelihood checks
        same = same and (lk is not None or cfg.backend != "hf")
        return res if same and (kl or {}).get("reference_model") == cfg.reference_model else None
    same = same and res.get("quality") == cfg.quality  # scored with these validity signals
    return res if same and all(name in res.get("profiles", {}) for name, _, _ in SCORINGS) else None


def _same_dtype(res: dict, cfg) -> bool:
    """Whether a finished bench result was generated in the weights' dtype `cfg` asks for (results written before
    the dtype was recorded, or by another backend, were float32)."""
    if cfg.backend != "hf" or cfg.dtype == "auto":
        return True
    return (res.get("generator") or {}).get("dtype", "float32") == cfg.dtype


def _made_in(out: Path, result: EvalResult) -> dict:
    """suite name -> the weights' dtype its answers and scores were computed in (float32 when not recorded)."""
    made = {}
    for name, sub in result.reports.items():
        f = out / sub / RESULTS_NAME
        gen = (read_results(f, kinds=("bench",)).get("generator") or {}) if f.is_file() else {}
        made[name] = gen.get("dtype", "float32")
    return made


def check_steer(plan: EvalPlan) -> None:
    """Each steering file of the plan's decoding exists and was fitted for the language it is given for."""
    from ..steer.file import load_steer_file

    for lang, path in plan.decoding.steer.items():
        fitted = load_steer_file(path).language
        if fitted != lang:
            raise UsageError(f"steer.{lang}: {path} was fitted for {fitted!r}, not {lang!r}")


def finished_evaluation(model: str, plan: EvalPlan, out_dir: str | Path, runtime: Runtime | None = None
                        ) -> EvalResult | None:
    """The evaluation of `model` under `plan` already finished in `out_dir` (None when there is none); one made
    of another model, with another plan or in other dtypes is refused. Reads files only: neither the model nor a
    steering file of the plan need to be there (an evaluation kept from an earlier session is reported as it is)."""
    runtime = runtime or Runtime()
    out = Path(out_dir)
    if not (out / RESULTS_NAME).is_file():
        return None
    cached = EvalResult.from_dict(read_results(out / RESULTS_NAME, kinds=("evaluation",)))
    # a plan written before the quality field existed was judged with the cheap signals
    if {"quality": "cheap", **cached.plan} != plan.to_dict() or cached.model != str(model):
        raise UsageError(f"{out} holds an evaluation of {cached.model} with another plan; use another folder")
    made = _made_in(out, cached)
    asked = {"confusion": runtime.dtype, "retention": runtime.retention_dtype or runtime.dtype}
    if any(made[name] != asked[name] for name in made):
        raise UsageError(f"{out} holds an evaluation made in {made}, not {asked}; use another folder")
    return cached


def evaluate(model: str, plan: EvalPlan, out_dir: str | Path, runtime: Runtime | None = None,
             label: str | None = None) -> EvalResult:
    """Evaluate `model` (a model spec, model or LoRA adapter folder) as `plan` says, into `out_dir`."""
    from ..bench.log import LOG_NAME, read_log
    from ..bench.runner import build_generator, run_bench

    runtime = runtime or Runtime()
    out = Path(out_dir)
    check_steer(plan)
    cached = finished_evaluation(model, plan, out, runtime)
    if cached is not None:
        return cached
    want = plan.to_dict()
    t0 = time.time()
    loaded: dict = {}  # dtype -> generator: the model is loaded once per dtype, and only when a suite runs

    def bench(spec: SuiteSpec, name: str, reference: str | None, dtype: str) -> dict:
        cfg = _bench_config(model, plan, spec, out / SUITE_DIRS[name], runtime, label, reference, dtype)
        done = _finished(cfg)
        if done is not None:
            return done
        if dtype not in loaded:
            loaded[dtype] = build_generator(cfg)
        return run_bench(cfg, generator=loaded[dtype])

    confusion = bench(plan.confusion, "confusion", None, runtime.dtype)
    rows = list(read_log(out / SUITE_DIRS["confusion"] / LOG_NAME)[0].values())
    values = confusion_metrics(plan.target, confusion, rows)
    reports = {"confusion": SUITE_DIRS["confusion"]}
    if plan.retention is not None:
        retention = bench(plan.retention, "retention", plan.reference_model, runtime.retention_dtype or runtime.dtype)
        values.update(retention_metrics(plan.target, retention))
        reports["retention"] = SUITE_DIRS["retention"]
    for gen in loaded.values():
        gen.close()
    result = EvalResult(model=str(model), plan=want, metrics=Metrics(**values), reports=reports,
                        seconds=round(time.time() - t0, 1))
    write_results(out, "evaluation", result.to_dict())
    return result
