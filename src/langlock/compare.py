"""`langlock compare`: train every selected method on the same model, data and budget; evaluate each the same
way; report mean and 95% interval over seeds in one table and one plot. Resumable at every stage.

Stages (each skipped when its output is already there, so a rerun after a kill continues):

1. data (once, shared by all methods and seeds): prompt pool (``builtin-train`` or a JSONL pool) filtered by
   `langlock.databuild.prompts`; ``samples_per_prompt`` completions per prompt from the *base* model
   (`databuild.sample`); pairs / SFT / prompt-only data (`databuild.pairs`, detector setting ``pair_ignore_english``);
2. training, per method × seed: `langlock.baselines.trl_baselines.train_baseline` (SFT, DPO, ORPO, GRPO,
   TBPO-Q, TBPO-A) or TLPO (`langlock.train`, when installed) — all with the same ``train`` settings
   (optimiser steps, prompts per step, LoRA or full, learning rate), overridable per method in
   ``method_args``. ``base`` is the untrained model; ``lock`` is the untrained model decoded under a
   `LanguageLock` for the target language (``lock_options``; evaluated on target-language prompts only). A run with ``train_log.json`` is not retrained; a method
   listed in ``checkpoints`` is not trained here: that directory (model or LoRA adapter, ``{seed}`` filled
   in) is evaluated, e.g. the outputs of ``langlock train tlpo`` with several seeds (stage 1 is skipped when
   no method is trained here);
3. evaluation, per method × seed, with identical settings for every method: generation on held-out prompts
   (``eval_suite`` or ``eval_lcb_dir``; target language + English) with `langlock.bench.runner.run_bench`
   (decoding seed = the run's seed), scored with the TLPO detector in both English settings and with the LCB
   metric; the ``builtin-retention`` suite (accuracy, and KL(model ‖ base) on English prompts). A run with
   ``metrics.json`` is not re-evaluated;
4. report: ``compare.csv``, ``compare.md``, ``compare.json``, ``compare.png`` in the output folder.
"""

from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from .errors import InputError, UsageError
from .io_utils import atomic_open, write_json_atomic

METHODS = ("base", "lock", "sft", "dpo", "orpo", "grpo", "tbpo-q", "tbpo-a", "tlpo")
#: methods that train nothing: the model as it is, and the model decoded under a LanguageLock
UNTRAINED = ("base", "lock")
#: metric key -> (column label, higher is better)
METRICS = {
    "rpr_ief": ("RPR tlpo, English=confusion", True),
    "wpr_ief": ("WPR tlpo, English=confusion", True),
    "rpr_iet": ("RPR tlpo, English neutral", True),
    "wpr_iet": ("WPR tlpo, English neutral", True),
    "lcb_lpr": ("LPR (LCB)", True),
    "lcb_wpr": ("WPR (LCB)", True),
    "lcb_lcpr": ("LCPR (LCB)", True),
    "lcb_lpr_mono": ("monolingual LPR (LCB)", True),
    "lcb_lpr_cross": ("cross-lingual LPR (LCB)", True),
    "en_lpr": ("English LPR (LCB)", True),
    "retention_acc": ("retention accuracy", True),
    "retention_acc_target": ("retention accuracy, target-language items", True),
    "kl_en": ("KL(model ‖ base), English", False),
    "mean_chars_target": ("answer length (chars)", None),  # shorter answers have fewer chances to drift
    "repetitive_target": ("repetitive answers, target language", False),  # a pass rate passes noise too
    "repetitive_en": ("repetitive answers, English", False),
}
#: two-sided 95% Student-t quantiles t_{0.975, df} for df = 1..30 (beyond: 1.96)
T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
        2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048,
        2.045, 2.042)


@dataclass
class CompareConfig:
    model: str
    language: str
    output_dir: str
    methods: list[str] = field(default_factory=lambda: list(METHODS))
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    # data
    pool: str = "builtin-train"
    pool_limit: int | None = 64
    samples_per_prompt: int = 8
    sample_temperature: float = 0.7
    sample_max_new_tokens: int = 128
    data_seed: int = 0
    pair_ignore_english: bool = False
    # training: BaselineConfig fields shared by every method, then per-method overrides
    train: dict = field(default_factory=lambda: {"max_steps": 20, "per_device_train_batch_size": 4, "lora": True})
    method_args: dict = field(default_factory=dict)
    #: method -> model trained elsewhere (a model or LoRA adapter directory; "{seed}" is replaced by the seed),
    #: evaluated instead of training that method here, e.g. {tlpo: runs/tlpo-ko/seed{seed}/model}
    checkpoints: dict = field(default_factory=dict)
    #: LanguageLock options of the ``lock`` method (`langlock.inference.lock.LanguageLock`; language = target)
    lock_options: dict = field(default_factory=lambda: {"mode": "suppress"})
    # evaluation
    eval_suite: str | None = "builtin-confusion"
    eval_lcb_dir: str | None = None
    eval_limit: int | None = 10
    eval_max_new_tokens: int = 100
    eval_temperature: float = 0.3
    eval_top_p: float = 0.75
    retention: bool = True
    retention_limit: int | None = None  # items per (kind, language) of builtin-retention (None: all)
    retention_langs: str | None = None  # comma-separated languages of builtin-retention (None: all)
    batch_size: int = 8
    dtype: str = "float32"
    device: str = "cpu"
    threads: int | None = 1  # torch CPU threads; 1 avoids oversubscription on a shared machine (None: torch's)

    def __post_init__(self):
        from .languages import check_language

        self.language = check_language(self.language)
        bad = [m for m in self.methods if m not in METHODS]
        if bad or not self.methods:
            raise UsageError(f"unknown method(s) {', '.join(bad) or '(none)'}; choose from {', '.join(METHODS)}")
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise UsageError("seeds must be a non-empty list of distinct integers")
        if bool(self.eval_suite) == bool(self.eval_lcb_dir):
            raise UsageError("set exactly one of eval_suite and eval_lcb_dir")
        for key in ("method_args", "checkpoints"):
            unknown = sorted(set(getattr(self, key)) - set(METHODS))
            if unknown:
                raise UsageError(f"{key} for unknown method(s): {', '.join(unknown)}")
        if set(UNTRAINED) & set(self.checkpoints):
            raise UsageError("checkpoints: 'base' and 'lock' train nothing; the model is given as model")

    def needs_data(self) -> bool:
        """Whether any selected method is trained here (and so needs the shared training data)."""
        return any(m not in UNTRAINED and m not in self.checkpoints for m in self.methods)

    @classmethod
    def from_yaml(cls, path: str | Path, **overrides) -> CompareConfig:
        from .config_io import read_yaml

        p = Path(path)
        data = read_yaml(p)
        file_ckpts = data.get("checkpoints") or {}
        if overrides.get("checkpoints") is not None and isinstance(file_ckpts, dict):
            # per method: a --checkpoint replaces only the methods it names
            overrides["checkpoints"] = {**file_ckpts, **overrides["checkpoints"]}
        data.update({k: v for k, v in overrides.items() if v is not None})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise UsageError(f"{p}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        missing = [k for k in ("model", "language", "output_dir") if k not in data]
        if missing:
            raise UsageError(f"{p}: missing key(s) {', '.join(missing)}")
        return cls(**data)


def _say(msg: str) -> None:
    print(f"langlock compare: {msg}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------------------ 1. data


def build_data(cfg: CompareConfig) -> Path:
    """Prompts → samples → pairs under OUT/data; returns the pairs folder. Each step resumes."""
    from .databuild.pairs import build_pairs
    from .databuild.prompts import FilterRules, build_prompts, read_prompts
    from .databuild.sample import SampleSettings, hf_generator, sample_completions

    data = Path(cfg.output_dir) / "data"
    prompts_file = data / "prompts.jsonl"
    if not prompts_file.exists():
        pool = Path(cfg.pool)
        if cfg.pool == "builtin-train":
            from .suites import load_suite

            rows = [{"question": p.prompt} for p in load_suite("builtin-train", langs=cfg.language)]
            pool = data / "pool.jsonl"
            from .io_utils import write_jsonl_atomic

            write_jsonl_atomic(pool, rows)
        build_prompts(pool, cfg.language, prompts_file, FilterRules(), limit=cfg.pool_limit)
    prompts = read_prompts(prompts_file)
    settings = SampleSettings(model=str(cfg.model), n=cfg.samples_per_prompt, temperature=cfg.sample_temperature,
                              max_new_tokens=cfg.sample_max_new_tokens, seed=cfg.data_seed)
    box: list = []

    def generate(prompt, n, seed):
        if not box:
            box.append(hf_generator(settings, dtype=cfg.dtype, device=cfg.device))
        return box[0](prompt, n, seed)

    t0 = time.time()
    stats = sample_completions(prompts, data / "samples.jsonl", generate, settings)
    if stats["sampled"]:
        _say(f"sampled {stats['sampled']} prompt(s) x {cfg.samples_per_prompt} in {time.time() - t0:.0f} s")
    pairs_dir = data / ("pairs-ief" if not cfg.pair_ignore_english else "pairs-iet")
    if not (pairs_dir / "stats.json").exists():
        st = build_pairs(data / "samples.jsonl", cfg.language, pairs_dir, ignore_english=cfg.pair_ignore_english,
                         seed=cfg.data_seed)
        _say(f"data: {st['pairs']} pairs, {st['sft']} SFT rows from {st['prompts']} prompts "
             f"(confusion rate of the base samples {st['confusion_rate']:.3f})")
    return pairs_dir


# ------------------------------------------------------------------------------------------------ 2. train


def run_dir(cfg: CompareConfig, method: str, seed: int) -> Path:
    return Path(cfg.output_dir) / "runs" / method / f"seed{seed}"


def baseline_config(cfg: CompareConfig, method: str, seed: int, pairs_dir: Path):
    from .baselines.trl_baselines import BaselineConfig

    base_method = method.split("-")[0]
    data_file = {"sft": "sft.jsonl", "grpo": "prompts.jsonl"}.get(base_method, "pairs.jsonl")
    values = {"dtype": cfg.dtype, **cfg.train, **cfg.method_args.get(method, {})}
    if method.startswith("tbpo-"):
        values["tbpo_variant"] = method.split("-")[1]
    if base_method == "grpo":
        # comparable budget: the same prompts per optimiser step, each with num_generations completions
        gens = values.get("num_generations", 4)
        values["per_device_train_batch_size"] = values.get("per_device_train_batch_size", 4) * gens
        values.setdefault("ignore_english", cfg.pair_ignore_english)
    return BaselineConfig.from_mapping(
        {**values, "method": base_method, "model": str(cfg.model), "data": str(pairs_dir / data_file),
         "output_dir": str(run_dir(cfg, method, seed)), "seed": seed, "language": cfg.language},
        where=f"compare train/method_args for {method}",
    )


def train_method(cfg: CompareConfig, method: str, seed: int, pairs_dir: Path | None) -> tuple[str | None, str | None]:
    """Train one run unless finished; return (model path, reason it is unavailable)."""
    from .baselines.trl_baselines import is_finished, train_baseline

    if method in UNTRAINED:
        return str(cfg.model), None
    if method in cfg.checkpoints:
        path = Path(str(cfg.checkpoints[method]).replace("{seed}", str(seed))).expanduser()
        if not ((path / "config.json").is_file() or (path / "adapter_config.json").is_file()):
            raise InputError(f"checkpoints.{method} for seed {seed}: {path} is not a model or adapter directory")
        return str(path), None
    if pairs_dir is None:
        raise UsageError(f"{method}: no training data was built")
    out = run_dir(cfg, method, seed)
    if method == "tlpo":
        return _train_tlpo(cfg, seed, pairs_dir, out)
    if not is_finished(out):
        t0 = time.time()
        log = train_baseline(baseline_config(cfg, method, seed, pairs_dir))
        _say(f"trained {method} seed {seed}: {log['global_step']} steps, final loss "
             f"{log['losses'][-1] if log['losses'] else float('nan'):.4f}, {time.time() - t0:.0f} s")
    return str(out / "model"), None


def _train_tlpo(cfg: CompareConfig, seed: int, pairs_dir: Path, out: Path) -> tuple[str | None, str | None]:
    """TLPO through `langlock.train.TLPOTrainer` on the same prompt-only data and shared budget.

    Shared `train` keys used: max_steps, per_device_train_batch_size (prompts per step), learning_rate, lora,
    lora_r, lora_alpha, lora_dropout, lora_target_modules; `method_args.tlpo` holds `TLPOConfig` fields
    (num_generations, max_completion_length, num_branches, beta, ...). The detector setting is the pairs'.
    """
    from .baselines.trl_baselines import is_finished, save_run

    if is_finished(out):
        return str(out / "model"), None
    try:
        from .train.tlpo_config import TLPOConfig
        from .train.tlpo_trainer import TLPOTrainer
    except ImportError as err:
        return None, f"the TLPO trainer (langlock.train.tlpo_trainer) is not available in this build ({err})"
    import torch
    from datasets import Dataset

    from .databuild.jsonl import read_rows, user_text
    from .models import load_model_and_tokenizer

    t0 = time.time()
    shared = {**cfg.train}
    lora = bool(shared.pop("lora", True))
    lora_kw = {k: shared.pop(k) for k in ("lora_r", "lora_alpha", "lora_dropout", "lora_target_modules") if k in shared}
    lr = shared.pop("learning_rate", None)
    use_cpu = not torch.cuda.is_available()
    args = dict(output_dir=str(out / "trainer"), seed=seed, max_steps=shared.get("max_steps", -1),
                per_device_train_batch_size=shared.get("per_device_train_batch_size", 4),
                learning_rate=lr if lr is not None else (1e-4 if lora else 5e-6), target_language=cfg.language,
                ignore_english=cfg.pair_ignore_english, save_strategy="no", use_cpu=use_cpu, disable_tqdm=True,
                dataloader_num_workers=0, **cfg.method_args.get("tlpo", {}))
    try:
        targs = TLPOConfig(**args)
    except TypeError as err:
        raise UsageError(f"method_args.tlpo: {err}") from None
    device = "cpu" if use_cpu else "cuda"
    model, tok, _ = load_model_and_tokenizer(cfg.model, dtype=cfg.dtype, device=device)
    model.train()
    rows = [{"prompt": user_text(r["prompt"])} for r in read_rows(pairs_dir / "prompts.jsonl", "prompts")]
    peft_config = None
    if lora:
        from peft import LoraConfig

        peft_config = LoraConfig(task_type="CAUSAL_LM", r=lora_kw.get("lora_r", 16),
                                 lora_alpha=lora_kw.get("lora_alpha", 32),
                                 lora_dropout=lora_kw.get("lora_dropout", 0.05),
                                 target_modules=lora_kw.get("lora_target_modules", "all-linear"))
    trainer = TLPOTrainer(model, targs, Dataset.from_list(rows), tok, peft_config=peft_config)
    result = trainer.train()
    log = save_run(trainer, result, out, lora=lora, method="tlpo", config={"compare_train": cfg.train, **args},
                   start=t0)
    _say(f"trained tlpo seed {seed}: {log['global_step']} steps, {time.time() - t0:.0f} s")
    return str(out / "model"), None


# ------------------------------------------------------------------------------------------------ 3. evaluate


def evaluate(cfg: CompareConfig, model_path: str, out: Path, seed: int, lock: dict | None = None) -> dict:
    """Evaluate one model (see the module docstring); cached in OUT/metrics.json.

    With `lock` (LanguageLock options for the target language) the model decodes under the lock, which only
    makes sense for target-language requests: English prompts, English retention items and the KL (the
    weights are unchanged) are left out.
    """
    metrics_file = out / "metrics.json"
    if metrics_file.exists():
        cached = json.loads(metrics_file.read_text(encoding="utf-8"))
        if "repetitive_target" not in cached:  # evaluated before the column existed: add it from the generations
            cached.update(_degeneracy(_generations(out), cfg.language))
            write_json_atomic(metrics_file, cached)
        return cached
    import warnings

    from .bench.runner import BenchConfig, build_generator, run_bench
    from .generate import GenerationSettings
    from .score.metrics import score_records
    from .score.records import Record

    settings = GenerationSettings(max_new_tokens=cfg.eval_max_new_tokens, temperature=cfg.eval_temperature,
                                  top_p=cfg.eval_top_p, seed=seed)
    common = dict(model=model_path, settings=settings, batch_size=cfg.batch_size, device=cfg.device,
                  dtype=cfg.dtype, threads=cfg.threads, progress=False, model_label=f"{out.parent.name}-{out.name}",
                  lock=lock)
    langs = cfg.language if cfg.language == "en" or lock else f"{cfg.language},en"
    bcfg = BenchConfig(output_dir=str(out / "eval" / "confusion"), suite=cfg.eval_suite, lcb_dir=cfg.eval_lcb_dir,
                       langs=langs, limit=cfg.eval_limit, **common)
    gen = build_generator(bcfg)
    t0 = time.time()
    run_bench(bcfg, generator=gen)
    rows = _generations(out)
    records = [Record(r["task"], "m", r["source"], r["language"], r["completion"], r["id"], r["prompt"]) for r in rows]
    target = [r for r in records if r.language == cfg.language]
    english = [r for r in records if r.language == "en"]
    m: dict = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for key, ie in (("ief", False), ("iet", True)):
            rep = score_records(target, "tlpo", ignore_english=ie)
            ov = _overall(rep)
            m[f"rpr_{key}"], m[f"wpr_{key}"] = ov.get("rpr"), ov.get("wpr")
        lcb = score_records(target, "lcb")
        ov = _overall(lcb)
        m["lcb_lpr"], m["lcb_wpr"], m["lcb_lcpr"] = ov.get("lpr"), ov.get("wpr"), ov.get("lcpr")
        per_task = {r.task: r.metrics.get("lpr") for r in lcb.rows if r.level == "overall"}
        m["lcb_lpr_mono"], m["lcb_lpr_cross"] = per_task.get("monolingual"), per_task.get("crosslingual")
        if english and cfg.language != "en":
            m["en_lpr"] = _overall(score_records(english, "lcb")).get("lpr")
    m["n_target"], m["n_english"] = len(target), len(english)
    m["mean_chars_target"] = sum(len(r.completion) for r in target) / max(1, len(target))
    m.update(_degeneracy(rows, cfg.language))
    if cfg.retention:
        rcfg = BenchConfig(output_dir=str(out / "eval" / "retention"), suite="builtin-retention",
                           reference_model=None if lock else str(cfg.model), limit=cfg.retention_limit,
                           langs=cfg.language if lock else cfg.retention_langs, **common)
        summary = run_bench(rcfg, generator=gen)
        ret = summary["retention"]
        by_lang = {r["language"]: r["accuracy"] for r in ret["accuracy"] if r["kind"] == "all"}
        # under a lock only target-language items are run: their accuracy is not the all-language figure
        m["retention_acc"] = None if lock else by_lang.get("all")
        m["retention_acc_target"] = by_lang.get(cfg.language)
        m["kl_en"] = ret["kl"]["kl_mean"] if ret.get("kl") else None
    m["eval_seconds"] = round(time.time() - t0, 1)
    write_json_atomic(metrics_file, m)
    return m


def _generations(out: Path) -> list[dict]:
    """The evaluation's generation log (one dict per prompt)."""
    return [json.loads(line) for line in (out / "eval" / "confusion" / "generations.jsonl")
            .read_text(encoding="utf-8").splitlines() if line.strip()]


def _degeneracy(rows: list[dict], language: str) -> dict:
    """Share of repetitive answers (langlock.score.degeneracy) among the target-language and English ones."""
    from .score.degeneracy import repetitive_share

    target = [r["completion"] for r in rows if r["language"] == language]
    english = [r["completion"] for r in rows if r["language"] == "en"] if language != "en" else []
    return {"repetitive_target": repetitive_share(target), "repetitive_en": repetitive_share(english)}


def _overall(report) -> dict:
    rows = [r for r in report.rows if r.level == "overall"]
    if len(rows) == 1:
        return rows[0].metrics
    # several tasks (monolingual + crosslingual): macro-average their overall rows
    out: dict = {}
    for key in rows[0].metrics if rows else ():
        vals = [r.metrics[key] for r in rows if r.metrics.get(key) is not None]
        out[key] = sum(vals) / len(vals) if vals else None
    return out


# ------------------------------------------------------------------------------------------------ 4. report


def mean_ci(values: list[float]) -> tuple[float | None, float | None]:
    """Mean and the half-width of its two-sided 95% Student-t interval (None for fewer than 2 values)."""
    vals = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    if not vals:
        return None, None
    mean = sum(vals) / len(vals)
    if len(vals) < 2:
        return mean, None
    sd = math.sqrt(sum((v - mean) ** 2 for v in vals) / (len(vals) - 1))
    df = len(vals) - 1
    t = T975[df - 1] if df <= len(T975) else 1.96
    return mean, t * sd / math.sqrt(len(vals))


def summarize(cfg: CompareConfig, per_run: dict[str, dict[int, dict]], unavailable: dict[str, str]) -> dict:
    rows = []
    for method in cfg.methods:
        if method in unavailable:
            rows.append({"method": method, "unavailable": unavailable[method]})
            continue
        runs = per_run.get(method, {})
        row = {"method": method, "seeds": sorted(runs)}
        for key in METRICS:
            mean, half = mean_ci([r.get(key) for r in runs.values()])
            row[key] = {"mean": mean, "ci95": half, "values": [runs[s].get(key) for s in sorted(runs)]}
        rows.append(row)
    return {"config": asdict(cfg), "metrics": {k: v[0] for k, v in METRICS.items()}, "rows": rows}


def _fmt(cell: dict, key: str) -> str:
    """Rates in %, one decimal; KL with four decimals; lengths with one."""
    if cell["mean"] is None:
        return "–"
    scale, digits = {"kl_en": (1, 4), "mean_chars_target": (1, 1)}.get(key, (100, 1))
    s = f"{cell['mean'] * scale:.{digits}f}"
    if cell["ci95"] is not None:
        s += f" ± {cell['ci95'] * scale:.{digits}f}"
    return s


def _num(v) -> str:
    return "" if v is None else f"{v:.6f}"


def write_report(cfg: CompareConfig, summary: dict) -> None:
    out = Path(cfg.output_dir)
    keys = list(METRICS)
    head = "| method | " + " | ".join(METRICS[k][0] for k in keys) + " |"
    lines = [f"# langlock compare: {cfg.model}, target {cfg.language}, seeds {cfg.seeds}", "",
             "Mean ± 95% t-interval over seeds; rates in %, KL in nats per token, lengths in characters.", "", head,
             "|---|" + "---:|" * len(keys)]
    with atomic_open(out / "compare.csv") as fh:
        fh.write("method,metric,mean,ci95," + ",".join(f"seed{s}" for s in cfg.seeds) + "\n")
        for row in summary["rows"]:
            if "unavailable" in row:
                lines.append(f"| {row['method']} | " + " | ".join("n/a" for _ in keys) + " |")
                continue
            cells = [_fmt(row[k], k) for k in keys]
            lines.append(f"| {row['method']} | " + " | ".join(cells) + " |")
            for k in keys:
                c = row[k]
                vals = ",".join(_num(v) for v in c["values"])
                fh.write(f"{row['method']},{k},{_num(c['mean'])},{_num(c['ci95'])},{vals}\n")
    notes = [f"- {r['method']}: not run — {r['unavailable']}" for r in summary["rows"] if "unavailable" in r]
    if notes:
        lines += ["", *notes]
    with atomic_open(out / "compare.md") as fh:
        fh.write("\n".join(lines) + "\n")
    write_json_atomic(out / "compare.json", summary)
    _plot(cfg, summary, out / "compare.png")


def _plot(cfg: CompareConfig, summary: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    for ax, xkey in zip(axes, ("retention_acc", "en_lpr")):
        for row in summary["rows"]:
            if "unavailable" in row:
                continue
            x, y = row[xkey], row["rpr_ief"]
            if x["mean"] is None or y["mean"] is None:
                continue
            ax.errorbar(100 * x["mean"], 100 * y["mean"], xerr=100 * (x["ci95"] or 0), yerr=100 * (y["ci95"] or 0),
                        fmt="o", capsize=3, label=row["method"])
            ax.annotate(row["method"], (100 * x["mean"], 100 * y["mean"]), textcoords="offset points", xytext=(4, 4),
                        fontsize=8)
        ax.set_xlabel(f"{METRICS[xkey][0]} (%)")
        ax.set_ylabel(f"{cfg.language} {METRICS['rpr_ief'][0]} (%)")
        ax.grid(alpha=0.3)
    axes[0].set_title("confusion fixed vs abilities kept")
    axes[1].set_title("confusion fixed vs English kept")
    fig.suptitle(f"{Path(str(cfg.model)).name}, {cfg.language}, mean ± 95% CI over {len(cfg.seeds)} seed(s)")
    fig.tight_layout()
    with atomic_open(path, "wb") as fh:
        fig.savefig(fh, format="png", dpi=120)
    plt.close(fig)


def report_only(cfg: CompareConfig) -> dict:
    """Write the report from the evaluations already finished (no data, training or evaluation is run)."""
    per_run: dict[str, dict[int, dict]] = {}
    missing: dict[str, str] = {}
    for method in cfg.methods:
        for seed in cfg.seeds:
            f = run_dir(cfg, method, seed) / "metrics.json"
            if f.is_file():
                per_run.setdefault(method, {})[seed] = json.loads(f.read_text(encoding="utf-8"))
        if method not in per_run:
            missing[method] = "no finished evaluation yet"
    if not per_run:
        raise UsageError(f"{cfg.output_dir}: no finished evaluation to report")
    summary = summarize(cfg, per_run, missing)
    write_report(cfg, summary)
    return summary


def run_compare(cfg: CompareConfig) -> dict:
    out = Path(cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out / "config.json", asdict(cfg))
    if cfg.threads:
        import torch

        torch.set_num_threads(cfg.threads)
    pairs_dir = build_data(cfg) if cfg.needs_data() else None
    per_run: dict[str, dict[int, dict]] = {}
    unavailable: dict[str, str] = {}
    # seed-major: every method at seed 0, then every method at seed 1, ... so an interrupted run already
    # holds a complete comparison over the seeds it finished
    for seed in cfg.seeds:
        for method in cfg.methods:
            if method in unavailable:
                continue
            model_path, reason = train_method(cfg, method, seed, pairs_dir)
            if reason:
                unavailable[method] = reason
                _say(f"{method}: skipped — {reason}")
                continue
            lock = {**cfg.lock_options, "language": cfg.language} if method == "lock" else None
            metrics = evaluate(cfg, model_path, run_dir(cfg, method, seed), seed, lock=lock)
            per_run.setdefault(method, {})[seed] = metrics
            _say(f"evaluated {method} seed {seed}: RPR(ief) {metrics.get('rpr_ief')}, retention "
                 f"{metrics.get('retention_acc')}")
    summary = summarize(cfg, per_run, unavailable)
    write_report(cfg, summary)
    _say(f"report in {out}/compare.md, compare.png")
    return summary


__all__ = ["METHODS", "METRICS", "CompareConfig", "mean_ci", "report_only", "run_compare", "summarize"]
