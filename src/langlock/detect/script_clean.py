"""Text clean-up of the TLPO detector (spec §2.4), with an exact map from cleaned to original offsets.

The published detector deletes, in order: 87 exception characters, 114 unit/tech words (one regex
alternative per word, each with its own look-arounds; about 1.7–4 ms per completion), e-mails and URLs, and
the phonetic ranges. The same deletions are made here with equivalent faster patterns, and every deleted
span is recorded in an `OffsetMap`, so a position in the cleaned text can be traced back to the original
(used for word offsets and for the exact confusion point when `find_fallback` is off).
"""

from __future__ import annotations

import re
from bisect import bisect_right

from . import script_tables as T


def _trie_pattern(words: list[str]) -> str:
    """An alternation equivalent to trying `words` in order, written as a trie (greedy: longer first)."""
    trie: dict = {}
    for word in words:
        node = trie
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def emit(node: dict) -> str:
        alts = [re.escape(ch) + emit(child) for ch, child in sorted(node.items()) if ch]
        if not alts:
            return ""
        body = "(?:" + "|".join(alts) + ")"
        return body + "?" if "" in node else body

    return emit(trie)


# The published pattern per word is (?<![a-zA-Z])(?:(?<=\d)|(?<=\s)|(?<=[^a-zA-Z0-9])|^)WORD
# (?=[\d\s]|[^a-zA-Z0-9]|$)(?![a-zA-Z]); its before/after conditions reduce exactly to "no [a-zA-Z] before /
# after" (a non-letter neighbour is a digit or a non-alphanumeric). Tested against the literal form.
_UNIT_RE = re.compile(
    r"(?=[a-z°μ])(?<![a-zA-Z])" + _trie_pattern(T.exception_word_order()) + r"(?![a-zA-Z])", re.IGNORECASE
)
_EXC_CHARS_RE = re.compile("[" + "".join(re.escape(c) for c in sorted(T.EXCEPTION_CHARACTERS)) + "]")
_EMAIL_URL_RE = re.compile(f"({T.EMAIL_PATTERN})|({T.URL_PATTERN})", re.IGNORECASE)
_PHONETIC_RE = re.compile(T.PHONETIC_CLASS)


class OffsetMap:
    """Maps positions in a text with spans deleted (or replaced) back to the text before.

    Stages are applied in order; `to_source` undoes them in reverse. Each stage holds, for every edit, its
    start in the output and the cumulative number of characters removed up to and including it.
    """

    __slots__ = ("stages",)

    def __init__(self):
        self.stages: list[tuple[list[int], list[int]]] = []

    def add(self, spans: list[tuple[int, int]], replacement_len: int = 0) -> None:
        out_starts, cum = [], []
        removed = 0
        for start, end in spans:
            out_starts.append(start - removed + replacement_len)
            removed += end - start - replacement_len
            cum.append(removed)
        self.stages.append((out_starts, cum))

    def to_source(self, pos: int) -> int:
        for out_starts, cum in reversed(self.stages):
            k = bisect_right(out_starts, pos)
            if k:
                pos += cum[k - 1]
        return pos


def edit(pattern: re.Pattern, text: str, omap: OffsetMap | None, repl: str = "") -> str:
    """`pattern.sub(repl, text)`, recording the edited spans in `omap`."""
    spans = [m.span() for m in pattern.finditer(text)]
    if not spans:
        return text
    pieces, last = [], 0
    for start, end in spans:
        pieces.append(text[last:start])
        pieces.append(repl)
        last = end
    pieces.append(text[last:])
    if omap is not None:
        omap.add(spans, len(repl))
    return "".join(pieces)


def _has_url_hint(text: str) -> bool:
    """Whether the URL pattern could match: it needs "http" or "www" in some letter case (no non-ASCII
    character matches h, t, p or w case-insensitively; checked in the tests)."""
    low = text.lower()
    return "http" in low or "www" in low


def clean_text(text: str, omap: OffsetMap | None = None) -> str:
    """The published `_remove_exceptions` (spec §2.4), same stages in the same order."""
    text = edit(_EXC_CHARS_RE, text, omap)
    text = edit(_UNIT_RE, text, omap)
    if "@" in text or _has_url_hint(text):
        text = edit(_EMAIL_URL_RE, text, omap)
    return edit(_PHONETIC_RE, text, omap)


__all__ = ["OffsetMap", "clean_text", "edit"]
