"""Decoding sweep: how temperature, nucleus size, beam search, in-context examples and the language lock move
language confusion for one model (the LCB paper's mitigation study, on the user's own model).

The grid is one factor at a time around the benchmark's setting (T=0.3, top-p 0.75, no beams, 0-shot, no
lock): each axis value is one cell, the baseline cell is shared, as in the paper's tables. Each cell writes
`cells/<name>/generations.jsonl` as completions finish (the log `langlock bench` uses) and, once complete,
the scorer's files (`results.json`, `samples.jsonl`, ...). A killed sweep resumes: finished cells are
skipped, a half-done cell continues from its log. At the end `results.json` (kind `sweep` of `langlock.results`), `sweep.md` (the mitigation
tables) and one plot per axis (`plot_<axis>.png`) are written.

Generation: the generation core (`langlock.generate.hf`), as `langlock bench` generates: its prompt renderer
(the chat template with the in-context examples of `langlock.fewshot` as earlier turns, or the benchmark's
`Q:/A:` text for models without a template), per-prompt seeded sampling (so cells differ only by their
setting), its stop rule and batcher; beam search and the lock (a `LanguageLock` for each prompt's language,
before sampling) are options of the core. `sweep(SweepConfig)` is the whole command.
"""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import UsageError
from ..io_utils import atomic_dir, write_json_atomic, write_text_atomic
from ..results import RESULTS_NAME, stamp
from . import StudyConfig, check_detectors

log = logging.getLogger(__name__)

BASELINE = {"temperature": 0.3, "top_p": 0.75, "beams": 1, "shots": 0, "lock": "off"}


@dataclass(frozen=True)
class Cell:
    name: str
    axis: str  # the axis this cell varies, or "baseline"
    temperature: float
    top_p: float
    beams: int
    shots: int
    lock: str  # "off", "suppress" or "penalize"

    def params(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k not in ("name", "axis")}


def _fmt(v) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def make_grid(axes: dict[str, list]) -> list[Cell]:
    """The baseline cell plus one cell per non-baseline value of each axis."""
    for axis, values in axes.items():
        if axis not in BASELINE:
            raise UsageError(f"unknown sweep axis {axis!r}; known: {', '.join(BASELINE)}")
        for v in values:
            _check_value(axis, v)
    cells = [Cell("baseline", "baseline", **BASELINE)]
    for axis, values in axes.items():
        for v in values:
            if v == BASELINE[axis]:
                continue
            params = {**BASELINE, axis: v}
            cells.append(Cell(f"{axis}={_fmt(v)}", axis, **params))
    return cells


def _check_value(axis: str, v) -> None:
    ok = {
        "temperature": lambda x: isinstance(x, float | int) and x >= 0,
        "top_p": lambda x: isinstance(x, float | int) and 0 < x <= 1,
        "beams": lambda x: isinstance(x, int) and x >= 1,
        "shots": lambda x: x in (0, 1, 5),
        "lock": lambda x: x in ("off", "suppress", "penalize"),
    }[axis](v)
    if not ok:
        raise UsageError(f"bad value {v!r} for sweep axis {axis}")


def cell_items(prompts, cell: Cell) -> list:
    """The core's `PromptItem`s of a cell: key, text, language and the cell's in-context examples."""
    from ..fewshot import examples
    from ..generate.base import PromptItem

    return [PromptItem(p.key, p.prompt, p.language,
                       tuple(examples(p.language, p.task, cell.shots)) if cell.shots else ()) for p in prompts]


def cell_decoding(gen, cell: Cell, *, max_new_tokens: int, seed: int, lock_threshold: float | None = None):
    """(GenerationSettings, DecodeOptions) of a cell for the generation core `gen`."""
    from ..generate.base import GenerationSettings
    from ..generate.hf import DecodeOptions
    from ..inference.lock import LockFactory

    settings = GenerationSettings(max_new_tokens=max_new_tokens, temperature=cell.temperature, top_p=cell.top_p,
                                  seed=seed)
    locks = None if cell.lock == "off" else LockFactory(gen.tokenizer, mode=cell.lock,
                                                        entropy_threshold=lock_threshold)
    return settings, DecodeOptions(num_beams=cell.beams, processors=locks)


def generate_cell(gen, prompts, cell: Cell, *, max_new_tokens: int, seed: int, on_done,
                  lock_threshold: float | None = None) -> None:
    """Generate `prompts` (BenchPrompts) under `cell`'s setting with the core `gen` (an `HFGenerator`);
    `on_done(prompt, text, finish_reason)`. One language at a time, as before the core took per-row locks,
    so a cell's batches (and its numbers) are those of earlier langlock versions."""
    settings, options = cell_decoding(gen, cell, max_new_tokens=max_new_tokens, seed=seed,
                                      lock_threshold=lock_threshold)
    by_key = {p.key: p for p in prompts}
    by_lang: dict[str, list] = {}
    for p in prompts:
        by_lang.setdefault(p.language, []).append(p)
    for group in by_lang.values():
        gen.generate(cell_items(group, cell), settings, lambda c: on_done(by_key[c.key], c.text, c.finish_reason),
                     options)


def score_cell(cell_dir: Path, prompts, entries: dict, model_name: str, settings: dict, profile: str,
               detector_options: dict) -> dict:
    """Score a finished cell with the scorer and write its files; return {overall, per_language}."""
    from ..score.metrics import score_records
    from ..score.records import Record
    from ..score.writers import report_to_dict, write_outputs

    records = [Record(p.task, model_name, p.source, p.language, entries[p.key]["completion"], p.id, p.prompt)
               for p in prompts]
    report = score_records(records, profile, **detector_options)
    write_outputs(report, cell_dir, settings)
    from ..report.runs import Run, apply_results

    run = Run("cell", cell_dir, "score")
    apply_results(run, report_to_dict(report, settings), cell_dir)
    return {"overall": run.overall, "per_language": run.per_language}


def run_sweep(out_dir, gen, prompts, cells: list[Cell], *, model_name: str, max_new_tokens: int = 100,
              seed: int = 0, profile: str = "lcb", detector_options: dict | None = None,
              lock_threshold: float | None = None, meta: dict | None = None) -> dict:
    """Run (or resume) every cell with the generation core `gen` (an `HFGenerator`; its batch size and token
    budget apply), then write results.json, sweep.md and the plots. Returns the sweep dict."""
    from ..bench.log import LOG_NAME, GenerationLog

    out = Path(out_dir)
    detector_options = detector_options or {}
    identity = {"model": model_name, "max_new_tokens": max_new_tokens, "seed": seed, "profile": profile,
                "detector_options": detector_options, "lock_threshold": lock_threshold,
                "prompts": sorted(p.key for p in prompts)}
    ident_file = out / "sweep_identity.json"
    if ident_file.exists():
        if json.loads(ident_file.read_text(encoding="utf-8")) != identity:
            raise UsageError(f"{out} holds a sweep with other settings or prompts; use another --output-dir")
    else:
        write_json_atomic(ident_file, identity)
    results = []
    for cell in cells:
        cell_dir = out / "cells" / cell.name
        summary_file = cell_dir / "cell.json"
        if summary_file.exists():
            results.append(json.loads(summary_file.read_text(encoding="utf-8")))
            print(f"langlock sweep: {cell.name}: done earlier, skipped", file=sys.stderr)
            continue
        glog = GenerationLog(cell_dir / LOG_NAME)
        todo = [p for p in prompts if p.key not in glog.entries]
        print(f"langlock sweep: {cell.name}: generating {len(todo)} of {len(prompts)}", file=sys.stderr)

        def on_done(p, text, reason, glog=glog):
            glog.append({"key": p.key, "task": p.task, "source": p.source, "language": p.language, "id": p.id,
                         "completion": text, "finish_reason": reason})

        try:
            generate_cell(gen, todo, cell, max_new_tokens=max_new_tokens, seed=seed, on_done=on_done,
                          lock_threshold=lock_threshold)
        finally:
            glog.close()
        settings = {"model": model_name, "cell": cell.name, **cell.params(), "max_new_tokens": max_new_tokens,
                    "seed": seed, "profile": profile, **detector_options}
        scored = score_cell(cell_dir, prompts, glog.entries, model_name, settings, profile, detector_options)
        summary = {"name": cell.name, "axis": cell.axis, "params": cell.params(), "n": len(prompts), **scored}
        write_json_atomic(summary_file, summary)
        results.append(summary)
    return write_summary(out, cells, results, profile, meta or {})


def write_summary(out: Path, cells: list[Cell], results: list[dict], profile: str, meta: dict) -> dict:
    from ..report.plots import sweep_plot_files

    metric = {"lcb": "lpr", "tlpo": "rpr"}.get(profile, "lpr")
    axes: dict[str, list] = {}
    for c in cells:
        if c.axis != "baseline":
            axes.setdefault(c.axis, [BASELINE[c.axis]]).append(getattr(c, c.axis))
    baseline = next(r for r in results if r["name"] == "baseline")
    data = {"profile": profile, "metric": metric, "settings": meta, "axes": axes,
            "baseline": {"overall": baseline["overall"], "per_language": baseline["per_language"]},
            "cells": results}
    with atomic_dir(out) as tmp:
        data = stamp("sweep", data)
        (tmp / RESULTS_NAME).write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        for name, png in sweep_plot_files(data).items():
            (tmp / name).write_bytes(png)
    write_text_atomic(out / "sweep.md", mitigation_tables(data))
    return data


def mitigation_tables(data: dict) -> str:
    """Markdown: one table per task, a row per cell, the metrics in % and the change against the baseline."""
    base = data["baseline"]["overall"]
    lines = [f"# Decoding sweep ({data['profile']} profile)", ""]
    for task in base:
        names = [m for m in base[task] if m != "line_acc"]
        lines += [f"## {task}", "", "| cell | " + " | ".join(n.upper() for n in names) + " |",
                  "|---|" + "---:|" * len(names)]
        for c in data["cells"]:
            m = c["overall"].get(task, {})
            vals = []
            for n in names:
                v, b = m.get(n), base[task].get(n)
                if v is None:
                    vals.append("–")
                elif c["name"] == "baseline" or b is None:
                    vals.append(f"{100 * v:.1f}")
                else:
                    vals.append(f"{100 * v:.1f} ({100 * (v - b):+.1f})")
            lines.append(f"| {c['name']} | " + " | ".join(vals) + " |")
        lines.append("")
    return "\n".join(lines)


@dataclass(kw_only=True)
class SweepConfig(StudyConfig):
    """`langlock sweep`: the grid's axes, decoding and scoring (the CLI flags)."""

    temperatures: list = field(default_factory=lambda: [0.0, 0.3, 0.7, 1.0])
    top_ps: list = field(default_factory=lambda: [0.5, 0.75, 0.9, 1.0])
    beams: list = field(default_factory=lambda: [1, 4])
    shots: list = field(default_factory=lambda: [0, 1, 5])
    locks: list = field(default_factory=lambda: ["off"])
    lock_entropy: float | None = None
    max_new_tokens: int = 100
    seed: int = 0
    profile: str = "lcb"
    english_words: str | None = None
    lid_model: str | None = None
    ignore_english: bool = False

    def detector_options(self) -> dict:
        if self.profile == "lcb":
            return {k: v for k, v in (("english_words", self.english_words), ("lid_model", self.lid_model)) if v}
        return {"ignore_english": self.ignore_english}


def sweep(cfg: SweepConfig) -> dict:
    """Check the inputs, load the model once, run (or resume) every cell; returns the sweep dict."""
    cfg.check()
    if cfg.max_new_tokens < 1:
        raise UsageError("--max-new-tokens must be >= 1")
    cells = make_grid({"temperature": cfg.temperatures, "top_p": cfg.top_ps, "beams": cfg.beams,
                       "shots": cfg.shots, "lock": cfg.locks})
    prompts = cfg.prompts()
    options = cfg.detector_options()
    check_detectors(cfg.profile, prompts, options)
    gen = cfg.generator()
    meta = {"model": str(cfg.model), "model_path": gen.model_path, "prompt_set": cfg.prompt_set(),
            "task": cfg.task, "langs": cfg.langs, "limit": cfg.limit, "n_prompts": len(prompts),
            "max_new_tokens": cfg.max_new_tokens, "seed": cfg.seed, "lock_entropy": cfg.lock_entropy}
    return run_sweep(cfg.output_dir, gen, prompts, cells, model_name=str(cfg.model),
                     max_new_tokens=cfg.max_new_tokens, seed=cfg.seed, profile=cfg.profile,
                     detector_options=options, lock_threshold=cfg.lock_entropy, meta=meta)
