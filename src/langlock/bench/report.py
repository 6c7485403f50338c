"""The human report of a bench run: `report.md` with per-language tables, plots and confusion examples.

Plots (drawn by `langlock.report.plots`) go to `plots/lpr_wpr_<task>.png`: LPR and WPR per language for the `lcb`
profile. Examples show where a confused completion first leaves the target language (⟦ marks the point). VR (valid answers)
and CPR (clean pass rate: valid and no line error) stand beside LPR, with the 95 % bootstrap intervals of LPR and
CPR (`langlock.quality`, `langlock.score.metrics`).
"""

from __future__ import annotations

from pathlib import Path

from ..languages import WPR_LANGUAGES


def _pct(x) -> str:
    return "–" if x is None else f"{100 * x:.1f}"


def _pct_ci(x, ci) -> str:
    """A rate in % with its 95 % interval, e.g. ``62.5 [41.0, 80.2]``."""
    if x is None:
        return "–"
    return _pct(x) + (f" [{_pct(ci[0])}, {_pct(ci[1])}]" if ci else "")


def excerpt(text: str, at: int, width: int = 40, markdown: bool = True) -> str:
    """A one-line window of `text` around character `at`, the confusion point marked ⟦; newlines as ⏎ and, for
    Markdown tables, "|" escaped."""
    def clean(s: str) -> str:
        s = s.replace("\n", "⏎")
        return s.replace("|", "\\|") if markdown else s

    return f"…{clean(text[max(0, at - width // 2):at])}⟦{clean(text[at:at + width])}…"


def language_rows(report, task: str) -> list:
    return [r for r in report.rows if r.level == "language" and r.task == task]


def plot_task(path: Path, lcb_report, task: str) -> bool:
    """Write `task`'s LPR/WPR bars per language to `path` (`langlock.report.plots.pass_rate_bars`); False, and
    nothing written, when the task has no language rows."""
    rows = language_rows(lcb_report, task)
    if not rows:
        return False
    from ..report.plots import pass_rate_bars, write_png

    langs = [r.language for r in rows]
    lpr = [100 * (r.metrics.get("lpr") or 0) for r in rows]
    wpr = [100 * (r.metrics.get("wpr") or 0) if r.language in WPR_LANGUAGES else 0 for r in rows]
    fig = pass_rate_bars(langs, lpr, wpr, f"{task}: line- and word-level pass rate (lcb profile)")
    write_png(fig, path, dpi=110, tight=False)
    return True


def confusion_examples(lcb, tlpo, per_language: int = 2) -> list[tuple]:
    """Completions the benchmark's metric (`lcb` profile) finds confused, with the first wrong-language
    character from the character-level `tlpo` profile when it agrees, else from the `lcb` profile."""
    seen: dict[tuple, int] = {}
    out = []
    for (rec, det_l), (_, det_t) in zip(lcb.samples, tlpo.samples):
        if det_l is None or not det_l.confused:
            continue
        at = det_t.first_confusion_char if det_t is not None and det_t.confused else -1
        if at < 0:
            at = det_l.first_confusion_char
        k = (rec.task, rec.language)
        if at < 0 or seen.get(k, 0) >= per_language:
            continue
        seen[k] = seen.get(k, 0) + 1
        out.append((rec, at))
    return out


def render_report(out: Path, reports: dict, meta: dict) -> Path:
    lcb, tlpo = reports["lcb"], reports["tlpo"]
    g = meta["generation"]
    lines = [f"# langlock bench: {meta['model']}", ""]
    lines.append(f"- prompt set: `{meta['prompt_set']}` (task {meta['task']}, languages {meta['langs'] or 'all'}, "
                 f"sources {meta['sources'] or 'all'})")
    if meta["subset"]:
        lines.append(f"- **subset**: first {meta['limit']} prompt(s) per source and language — not comparable "
                     "with full-benchmark numbers")
    lines.append(f"- decoding: top_p={g['top_p']}, temperature={g['temperature']}, max_new_tokens="
                 f"{g['max_new_tokens']}, seed={g['seed']}"
                 + ("" if meta["benchmark_standard_decoding"] else " — **non-standard** (benchmark: 0.75 / 0.3 / 100)"))
    for lang, opts in (meta.get("locks") or {}).items():
        lines.append(f"- LanguageLock on the {lang} prompts ({', '.join(f'{k}={v}' for k, v in opts.items())}); "
                     "other languages decode unchanged")
    gd = meta["generator"]
    lines.append(f"- backend: {gd.get('backend')}; completions: {meta['n_prompts']}, of which "
                 f"{meta['hit_max_tokens']} hit the token limit")
    lines.append("")
    for task in sorted({r.task for r in lcb.rows}):
        lines += [f"## {task}", "", "| language | n | LPR [95% CI] | WPR | LCPR | VR | CPR [95% CI] | TLPO RPR | "
                  "TLPO WPR |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
        tl = {r.language: r for r in language_rows(tlpo, task)}
        rows = language_rows(lcb, task) + [r for r in lcb.rows if r.level == "overall" and r.task == task]
        for r in rows:
            t = tl.get(r.language) or next((x for x in tlpo.rows if x.level == "overall" and x.task == task), None)
            m = r.metrics
            wpr = m.get("wpr") if r.language in WPR_LANGUAGES or r.language == "all" else None
            ci = r.ci or {}
            lines.append(f"| {r.language if r.language != 'all' else '**all**'} | {r.n} | "
                         f"{_pct_ci(m.get('lpr'), ci.get('lpr'))} | {_pct(wpr)} | {_pct(m.get('lcpr'))} | "
                         f"{_pct(m.get('vr'))} | {_pct_ci(m.get('cpr'), ci.get('cpr'))} | "
                         f"{_pct(t.metrics.get('rpr') if t else None)} | "
                         f"{_pct(t.metrics.get('wpr') if t else None)} |")
        lines.append("")
        png = out / "plots" / f"lpr_wpr_{task}.png"
        if plot_task(png, lcb, task):
            lines += [f"![LPR and WPR per language, {task}](plots/{png.name})", ""]
    lines += ["## First confusion points", "",
              "Completions with a line error (`lcb` profile); ⟦ marks the first wrong-language character.", ""]
    examples = confusion_examples(lcb, tlpo)
    if not examples:
        lines.append("No confused completion.")
    for rec, at in examples:
        lines.append(f"- `{rec.task}` `{rec.language}` {rec.source} #{rec.id} @{at}: {excerpt(rec.completion, at)}")
    lines += ["", "LPR: line-level pass rate; WPR: word-level pass rate (reported for non-Latin scripts); "
              "LCPR: their harmonic mean (the benchmark's metrics, `lcb` profile). VR: share of valid answers (not an "
              "echo of the prompt, a loop or near-empty" + (", and fluent under the judge model" if meta.get("quality")
                                                             == "full" else "") + "; docs/quality.md). CPR: clean "
              "pass rate, answers that are valid and have no line error. TLPO RPR: share of responses with no "
              "wrong-language character (`tlpo` profile). Intervals: 95 % bootstrap over prompts.", ""]
    path = out / "report.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
