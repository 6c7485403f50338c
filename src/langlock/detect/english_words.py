"""English word lists for the LCB word-level check (WPR).

The benchmark uses a Unix dictionary file (`words`, 99,171 lines) and counts the entries that are lower
case and longer than 3 characters. That file is not redistributed with langlock; users who want exact
parity pass it with ``--english-words PATH``.

The default is built from the `wordfreq` package's English "large" list: ASCII-alphabetic, lower-case words
longer than 3 characters with a Zipf frequency >= 2.5 (about 47 k words). It is frequency-based rather than a
dictionary, so it lacks rare dictionary words and contains some common loanwords and web vocabulary; the
README reports how far WPR moves against the benchmark's list on the released outputs.
"""

from __future__ import annotations

import functools
from pathlib import Path

from ..errors import InputError

#: Minimum word length (exclusive) and Zipf frequency of the default list.
MIN_LEN_EXCLUSIVE = 3
DEFAULT_MIN_ZIPF = 2.5


def _filter(words) -> frozenset[str]:
    return frozenset(w for w in words if w.islower() and len(w) > MIN_LEN_EXCLUSIVE)


@functools.lru_cache(maxsize=4)
def load_english_words(path: str | None = None) -> frozenset[str]:
    """Words that make a line-passing non-Latin completion fail WPR (benchmark's filtering rules)."""
    if path is None:
        return default_english_words()
    p = Path(path)
    if not p.is_file():
        raise InputError(f"English word list not found: {path}")
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise InputError(f"English word list is not valid UTF-8: {path}") from None
    return _filter(line.strip() for line in lines)


@functools.lru_cache(maxsize=1)
def default_english_words() -> frozenset[str]:
    import wordfreq

    freqs = wordfreq.get_frequency_dict("en", wordlist="large")
    return _filter(
        w
        for w, f in freqs.items()
        if w.isascii() and w.isalpha() and wordfreq.freq_to_zipf(f) >= DEFAULT_MIN_ZIPF
    )
