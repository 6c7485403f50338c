"""Decoding sweep: how temperature, nucleus size, beam search, in-context examples and the language lock move
language confusion for one model (the LCB paper's mitigation study, on the user's own model).

The grid is one factor at a time around the benchmark's setting (T=0.3, top-p 0.75, no beams, 0-shot, no
lock): each axis value is one cell, the baseline cell is shared, as in the paper's tables. Each cell writes
`cells/<name>/generations.jsonl` as completions finish (the log `langlock bench` uses) and, once complete,
the scorer's files (`results.json`, `samples.jsonl`, ...). A killed sweep resumes: finished cells are
skipped, a half-done cell continues from its log. At the end `sweep.json`, `sweep.md` (the mitigation
tables) and one plot per axis (`plot_<axis>.png`) are written.

Generation: the model's chat template with the in-context examples as earlier turns (`langlock.fewshot`),
or the benchmark's `Q:/A:` rendering for models without a template; sampling as the `hf` backend does it
(per-prompt seeded, so cells differ only by their setting); beam search with transformers' `num_beams`;
the lock as a `LanguageLock` for each prompt's language, placed before sampling.
"""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from .errors import UsageError
from .io_utils import atomic_dir, write_json_atomic, write_text_atomic

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


def render_prompt(tokenizer, prompt, shots: int) -> str:
    from .fewshot import as_plain_prompt, examples

    messages = examples(prompt.language, prompt.task, shots) if shots else []
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(messages + [{"role": "user", "content": prompt.prompt}],
                                             tokenize=False, add_generation_prompt=True)
    return as_plain_prompt(messages, prompt.prompt)


def generate_cell(model, tokenizer, prompts, cell: Cell, *, max_new_tokens: int, seed: int, batch_size: int,
                  on_done, lock_threshold: float | None = None, max_batch_tokens: int = 4096) -> None:
    """Generate `prompts` (BenchPrompts) under `cell`'s setting; `on_done(prompt, text, finish_reason)`.

    Batches are length-bucketed like `langlock bench`'s; with beam search every prompt runs as `beams`
    sequences, so the padded-token budget per batch is divided by the beam count.
    """
    import torch
    from transformers import GenerationConfig, LogitsProcessorList

    from .generate.base import length_batches, prompt_seed
    from .generate.hf import SeededSampler, stop_token_ids
    from .inference.lock import LanguageLock

    tokenizer.padding_side = "left"
    stops = stop_token_ids(tokenizer, model)
    template = bool(getattr(tokenizer, "chat_template", None))
    by_lang: dict[str, list] = {}
    for p in prompts:
        by_lang.setdefault(p.language, []).append(p)
    for lang, group in by_lang.items():
        procs = []
        if cell.lock != "off":
            procs.append(LanguageLock(tokenizer, lang, mode=cell.lock, entropy_threshold=lock_threshold))
        ids = {p.key: tokenizer(render_prompt(tokenizer, p, cell.shots), add_special_tokens=not template)["input_ids"]
               for p in group}
        budget = max(1, max_batch_tokens // cell.beams)
        for batch in length_batches(group, [len(ids[p.key]) for p in group], batch_size, budget):
            enc = tokenizer.pad({"input_ids": [ids[p.key] for p in batch]}, padding=True, return_tensors="pt")
            enc = {k: v.to(model.device) for k, v in enc.items()}
            config = GenerationConfig(max_new_tokens=max_new_tokens, do_sample=False, eos_token_id=stops,
                                      pad_token_id=tokenizer.pad_token_id, num_beams=cell.beams,
                                      early_stopping=cell.beams > 1)
            batch_procs = list(procs)
            if cell.beams == 1:
                gens = [torch.Generator().manual_seed(prompt_seed(seed, p.key)) for p in batch]
                batch_procs.append(SeededSampler(gens, cell.temperature, cell.top_p))
            with torch.inference_mode():
                out = model.generate(**enc, generation_config=config, logits_processor=LogitsProcessorList(batch_procs))
            for p, ids in zip(batch, out[:, enc["input_ids"].shape[1]:].tolist()):
                cut = next((i for i, t in enumerate(ids) if t in stops), None)
                body = ids if cut is None else ids[:cut]
                on_done(p, tokenizer.decode(body, skip_special_tokens=True), "length" if cut is None else "stop")


def score_cell(cell_dir: Path, prompts, entries: dict, model_name: str, settings: dict, profile: str,
               detector_options: dict) -> dict:
    """Score a finished cell with the scorer and write its files; return {overall, per_language}."""
    from .score.metrics import score_records
    from .score.records import Record
    from .score.writers import report_to_dict, write_outputs

    records = [Record(p.task, model_name, p.source, p.language, entries[p.key]["completion"], p.id, p.prompt)
               for p in prompts]
    report = score_records(records, profile, **detector_options)
    write_outputs(report, cell_dir, settings)
    from .report.runs import Run, apply_results

    run = Run("cell", cell_dir, "score")
    apply_results(run, report_to_dict(report, settings), cell_dir)
    return {"overall": run.overall, "per_language": run.per_language}


def run_sweep(out_dir, model, tokenizer, prompts, cells: list[Cell], *, model_name: str, max_new_tokens: int = 100,
              seed: int = 0, batch_size: int = 8, profile: str = "lcb", detector_options: dict | None = None,
              lock_threshold: float | None = None, meta: dict | None = None, max_batch_tokens: int = 4096) -> dict:
    """Run (or resume) every cell, then write sweep.json, sweep.md and the plots. Returns the sweep dict."""
    from .bench.log import LOG_NAME, GenerationLog

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
            generate_cell(model, tokenizer, todo, cell, max_new_tokens=max_new_tokens, seed=seed,
                          batch_size=batch_size, on_done=on_done, lock_threshold=lock_threshold,
                          max_batch_tokens=max_batch_tokens)
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
    from .report import plots
    from .report.html import sweep_figures

    metric = {"lcb": "lpr", "tlpo": "rpr"}.get(profile, "lpr")
    axes: dict[str, list] = {}
    for c in cells:
        if c.axis != "baseline":
            axes.setdefault(c.axis, [BASELINE[c.axis]]).append(getattr(c, c.axis))
    baseline = next(r for r in results if r["name"] == "baseline")
    data = {"kind": "sweep", "profile": profile, "metric": metric, "settings": meta, "axes": axes,
            "baseline": {"overall": baseline["overall"], "per_language": baseline["per_language"]},
            "cells": results}
    with atomic_dir(out) as tmp:
        (tmp / "sweep.json").write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        for title, fig in sweep_figures(data):
            axis = title.split(" vs ")[-1]
            (tmp / f"plot_{axis}.png").write_bytes(plots.png_bytes(fig))
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
