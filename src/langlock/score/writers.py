"""Writing a scored run: results.json, metrics.csv, samples.jsonl and settings.json, all atomically.

samples.jsonl keeps every input field of a record (also ones langlock does not use) and adds the detection
and, when answers were judged, `valid` (true/false/null), `invalid_reasons`, `not_judged`, `quality_scores`.
results.json gives every rate's 95 % bootstrap interval in `ci95`, a list parallel to `rows`.

The files are first written into a temporary directory and moved into `out_dir` together, so a failure
leaves no partial result set behind.
"""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

from .. import __version__
from ..io_utils import atomic_dir
from ..results import stamp
from .metrics import ScoreReport

SCHEMA_VERSION = 1


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def report_to_dict(report: ScoreReport, settings: dict) -> dict:
    return {
        "schema_version": SCHEMA_VERSION,
        "langlock_version": __version__,
        "profile": report.profile,
        "settings": settings,
        "not_applicable_languages": report.not_applicable,
        "rows": [
            {
                "level": r.level,
                "task": r.task,
                "model": r.model,
                "source": r.source,
                "language": r.language,
                "n": r.n,
                "n_skipped": r.n_skipped,
                "applicable": r.applicable,
                **r.metrics,
            }
            for r in report.rows
        ],
        # one entry per row, same order: metric -> [low, high] of its 95 % bootstrap interval (rows keep only
        # scalar metrics, which readers such as the HTML report take column by column)
        "ci95": [{k: (None if v is None else [round(v[0], 6), round(v[1], 6)]) for k, v in r.ci.items()}
                 for r in report.rows],
    }


def write_outputs(report: ScoreReport, out_dir: str | Path, settings: dict) -> Path:
    """Write the four result files of `report` into `out_dir` (created if needed); return it."""
    out_dir = Path(out_dir)
    with atomic_dir(out_dir) as tmp:
        (tmp / "results.json").write_text(  # a `langlock.results` object of kind "score"
            json.dumps(stamp("score", report_to_dict(report, settings)), ensure_ascii=False, indent=2) + "\n",
            encoding="utf-8")
        with open(tmp / "metrics.csv", "w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["profile", "level", "task", "model", "source", "language", "metric", "value", "n"])
            for r in report.rows:
                for name, value in r.metrics.items():
                    w.writerow([report.profile, r.level, r.task, r.model, r.source, r.language, name,
                                "" if value is None else f"{value:.6f}", r.n])
        with open(tmp / "samples.jsonl", "w", encoding="utf-8") as fh:
            verdicts = report.verdicts or [None] * len(report.samples)
            for (rec, det), verdict in zip(report.samples, verdicts):
                row = {**(rec.extra or {}), **rec.to_dict()}
                row["detection"] = None if det is None else det.to_dict()
                if verdict is not None:
                    row.update(verdict.to_dict())
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        (tmp / "settings.json").write_text(json.dumps(settings, ensure_ascii=False, indent=2) + "\n",
                                           encoding="utf-8")
    return out_dir


def detector_settings(profile: str, **options) -> dict:
    """What a reader needs to reproduce the verdicts: profile, LID model and its sha256, word list."""
    from ..detect.lcb import default_lid_model_path

    out: dict = {"profile": profile, "langlock_version": __version__}
    if profile == "lcb":
        lid = Path(options.get("lid_model") or default_lid_model_path())
        words = options.get("english_words")
        out.update(
            lid_model=str(lid),
            lid_model_sha256=sha256_file(lid),
            lid_threshold=0.3,
            min_line_tokens=5,
            english_words=str(words) if words else "wordfreq:en:large:zipf>=2.5",
            english_words_sha256=sha256_file(words) if words else None,
        )
    else:
        out.update(
            ignore_english=options.get("ignore_english", True),
            find_fallback=options.get("find_fallback", True),
        )
    return out
