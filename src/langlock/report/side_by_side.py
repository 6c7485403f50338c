"""Before/after answers side by side: the runs of a report that answered exactly the same prompts (the first run's
set of (task, source, language, id) keys), one table row per prompt, one column per run, each answer with its
language verdict (pass/fail) and validity (valid, or the invalid reasons of `langlock.quality`).

This is where a reader checks that a higher pass rate is a real fix: the same held-out prompt, the base model's
answer next to the fixed model's. Rows: cross-lingual prompts first, then monolingual, English last; at most
`limit`.
"""

from __future__ import annotations

import html

from .runs import Run

TASK_ORDER = {"crosslingual": 0, "monolingual": 1}


def _key(sample: dict) -> tuple:
    return (sample.get("task"), sample.get("source"), sample.get("language"), str(sample.get("id")))


def aligned_runs(runs: list[Run]) -> list[Run]:
    """The first run with samples, and every later run that answered exactly its prompts (empty: fewer than two)."""
    with_samples = [r for r in runs if r.samples]
    if not with_samples:
        return []
    first = with_samples[0]
    keys = {_key(s) for s in first.samples}
    same = [first] + [r for r in with_samples[1:] if {_key(s) for s in r.samples} == keys]
    return same if len(same) > 1 else []


def _order(sample: dict) -> tuple:
    lang = sample.get("language")
    return (lang == "en", TASK_ORDER.get(sample.get("task"), 2), str(lang), str(sample.get("source")),
            int(sample["id"]) if str(sample.get("id")).isdigit() else 0, str(sample.get("id")))


def _cell(sample: dict, width: int) -> str:
    esc = html.escape
    status = (sample.get("detection") or {}).get("status", "?")
    valid = sample.get("valid")
    reasons = ", ".join(sample.get("invalid_reasons") or [])
    vtag = ('<span class="tag pass">valid</span>' if valid is True else
            f'<span class="tag fail">invalid: {esc(reasons)}</span>' if valid is False else "")
    text = sample.get("completion", "")
    shown = text[:width] + ("…" if len(text) > width else "")
    return f'<td class="l"><span class="tag {esc(status)}">{esc(status)}</span> {vtag}<pre>{esc(shown)}</pre></td>'


def side_by_side_section(runs: list[Run], limit: int = 20, width: int = 500) -> str:
    """The HTML section (empty string when no two runs answered the same prompts)."""
    aligned = aligned_runs(runs)
    if not aligned:
        return ""
    by_run = [{_key(s): s for s in r.samples} for r in aligned]
    rows = sorted(aligned[0].samples, key=_order)[:limit]
    head = "".join(f'<th class="l">{html.escape(r.name)}</th>' for r in aligned)
    body = []
    for s in rows:
        k = _key(s)
        prompt = html.escape((s.get("prompt") or "")[:300])
        body.append(f'<tr><td class="l"><b>{html.escape(str(k[2]))}</b> <span class="muted">{html.escape(str(k[0]))}'
                    f' / {html.escape(str(k[1]))} / {html.escape(k[3])}</span><pre class="muted">{prompt}</pre></td>'
                    + "".join(_cell(m[k], width) for m in by_run) + "</tr>")
    return ("<h2>Same prompts, side by side</h2><p class=\"muted\">Every run below answered exactly the same "
            f"prompts; the first {len(rows)} of {len(aligned[0].samples)} (cross-lingual first, English last), "
            "unedited. pass/fail: the language check; valid/invalid: the answer-validity judge.</p>"
            f'<table class="sbs"><tr><th class="l">prompt</th>{head}</tr>' + "".join(body) + "</table>")
