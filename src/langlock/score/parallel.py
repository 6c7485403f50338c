"""Detection of many completions on several processes, in input order (`langlock score --workers N`).

`detect_records(records, profile, workers)` returns one `Detection` per record (None where `profile` cannot
judge the record's language), exactly what the one-process loop returns: the detectors are deterministic per
text, the records are cut into contiguous chunks and the chunks' results are joined back in order, so
`score_records(..., workers=N)` and everything written from it are byte-identical to one worker (tested).

Workers are started with ``spawn`` (no fork of a process that may hold threads or loaded models); each loads
its own detectors once and keeps them for every chunk it gets. Start-up costs about a second per worker, so
`workers > 1` pays off from a few thousand completions on. To score millions, see docs/scale.md.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor

from ..detect import Detection, get_detector
from ..errors import UsageError
from ..languages import PROFILE_LANGUAGES

#: Completions per task sent to a worker (small enough to balance, large enough to amortise pickling).
CHUNK = 512

_DETECTORS: dict = {}  # per worker process: (profile, options, language) -> detector


def _detect_chunk(profile: str, options: tuple, items: list[tuple[str, str]], cache: dict | None = None
                  ) -> list[Detection]:
    """Detections of (language, text) items; detectors kept in `cache` (default: this worker's)."""
    cache = _DETECTORS if cache is None else cache
    out = []
    for language, text in items:
        key = (profile, options, language)
        det = cache.get(key)
        if det is None:
            det = cache[key] = get_detector(profile, language, **dict(options))
        out.append(det.detect(text))
    return out


def detect_records(records, profile: str = "lcb", workers: int = 1, **detector_options) -> list[Detection | None]:
    """One detection per record, in order; None for languages the profile cannot judge."""
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise UsageError(f"--workers must be an integer >= 1, got {workers!r}")
    supported = PROFILE_LANGUAGES[profile]
    options = tuple(sorted(detector_options.items()))
    todo = [(k, rec.language, rec.completion) for k, rec in enumerate(records) if rec.language in supported]
    out: list[Detection | None] = [None] * len(records)
    if workers == 1 or len(todo) <= CHUNK:
        dets = _detect_chunk(profile, options, [(lang, text) for _, lang, text in todo], {})
    else:
        chunks = [[(lang, text) for _, lang, text in todo[i:i + CHUNK]] for i in range(0, len(todo), CHUNK)]
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=min(workers, len(chunks), os.cpu_count() or workers),
                                 mp_context=ctx) as pool:
            dets = [d for part in pool.map(_detect_chunk, [profile] * len(chunks), [options] * len(chunks), chunks)
                    for d in part]
    for (k, _, _), d in zip(todo, dets, strict=True):
        out[k] = d
    return out
