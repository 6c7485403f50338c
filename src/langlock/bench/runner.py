"""`run_bench`: generate completions for a prompt set (LCB test sets or a built-in suite), log them as they
finish, then score them with both detector profiles and write results, metrics and a report.

Order of work, so that bad input never leaves anything half-written: prompts are loaded and validated, the
generator is built (model resolved), and only then is the output folder touched. The run folder holds
`run.json` (what is being generated; a resume with other settings is refused), `generations.jsonl` (the
resumable log) and, at the end, `results.json` (`langlock.results`, kind ``bench``), `metrics.csv`,
`report.md`, `plots/`, and one folder of scorer details per detector setting: `lcb/`, `tlpo/` (English counted
as confusion) and `tlpo-en-neutral/` (English ignored).

Answer validity (`langlock.quality`): every answer gets a verdict, and each scoring reports VR and CPR beside
its pass rates. `BenchConfig.quality` = "cheap" (default: echo and degenerate signals, no model, fast) or "full"
(also the fluency judge model, `judge_model` or the default one).

Per-language decoding: `BenchConfig.locks` maps a language to `LanguageLock` options; that language's prompts
decode under its lock and every other prompt decodes unchanged (`generate_all`). `BenchConfig.steer` lists SITE
steering files (`langlock.steer`, one per language) the same way: each prompt of a file's language is steered;
and `BenchConfig.shots` (language -> N) puts N of langlock's demonstrations of that language
(`langlock.fewshot.demonstration_turns`) before each prompt of the language as in-context turns.
"""

from __future__ import annotations

import json
import logging
import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from .. import __version__
from ..errors import UsageError
from ..generate import GenerationSettings, Generator, PromptItem, make_generator
from ..io_utils import atomic_dir, write_json_atomic
from ..results import stamp
from .log import LOG_NAME, GenerationLog
from .prompts import BenchPrompt, load_lcb, load_prompt_file

log = logging.getLogger(__name__)

#: (name in results.json "profiles" and folder, detector profile, detector options) of every bench scoring
SCORINGS = (("lcb", "lcb", {}), ("tlpo", "tlpo", {"ignore_english": False}),
            ("tlpo-en-neutral", "tlpo", {"ignore_english": True}))


@dataclass
class BenchConfig:
    """Everything `langlock bench` needs; mirrors the command-line flags."""

    output_dir: str
    model: str | None = None
    lcb_dir: str | None = None
    suite: str | None = None
    prompts: str | None = None  # a user's own prompt file (CSV or JSONL, `load_prompt_file`)
    task: str = "all"
    langs: str | None = None
    sources: str | None = None
    limit: int | None = None
    backend: str = "hf"
    settings: GenerationSettings = field(default_factory=GenerationSettings)
    model_label: str | None = None
    cache_dir: str | None = None
    batch_size: int = 8
    max_batch_tokens: int = 4096
    device: str = "cpu"
    dtype: str = "float32"
    threads: int | None = None
    base_url: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    concurrency: int = 4
    timeout: float = 120.0
    max_retries: int = 4
    completions: list[str] = field(default_factory=list)
    reference_model: str | None = None
    lcb_options: dict = field(default_factory=dict)
    progress: bool = True
    generate_only: bool = False
    #: hf: language -> LanguageLock options {"mode", "entropy_threshold", ...}; a lock applies to the prompts
    #: of its language only, the others decode unchanged
    locks: dict = field(default_factory=dict)
    #: hf: SITE steering files (one per language, `langlock steer fit`); a file steers its language's prompts
    steer: list = field(default_factory=list)
    steer_decode_scale: float = 0.0
    #: hf / vllm: language -> N in-context demonstrations (`langlock.fewshot.demonstration_turns`) before each
    #: prompt of that language
    shots: dict = field(default_factory=dict)
    #: hf / vllm: an adapter library (`langlock.adapters`) and the router choosing each prompt's adapter
    adapters: str | None = None
    route: str = "oracle"
    #: answer validity: "cheap" (model-free signals) or "full" (plus the fluency judge model `judge_model`)
    quality: str = "cheap"
    judge_model: str | None = None

    def __post_init__(self):
        from ..languages import check_language
        from ..quality.run import MODES

        if self.quality not in MODES:
            raise UsageError(f"unknown quality mode {self.quality!r}; choose {' or '.join(MODES)}")

        locks = {}
        for lang, opts in (self.locks or {}).items():
            lang = check_language(lang)
            opts = dict(opts or {})
            if opts.pop("language", lang) != lang:
                raise UsageError(f"locks.{lang}: a lock's language is its key")
            locks[lang] = opts
        self.locks = locks
        self.shots = {check_language(lang): n for lang, n in (self.shots or {}).items() if n}


def collect_prompts(cfg: BenchConfig) -> list[BenchPrompt]:
    if sum(map(bool, (cfg.lcb_dir, cfg.suite, cfg.prompts))) != 1:
        raise UsageError("pass exactly one of --lcb-dir DIR, --suite NAME or --prompts FILE")
    if cfg.prompts:
        return load_prompt_file(cfg.prompts, cfg.task, cfg.langs, cfg.sources, cfg.limit)
    if cfg.lcb_dir:
        return load_lcb(cfg.lcb_dir, cfg.task, cfg.langs, cfg.sources, cfg.limit)
    if cfg.suite == "lcb":  # the test sets `langlock lcb fetch` put into the cache
        from ..lcb import cached_test_sets

        return load_lcb(cached_test_sets(), cfg.task, cfg.langs, cfg.sources, cfg.limit)
    from ..suites import load_suite

    if cfg.sources:
        raise UsageError("--sources applies to --lcb-dir only")
    if cfg.suite == "builtin-train":
        raise UsageError("builtin-train is a training pool, not an evaluation suite")
    return load_suite(cfg.suite, cfg.task, cfg.langs, cfg.limit, seed=cfg.settings.seed)


def model_label(cfg: BenchConfig) -> str:
    if cfg.model_label:
        return cfg.model_label
    if cfg.backend == "openai":
        return cfg.model or "openai"
    if cfg.backend == "file":
        return "file"
    if cfg.adapters:  # routed adapters of a library
        return f"{Path(cfg.adapters).name}-{cfg.route}"
    path = Path(str(cfg.model))
    name = path.name
    if name == "model" and (path / "adapter_config.json").is_file():
        return f"{path.parent.name}-adapter"  # a training run's OUTPUT_DIR/model
    return name[:-5] if name.lower().endswith(".gguf") else name


def build_generator(cfg: BenchConfig) -> Generator:
    if cfg.adapters:
        from ..adapters.bench import generator_options

        opts = generator_options(cfg)
        if cfg.backend == "vllm":  # vLLM's multi-LoRA: one LoRARequest per request
            return make_generator("vllm", **opts, cache_dir=cfg.cache_dir, locks=cfg.locks)
        return make_generator("hf", **opts, batch_size=cfg.batch_size, device=cfg.device,
                              max_batch_tokens=cfg.max_batch_tokens, dtype=cfg.dtype, cache_dir=cfg.cache_dir,
                              threads=cfg.threads)
    if cfg.backend in ("hf", "vllm") and not cfg.model:
        raise UsageError(f"--backend {cfg.backend} needs --model")
    if cfg.backend == "hf":
        return make_generator("hf", model=cfg.model, batch_size=cfg.batch_size, device=cfg.device,
                              max_batch_tokens=cfg.max_batch_tokens,
                              dtype=cfg.dtype, cache_dir=cfg.cache_dir, threads=cfg.threads)
    if cfg.locks and cfg.backend not in ("openai", "vllm"):
        raise UsageError("--lock works with --backend hf, vllm, or openai against a vLLM server with langlock's "
                         "processor (langlock serve)")
    if cfg.steer:
        raise UsageError("--steer works with --backend hf only")
    if cfg.shots and cfg.backend != "vllm":
        raise UsageError("in-context demonstrations (shots) work with --backend hf or vllm only")
    if cfg.backend == "openai":
        if not cfg.base_url or not cfg.model:
            raise UsageError("--backend openai needs --base-url URL and --model NAME (the server's model name)")
        return make_generator("openai", base_url=cfg.base_url, model=cfg.model, api_key_env=cfg.api_key_env,
                              concurrency=cfg.concurrency, timeout=cfg.timeout, max_retries=cfg.max_retries,
                              locks=cfg.locks)
    if cfg.backend == "file":
        return make_generator("file", paths=cfg.completions)
    if cfg.backend == "vllm":
        return make_generator("vllm", model=cfg.model, cache_dir=cfg.cache_dir, locks=cfg.locks)
    return make_generator(cfg.backend)  # raises the unknown-backend error


def run_identity(cfg: BenchConfig, gen: Generator) -> dict:
    """What must not change between a run and its resumption. The prompt format is named only when it is not
    the chat template, the weights' dtype only when it is not float32 (runs keep the identity they had before
    either was named)."""
    described = gen.describe()
    fmt, dtype = described.get("prompt_format"), described.get("dtype")
    return {"model": model_label(cfg), "backend": cfg.backend, "settings": cfg.settings.to_dict(),
            "chat_template_sha256": described.get("chat_template_sha256"),
            **({"prompt_format": fmt} if fmt and fmt != "chat" else {}),
            **({"dtype": dtype} if dtype and dtype != "float32" else {}),
            **({"locks": cfg.locks} if cfg.locks else {}),
            **({"steer": steer_identity(cfg)} if cfg.steer else {}),
            **({"shots": cfg.shots} if cfg.shots else {}),
            **(_adapters_identity(cfg) if cfg.adapters else {})}


def _adapters_identity(cfg: BenchConfig) -> dict:
    from ..adapters.bench import identity

    return identity(cfg)


def steer_identity(cfg: BenchConfig) -> dict:
    """The steering files by content (sha256) and the decode scale: a resume with other files is refused."""
    import hashlib

    from ..errors import InputError

    files = []
    for p in cfg.steer:
        if not Path(p).is_file():
            raise InputError(f"steering file {p} does not exist")
        files.append([Path(p).name, hashlib.sha256(Path(p).read_bytes()).hexdigest()])
    return {"files": files, "decode_scale": cfg.steer_decode_scale}


def build_steering(cfg: BenchConfig, gen: Generator):
    """The `langlock.steer.Steering` of `cfg.steer` on the generator's model (None without files); files
    fitted for another model or another prompt rendering are refused here, before the run folder is touched."""
    if not cfg.steer:
        return None
    if not hasattr(gen, "renderer"):
        raise UsageError("--steer works with --backend hf only")
    from ..steer.apply import load_steering

    return load_steering(gen.model, cfg.steer, gen.renderer.format, cfg.steer_decode_scale)


def generate_all(gen: Generator, cfg: BenchConfig, prompts: list[BenchPrompt], on_done, steer=None,
                 routes: dict[str, str] | None = None) -> None:
    """Generate `prompts` in one call of the backend. Each row carries its language: with `cfg.locks` that
    language's lock applies to it — `hf` through `inference.lock.LockFactory`, `vllm` and `openai` (a server
    started by `langlock serve`) in each request's extra arguments — and with steering files (hf) that
    language's SITE embedding; other languages decode unchanged. With `routes` (prompt key -> adapter name)
    each row carries its adapter (PEFT mixed batches). Sampling is seeded per prompt, so which prompts share a
    batch changes no completion."""
    from ..fewshot import demonstration_turns

    routes = routes or {}
    turns = {lang: demonstration_turns(lang, n) for lang, n in cfg.shots.items()}
    items = [PromptItem(p.key, p.prompt, language=p.language, shots=turns.get(p.language, ()),
                        adapter=None if routes.get(p.key, "__base__") == "__base__" else routes[p.key])
             for p in prompts]
    if cfg.backend != "hf" or not (cfg.locks or cfg.steer):  # vllm / openai carry the locks in their requests
        gen.generate(items, cfg.settings, on_done)
        return
    from ..generate.hf import DecodeOptions
    from ..inference.lock import LockFactory

    steer = steer if steer is not None else build_steering(cfg, gen)
    gen.generate(items, cfg.settings, on_done, DecodeOptions(
        processors=LockFactory(gen.tokenizer, cfg.locks) if cfg.locks else None, steer=steer))


def _progress(total: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, unit="completion", desc="generating", disable=not enabled or total == 0,
                dynamic_ncols=True, file=sys.stderr, smoothing=0.1)


def run_bench(cfg: BenchConfig, generator: Generator | None = None, stop_after: int | None = None) -> dict:
    """Run (or resume) a benchmark. `stop_after` (tests) raises KeyboardInterrupt after that many new
    completions, as a kill would. Returns the summary written to results.json."""
    prompts = collect_prompts(cfg)
    gen = generator or build_generator(cfg)
    gen.prepare([PromptItem(p.key, p.prompt) for p in prompts])
    steering = build_steering(cfg, gen)
    if cfg.limit:
        print(f"langlock bench: SUBSET — first {cfg.limit} prompt(s) per source and language "
              f"({len(prompts)} prompts); numbers are not comparable with the full benchmark", file=sys.stderr)
    if not cfg.settings.is_benchmark_standard():
        print("langlock bench: non-standard decoding settings (the benchmark uses top_p=0.75, "
              "temperature=0.3, max 100 new tokens)", file=sys.stderr)
    out = Path(cfg.output_dir)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--output-dir {out} exists and is not a directory")
    identity = run_identity(cfg, gen)
    run_file = out / "run.json"
    started_with = gen.describe()
    if run_file.exists():
        old = json.loads(run_file.read_text(encoding="utf-8"))
        started_with = old.get("generator", started_with)
        if old.get("identity") != identity:
            raise UsageError(f"{out} holds a run with other settings ({old.get('identity')}); "
                             "use another --output-dir")
    else:
        write_json_atomic(run_file, {"identity": identity, "generator": gen.describe(),
                                     "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
    routes, routing = {}, None
    if cfg.adapters:
        from ..adapters.bench import plan_routes

        routes, routing = plan_routes(cfg, prompts)
    glog = GenerationLog(out / LOG_NAME)
    by_key = {p.key: p for p in prompts}
    if len(by_key) != len(prompts):
        raise UsageError("duplicate prompt keys in the prompt set")
    todo = [p for p in prompts if p.key not in glog.entries]
    if len(todo) < len(prompts):
        print(f"langlock bench: resuming: {len(prompts) - len(todo)} of {len(prompts)} completions already in "
              f"{out / LOG_NAME}; generating {len(todo)}", file=sys.stderr)
    t0 = time.time()
    bar = _progress(len(todo), cfg.progress)
    new = 0

    def on_done(c):
        nonlocal new
        p = by_key[c.key]
        glog.append({"key": c.key, "task": p.task, "source": p.source, "language": p.language, "id": p.id,
                     "prompt": p.prompt, "completion": c.text, "finish_reason": c.finish_reason,
                     "n_tokens": c.n_tokens, **({"adapter": routes[c.key]} if routes else {})})
        new += 1
        bar.update(1)
        if stop_after is not None and new >= stop_after:
            raise KeyboardInterrupt

    try:
        generate_all(gen, cfg, todo, on_done, steer=steering, routes=routes)
    finally:
        bar.close()
        glog.close()
    gen_seconds = time.time() - t0
    entries = glog.entries
    if cfg.generate_only:
        print(f"langlock bench: generated {new} completion(s) in {gen_seconds:.0f} s; {len(entries)} in the log. "
              "Run the same command without --generate-only to score them.", file=sys.stderr)
        return {"n_prompts": len(prompts), "n_generated_this_run": new, "generation_seconds": gen_seconds}
    missing = [p.key for p in prompts if p.key not in entries]
    if missing:
        raise UsageError(f"{len(missing)} prompts have no completion after generation (first: {missing[0]})")
    pairs = [(p, entries[p.key]) for p in prompts]
    meta = {
        "langlock_version": __version__,
        "command": " ".join(sys.argv),
        "model": model_label(cfg),
        "prompt_set": (cfg.lcb_dir and str(Path(cfg.lcb_dir).resolve())
                       or cfg.prompts and str(Path(cfg.prompts).resolve()) or cfg.suite),
        "task": cfg.task, "langs": cfg.langs, "sources": cfg.sources, "limit": cfg.limit,
        "subset": bool(cfg.limit),
        "generation": cfg.settings.to_dict(),
        "locks": cfg.locks,
        **({"steer": steer_identity(cfg)} if cfg.steer else {}),
        **({"shots": cfg.shots} if cfg.shots else {}),
        **({"routing": routing} if routing else {}),  # routing accuracy, apart from the pass rates
        "benchmark_standard_decoding": cfg.settings.is_benchmark_standard(),
        "generator": gen.describe(),
        "generator_at_start": started_with,  # what generated the first completions (a resume may differ)
        "n_prompts": len(prompts), "n_generated_this_run": new,
        "generation_seconds_this_run": round(gen_seconds, 2),
        "hit_max_tokens": sum(1 for _, e in pairs if e.get("finish_reason") == "length"),
        "python": platform.python_version(),
    }
    if cfg.suite == "builtin-retention":
        from .retention_report import write_retention

        return write_retention(out, pairs, meta, cfg, gen)
    return write_confusion(out, pairs, meta, {k: v for k, v in cfg.lcb_options.items() if v},
                           quality=cfg.quality, judge_model=cfg.judge_model)


def write_confusion(out: Path, pairs, meta: dict, lcb_options: dict | None = None, quality: str = "cheap",
                    judge_model: str | None = None) -> dict:
    from ..fewshot import demonstration_turns
    from ..quality.run import quality_verdicts
    from ..score.metrics import score_records
    from ..score.records import Record
    from ..score.writers import detector_settings, report_to_dict, write_outputs
    from .report import render_report

    records = [Record(p.task, meta["model"], p.source, p.language, e["completion"], p.id, p.prompt)
               for p, e in pairs]
    # answers generated after in-context demonstrations must not just copy one (the judge's copy signal)
    shown = {lang: [t["content"] for t in demonstration_turns(lang, n) if t["role"] == "assistant"]
             for lang, n in (meta.get("shots") or {}).items()}
    verdicts, qinfo = quality_verdicts(records, mode=quality, judge_model=judge_model,
                                       examples=[shown.get(p.language, ()) for p, _ in pairs] if shown else None)
    meta = {**meta, "quality": quality, "quality_settings": qinfo}
    reports = {}
    import warnings

    # tlpo with English counted as confusion: a Korean prompt answered in English is what the benchmark measures;
    # and with English neutral (the training detector's other setting)
    for name, profile, opts in SCORINGS:
        opts = (lcb_options or {}) if profile == "lcb" else opts
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reports[name] = (score_records(records, profile, verdicts=verdicts, **opts),
                             detector_settings(profile, **opts))
    summary = stamp("bench", {**meta, "profiles": {name: report_to_dict(rep, st)
                                                   for name, (rep, st) in reports.items()}})
    with atomic_dir(out) as tmp:
        for prof, (rep, st) in reports.items():
            write_outputs(rep, tmp / prof, {**st, "run": meta})
        (tmp / "results.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2) + "\n",
                                          encoding="utf-8")
        with open(tmp / "metrics.csv", "w", encoding="utf-8", newline="") as fh:
            # one table; its "profile" column names the scoring (tlpo-en-neutral is the tlpo profile too)
            for i, (name, (rep, _)) in enumerate(reports.items()):
                lines = (tmp / name / "metrics.csv").read_text(encoding="utf-8").splitlines(keepends=True)
                fh.writelines(([lines[0]] if i == 0 else [])
                              + [name + line[len(rep.profile):] for line in lines[1:]])
        render_report(tmp, {k: v[0] for k, v in reports.items()}, meta)
    print(f"langlock bench: results in {out}/ (results.json, metrics.csv, report.md)", file=sys.stderr)
    return summary
