"""Functions the LCB task YAMLs call (`!function utils.…`; lm-eval imports this file by path).

`load_test_set(task=..., language=...)` is the tasks' `custom_dataset`; `process_results` judges one completion
with the `lcb` detector profile and returns one compact item per metric; `lpr` / `wpr` / `lcpr` aggregate the
items with langlock's own averaging (`langlock.score.metrics.aggregate`: rates per source, mean over sources).
"""

from __future__ import annotations

from langlock.detect import get_detector
from langlock.languages import WPR_LANGUAGES
from langlock.score.metrics import GroupStats, aggregate

PROFILE = "lcb"


def load_test_set(task: str, language: str, **_metadata) -> dict:
    """The benchmark's prompts of one task and language from the fetched cache, as a `test` split."""
    import datasets

    from langlock.bench.prompts import load_lcb
    from langlock.lcb import cached_test_sets

    prompts = load_lcb(cached_test_sets(), task, [language])
    rows = [{"prompt": p.prompt, "source": p.source, "language": p.language, "id": p.id} for p in prompts]
    return {"test": datasets.Dataset.from_list(rows)}


def process_results(doc: dict, results: list) -> dict:
    """One item per metric the task reports: [source, language, skipped, line_error, word_error, line_acc]."""
    det = get_detector(PROFILE, doc["language"]).detect(results[0])
    item = [doc["source"], doc["language"], bool(det.skipped), bool(det.line_error), bool(det.word_error),
            float(det.line_acc)]
    metrics = ("lpr", "wpr", "lcpr") if doc["language"] in WPR_LANGUAGES else ("lpr", "lcpr")  # as the YAML lists
    return dict.fromkeys(metrics, item)


def _language_rate(items, metric: str) -> float | None:
    stats: dict[tuple[str, str], GroupStats] = {}
    for source, language, skipped, line_error, word_error, line_acc in items:
        g = stats.get((source, language))
        if g is None:
            g = stats[(source, language)] = GroupStats("task", "model", source, language)
        g.n += 1  # the same counts GroupStats.add keeps for the lcb profile
        if skipped:
            g.n_skipped += 1
            continue
        g.line_acc.append(line_acc)
        if line_error:
            g.line_errors += 1
        elif word_error:
            g.word_errors += 1
    rows = [r for r in aggregate(list(stats.values()), PROFILE) if r.level == "overall"]
    value = rows[0].metrics.get(metric) if rows else None
    return None if value is None else float(value)


def lpr(items) -> float | None:
    return _language_rate(items, "lpr")


def wpr(items) -> float | None:
    return _language_rate(items, "wpr")


def lcpr(items) -> float | None:
    return _language_rate(items, "lcpr")
