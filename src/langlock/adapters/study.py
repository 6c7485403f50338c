"""The adapter study: per-language fixes routed, merged, or one joint adapter, as N languages are combined.

    langlock adapters study --config configs/adapters/smollm2-study.yaml

On ONE base model, for N = 1..k (the first N of ``languages``), each rank of ``ranks`` and each seed, every
*cell* (N, variant, rank, seed) is one evaluation of one way to fix the first N languages at once:

- ``routed-oracle``, ``routed-requested``: the N per-language fixes in one adapter library, each prompt answered
  by the adapter of its language (the benchmark's metadata, or the request-language parser) in PEFT mixed
  batches (`langlock bench --adapters`, here through the evaluation plan's ``Decoding.adapters``);
- ``linear``, ``ties``, ``cat``: the N fixes merged into one adapter (`adapters.merge`, PEFT's
  ``add_weighted_adapter``), weight ``merge_weight`` each, TIES density ``ties_density``;
- ``joint``: one adapter trained on the pooled data of the N languages (`langlock compare`'s ``joint-METHOD``),
  with N times a fix's steps (``joint_budget: scaled``, the same total budget) or a fix's steps (``same``);
- ``base`` (N = 0, one per seed): the base model.

A fix is ``method`` (SFT by default) on one language's data, trained through the run API with the budget and
LoRA settings of ``train`` (``lora_r`` = the rank, ``lora_alpha`` = 2 x rank). Data, training runs and the
translation to `langlock.train.RunConfig` are `langlock.compare`'s (`build_data`, `joint_data`, `run_fields`);
evaluation is `langlock.evaluate.evaluate` of a plan over the N languages and English (the per-language metrics
are read from that one evaluation's reports). Every key of `langlock.compare.CompareConfig` but its model,
language, output and method keys (pool, samples, ``train``, ``method_args``, ``eval_*``, retention...) can be set.
Routed cells measure no retention: the likelihood checks run one model, not a routed mixture.

Seeds: ``curve_seeds`` run every N (the interference curve); ``seeds`` run N = k (the headline comparison), at
every rank or at ``headline_ranks``.
Each fix's *retained gain* in a cell is (its language's ``gain_metric`` there − the base's) / (the same under
``routed-oracle`` at N = k, i.e. the fix alone on its own language − the base's); undefined when the fix alone
raised the metric by less than ``min_gain`` (a fix that lowered it has no gain to keep).

Layout of OUT (every step resumes; a cell whose ``cell.json`` exists is never redone):

    data/, data-LANG/, data-joint-…/   compare's data stage (shared by every rank and seed)
    rR/sS/fix-LANG/, rR/sS/joint-N/    training runs (run API layout)
    rR/sS/library/                     the fixes (named by language), merges (METHOD-N) and joint adapters
    rR/sS/route-N/                     a library of the first N fixes (what routed cells route among)
    cells/CELL/eval/, cells/CELL/cell.json
    results.json (kind ``adapter-study``), study.md, study.csv, study.png   (`adapters.study_report`)

Workers: the same command started in several shells shares the cells out. A worker locks each cell it
evaluates (`langlock.runlock`) and skips a cell another live worker holds; the shared steps (a language's data,
a training run, a library) are locked too, and a worker that reaches one in progress waits for it and then
finds it done. Each worker writes the report from every cell finished so far, so the last one to stop writes
the complete report.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

from ..errors import UsageError
from ..io_utils import write_json_atomic
from ..runlock import RunLockedError, run_lock, wait_lock

VARIANTS = ("routed-oracle", "routed-requested", "linear", "ties", "cat", "joint")
MERGES = ("linear", "ties", "cat")
#: CompareConfig keys the study sets itself
_OWN_COMPARE_KEYS = ("model", "language", "output_dir", "methods", "seeds", "checkpoints", "joint_languages",
                     "lock_options")


@dataclass
class StudyConfig:
    model: str
    languages: list[str]
    output_dir: str
    ranks: list[int] = field(default_factory=lambda: [8, 32])
    curve_seeds: list[int] = field(default_factory=lambda: [0])
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    #: the ranks at which ``seeds`` run N = k (None: every rank); a curve seed runs at every rank
    headline_ranks: list[int] | None = None
    variants: list[str] = field(default_factory=lambda: list(VARIANTS))
    method: str = "sft"
    joint_budget: str = "scaled"  # scaled: N x a fix's steps; same: a fix's steps
    merge_weight: float = 1.0
    ties_density: float = 0.5
    gain_metric: str = "lcb_lpr"
    min_gain: float = 0.05
    #: `langlock.compare.CompareConfig` fields shared by every language (data, train, evaluation, runtime)
    settings: dict = field(default_factory=dict)

    def __post_init__(self):
        from ..compare.config import JOINT
        from ..evaluate import METRICS
        from ..languages import check_language

        self.languages = [check_language(x) for x in self.languages]
        if not self.languages or len(set(self.languages)) != len(self.languages) or "en" in self.languages:
            raise UsageError("languages: one or more distinct non-English languages")
        for key in ("ranks", "curve_seeds", "seeds", "variants"):
            vals = getattr(self, key)
            if not isinstance(vals, list) or len(set(vals)) != len(vals) or (key in ("ranks", "variants") and not vals):
                raise UsageError(f"{key}: a list of distinct values" + ("" if key not in ("ranks", "variants")
                                                                          else ", at least one"))
        if any(not isinstance(r, int) or r < 1 for r in self.ranks):
            raise UsageError(f"ranks must be integers >= 1, got {self.ranks}")
        if not self.curve_seeds and not self.seeds:
            raise UsageError("set curve_seeds or seeds")
        if self.headline_ranks is not None and (not isinstance(self.headline_ranks, list)
                                                or not set(self.headline_ranks) <= set(self.ranks)):
            raise UsageError(f"headline_ranks must be a list of ranks of {self.ranks}, got {self.headline_ranks}")
        bad = [v for v in self.variants if v not in VARIANTS]
        if bad:
            raise UsageError(f"unknown variant(s) {', '.join(bad)}; choose from {', '.join(VARIANTS)}")
        if "joint" in self.variants and f"joint-{self.method}" not in JOINT:
            raise UsageError(f"the joint variant needs a joint-{self.method} compare method (there are: "
                             f"{', '.join(JOINT)})")
        if self.joint_budget not in ("scaled", "same"):
            raise UsageError(f"joint_budget must be 'scaled' or 'same', got {self.joint_budget!r}")
        if not 0 < self.ties_density <= 1:
            raise UsageError(f"ties_density must be in (0, 1], got {self.ties_density}")
        if self.gain_metric not in METRICS:
            raise UsageError(f"gain_metric must be a metric ({', '.join(METRICS)}), got {self.gain_metric!r}")
        own = sorted(set(self.settings) & set(_OWN_COMPARE_KEYS))
        if own:
            raise UsageError(f"the study sets {', '.join(own)} itself")
        self.compare_config(self.languages[0], self.ranks[0])  # bad compare settings fail now

    @property
    def k(self) -> int:
        return len(self.languages)

    def compare_config(self, language: str, rank: int, n: int = 0, joint_steps: int | None = None):
        """The `CompareConfig` the compare machinery runs for `language` at `rank` (its data lives under OUT
        for the first language; with `n`, the joint method pools the first n languages)."""
        from ..compare.config import CompareConfig

        train = {"max_steps": 20, "per_device_train_batch_size": 4, **self.settings.get("train", {}),
                 "lora": True, "lora_r": rank, "lora_alpha": 2 * rank}
        method_args = dict(self.settings.get("method_args") or {})
        if joint_steps is not None:
            method_args[f"joint-{self.method}"] = {**method_args.get(f"joint-{self.method}", {}),
                                                   "max_steps": joint_steps}
        rest = {k: v for k, v in self.settings.items() if k not in ("train", "method_args")}
        return CompareConfig(model=self.model, language=language, output_dir=self.output_dir,
                             methods=[self.method], seeds=[0], joint_languages=self.languages[:n] if n else [],
                             train=train, method_args=method_args, **rest)

    def cells(self) -> list[tuple[int, str, int, int]]:
        """Every (N, variant, rank, seed) cell, in run order: the bases, then per rank and seed N = 1..k
        (curve seeds) or N = k (headline seeds, at ``headline_ranks``)."""
        seeds = list(dict.fromkeys([*self.curve_seeds, *self.seeds]))
        out = [(0, "base", 0, s) for s in seeds]
        for rank in self.ranks:
            headline = self.headline_ranks is None or rank in self.headline_ranks
            for seed in seeds:
                ns = range(1, self.k + 1) if seed in self.curve_seeds else [self.k] if headline else []
                out += [(n, v, rank, seed) for n in ns for v in self.variants]
        return out

    @classmethod
    def from_yaml(cls, path: str | Path, **overrides) -> StudyConfig:
        """A flat YAML mapping: study keys, and `CompareConfig` keys that go to ``settings``."""
        from ..compare.config import CompareConfig
        from ..config_io import read_yaml

        data = read_yaml(path)
        data.update({k: v for k, v in overrides.items() if v is not None})
        own = {f.name for f in fields(cls)} - {"settings"}
        shared = {f.name for f in fields(CompareConfig)} - set(_OWN_COMPARE_KEYS)
        unknown = sorted(set(data) - own - shared)
        if unknown:
            raise UsageError(f"{path}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(own | shared))}")
        missing = [k for k in ("model", "languages", "output_dir") if k not in data]
        if missing:
            raise UsageError(f"{path}: missing key(s) {', '.join(missing)}")
        return cls(**{k: v for k, v in data.items() if k in own},
                   settings={k: v for k, v in data.items() if k in shared})


def cell_name(n: int, variant: str, rank: int, seed: int) -> str:
    return f"base-s{seed}" if variant == "base" else f"N{n}-{variant}-r{rank}-s{seed}"


def say(msg: str) -> None:
    import sys

    print(f"langlock adapters study: {msg}", file=sys.stderr, flush=True)


class Study:
    """One study run: its config, the steps every cell needs (each resumes), and the cells."""

    def __init__(self, cfg: StudyConfig):
        self.cfg = cfg
        self.out = Path(cfg.output_dir)
        #: whether a shared step another worker holds is waited for (else `RunLockedError` skips the cell)
        self.wait = True
        self.base_cfg = cfg.compare_config(cfg.languages[0], cfg.ranks[0])

    def _step(self, target: Path):
        """The lock of a shared step (data, a training run, a library): waited for, or `RunLockedError`."""
        return wait_lock(target) if self.wait else run_lock(target)

    # -- training and libraries (each step skips what is there) ------------------------------------------------
    def data(self, language: str) -> Path:
        from ..compare.data import build_data

        with self._step(self.out / f"data-{language}"):  # a lock name per language (the first one's is data/)
            return build_data(self.base_cfg, language)

    def _train(self, fields_: dict, out: Path, what: str) -> Path:
        from ..train import RunConfig, is_finished, run

        with self._step(out):
            if not is_finished(out):
                t0 = time.time()
                res = run(RunConfig(**{**fields_, "output_dir": str(out)}))
                say(f"trained {what}: {res.global_step} steps, {time.time() - t0:.0f} s")
        return out

    def fix(self, language: str, rank: int, seed: int) -> Path:
        from ..compare.train import run_fields

        ccfg = self.cfg.compare_config(language, rank)
        fields_ = run_fields(ccfg, self.cfg.method, seed, self.data(language))
        return self._train(fields_, self.out / f"r{rank}" / f"s{seed}" / f"fix-{language}", f"fix {language} "
                           f"r{rank} seed {seed}")

    def joint(self, n: int, rank: int, seed: int) -> Path:
        from ..compare.data import joint_data
        from ..compare.train import run_fields

        steps = self.cfg.compare_config(self.cfg.languages[0], rank).train["max_steps"]
        ccfg = self.cfg.compare_config(self.cfg.languages[0], rank, n=n,
                                       joint_steps=steps * n if self.cfg.joint_budget == "scaled" else steps)
        for lang in self.cfg.languages[:n]:
            self.data(lang)
        with self._step(self.out / f"data-joint-{n}"):
            data = joint_data(ccfg)
        fields_ = run_fields(ccfg, f"joint-{self.cfg.method}", seed, data)
        return self._train(fields_, self.out / f"r{rank}" / f"s{seed}" / f"joint-{n}",
                           f"joint {'+'.join(self.cfg.languages[:n])} r{rank} seed {seed}")

    def _register(self, lib_dir: Path, name: str, langs: list[str], make) -> None:
        from .library import AdapterLibrary

        with self._step(lib_dir):
            lib = AdapterLibrary(lib_dir)
            if name not in lib.entries:
                lib.add(make(), name=name, languages=langs, base=self.cfg.model)

    def library(self, n: int, rank: int, seed: int) -> Path:
        """The (rank, seed) library with the first n fixes registered."""
        lib = self.out / f"r{rank}" / f"s{seed}" / "library"
        for lang in self.cfg.languages[:n]:
            self._register(lib, lang, [lang], lambda lang=lang: self.fix(lang, rank, seed))
        return lib

    def route_library(self, n: int, rank: int, seed: int) -> Path:
        lib = self.out / f"r{rank}" / f"s{seed}" / f"route-{n}"
        for lang in self.cfg.languages[:n]:
            self._register(lib, lang, [lang], lambda lang=lang: self.fix(lang, rank, seed))
        return lib

    def merged(self, method: str, n: int, rank: int, seed: int) -> Path:
        from . import merge
        from .library import AdapterLibrary

        lib_dir = self.library(n, rank, seed)
        name = f"{method}-{n}"
        with self._step(lib_dir):
            lib = AdapterLibrary(lib_dir)
            if name not in lib.entries:
                merge.merge_adapters(lib, self.cfg.languages[:n], method, name,
                                     weights=[self.cfg.merge_weight] * n,
                                     density=self.cfg.ties_density if method == "ties" else None)
        return lib_dir / "adapters" / name

    def joint_adapter(self, n: int, rank: int, seed: int) -> Path:
        lib_dir = self.library(0, rank, seed)
        name = f"joint-{n}"
        self._register(lib_dir, name, self.cfg.languages[:n], lambda: self.joint(n, rank, seed))
        return lib_dir / "adapters" / name

    # -- one cell ------------------------------------------------------------------------------------------------
    def plan(self, langs: list[str], seed: int, routed: tuple[str, str] | None = None):
        """The evaluation plan of a cell: the confusion suite in `langs` and English, retention unless routed."""
        from ..evaluate import Decoding, EvalPlan, SuiteSpec
        from ..generate import GenerationSettings

        c = self.base_cfg
        settings = GenerationSettings(max_new_tokens=c.eval_max_new_tokens, temperature=c.eval_temperature,
                                      top_p=c.eval_top_p, seed=seed)
        retention = c.retention and routed is None
        return EvalPlan(
            target=langs[0],
            confusion=SuiteSpec(suite=c.eval_suite, lcb_dir=c.eval_lcb_dir, langs=",".join([*langs, "en"]),
                                limit=c.eval_limit),
            decoding=Decoding(settings, adapters=str(routed[0]) if routed else None,
                              route=routed[1] if routed else "oracle"),
            retention=SuiteSpec(suite="builtin-retention", langs=c.retention_langs, limit=c.retention_limit)
            if retention else None,
            reference_model=str(c.model) if retention else None)

    def model_of(self, n: int, variant: str, rank: int, seed: int) -> tuple[str, tuple | None, int]:
        """(model to evaluate, (library, route) for routed cells, adapter parameters) of a cell."""
        from .library import AdapterLibrary

        if variant == "base":
            return str(self.cfg.model), None, 0
        if variant.startswith("routed-"):
            lib_dir = self.route_library(n, rank, seed)
            params = sum(e.n_params for e in AdapterLibrary(lib_dir).entries.values())
            return str(self.cfg.model), (lib_dir, variant.removeprefix("routed-")), params
        path = self.merged(variant, n, rank, seed) if variant in MERGES else self.joint_adapter(n, rank, seed)
        return str(path), None, AdapterLibrary(path.parents[1]).get(path.name).n_params

    def run_cell(self, n: int, variant: str, rank: int, seed: int) -> dict | None:
        """The finished cell, evaluating it first unless it is done; None when another worker holds it."""
        folder = self.out / "cells" / cell_name(n, variant, rank, seed)
        done = folder / "cell.json"
        if done.is_file():
            return read_cell(done)
        try:
            with run_lock(folder):
                return read_cell(done) if done.is_file() else self._evaluate_cell(folder, n, variant, rank, seed)
        except RunLockedError:
            return None

    def _evaluate_cell(self, folder: Path, n: int, variant: str, rank: int, seed: int) -> dict:
        from ..compare.evaluate import runtime_for
        from ..evaluate import evaluate

        name = folder.name
        done = folder / "cell.json"
        langs = self.cfg.languages if variant == "base" else self.cfg.languages[:n]
        model, routed, params = self.model_of(n, variant, rank, seed)
        t0 = time.time()
        evaluate(model, self.plan(langs, seed, routed), folder / "eval", runtime_for(self.base_cfg), label=name)
        cell = {"name": name, "n": n, "variant": variant, "rank": rank, "seed": seed, "languages": langs,
                "model": model, "params": params, "metrics": language_metrics(folder / "eval", langs),
                **({"routing": routing_accuracy(folder / "eval")} if routed else {}),
                "seconds": round(time.time() - t0, 1)}
        write_json_atomic(done, cell)  # last: its presence marks the cell finished
        say(f"cell {name}: {self.cfg.gain_metric} "
            + ", ".join(f"{lang} {_fmt(m.get(self.cfg.gain_metric))}" for lang, m in cell["metrics"].items()))
        return cell


def _fmt(v) -> str:
    return "-" if v is None else f"{v:.3f}"


def read_cell(path: Path) -> dict:
    """A finished cell (a routed one with its routing accuracy, read from its evaluation if the cell predates it)."""
    import json

    from ..errors import InputError

    try:
        cell = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise InputError(f"{path}: unreadable study cell ({err}); delete it to redo the cell") from None
    if str(cell.get("variant", "")).startswith("routed-") and "routing" not in cell:
        cell["routing"] = routing_accuracy(Path(path).parent / "eval")
    return cell


def _reports(eval_dir: Path) -> dict:
    """A finished evaluation's bench results: ``confusion`` (and its folder, ``confusion_dir``), ``retention`` when
    there is one."""
    from ..results import read_results

    names = read_results(eval_dir, kinds=("evaluation",)).get("reports") or {}
    out = {kind: read_results(eval_dir / names[kind], kinds=("bench",)) for kind in ("confusion", "retention")
           if kind in names}
    return {**out, "confusion_dir": eval_dir / names["confusion"]}


def routing_accuracy(eval_dir: Path) -> dict | None:
    """How a routed evaluation routed its prompts (`langlock bench --adapters`' ``routing`` summary): the route,
    prompts, language and adapter accuracy over every prompt, and the misrouted (true -> chosen) counts."""
    routing = _reports(eval_dir)["confusion"].get("routing")
    if not routing:
        return None
    return {"route": routing.get("route"), **routing.get("overall", {}), "misrouted": routing.get("misrouted", {})}


def language_metrics(eval_dir: Path, langs: list[str]) -> dict[str, dict]:
    """Per language of `langs`, the `Metrics` of a finished multi-language evaluation, read from its reports
    (the confusion bench of every language, the retention bench when there is one)."""
    from ..bench.log import LOG_NAME, read_log
    from ..evaluate import Metrics, confusion_metrics, retention_metrics

    reports = _reports(eval_dir)
    confusion, retention = reports["confusion"], reports.get("retention")
    rows = list(read_log(reports["confusion_dir"] / LOG_NAME)[0].values())
    return {lang: Metrics(**confusion_metrics(lang, confusion, rows),
                          **(retention_metrics(lang, retention) if retention else {})).to_dict() for lang in langs}


def run_study(cfg: StudyConfig, report_only: bool = False) -> dict:
    """Run every cell not finished yet (none with `report_only`), then write the results and the report."""
    from .study_report import write_study

    out = Path(cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out / "config.json", asdict(cfg))
    cells = []
    if report_only:
        cells = [read_cell(p) for p in sorted(out.glob("cells/*/cell.json"))]
        if not cells:
            raise UsageError(f"{out}: no finished cell to report")
    else:
        threads = cfg.settings.get("threads", 1)
        if threads:
            import torch

            torch.set_num_threads(threads)
        study = Study(cfg)
        todo = cfg.cells()
        left = list(todo)
        # pass 1 leaves a cell another worker holds, or whose shared step (data, a training run, a library) it
        # holds, for later; pass 2 takes those, waiting for shared steps (a cell being evaluated elsewhere stays
        # with that worker)
        for wait in (False, True):
            study.wait, skipped = wait, []
            for key in left:
                name = cell_name(*key)
                if (out / "cells" / name / "cell.json").is_file():
                    continue
                say(f"cell {todo.index(key) + 1}/{len(todo)}: {name}")
                if study.run_cell(*key) is None:
                    skipped.append(key)
                    say(f"cell {name}: another worker holds it" + (" (skipped)" if wait else " or a step it needs "
                                                                   "(later)"))
            left = skipped
            if not left:
                break
        # every cell finished by now, by this worker or another (the last worker to stop reports them all)
        cells = [read_cell(p) for key in todo if (p := out / "cells" / cell_name(*key) / "cell.json").is_file()]
        if left:
            say(f"{len(todo) - len(cells)} cell(s) still running elsewhere: this report covers {len(cells)} of "
                f"{len(todo)}; the last worker to stop writes the complete one")
    return write_study(replace(cfg), cells)
