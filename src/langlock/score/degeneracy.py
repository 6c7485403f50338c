"""Degenerate answers: text so repetitive that a pass rate would count noise as success.

Both detectors judge a script, not an answer: "새로운 새로운 새로운 …" passes a Korean check, and a policy
trained against a detector finds such text (docs/tlpo.md). A crude, model-free guard is compressibility:
an answer whose zlib-compressed size is below `ratio` of its UTF-8 size is mostly repetition. Short answers
(< `min_bytes`) are never counted, since compression overhead dominates them.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable

#: compressed / raw size below this marks an answer as repetitive (ordinary prose in any script is >= ~0.4)
DEFAULT_RATIO = 0.25
#: answers shorter than this many UTF-8 bytes are never judged repetitive
DEFAULT_MIN_BYTES = 60


def is_repetitive(text: str, ratio: float = DEFAULT_RATIO, min_bytes: int = DEFAULT_MIN_BYTES) -> bool:
    """True when `text` is long enough to judge and compresses to less than `ratio` of its size."""
    raw = text.encode("utf-8")
    return len(raw) >= min_bytes and len(zlib.compress(raw, 9)) / len(raw) < ratio


def repetitive_share(texts: Iterable[str], ratio: float = DEFAULT_RATIO,
                     min_bytes: int = DEFAULT_MIN_BYTES) -> float | None:
    """Fraction of `texts` that are repetitive (None for no texts)."""
    flags = [is_repetitive(t, ratio, min_bytes) for t in texts]
    return sum(flags) / len(flags) if flags else None
