"""Is a cross-lingual answer about what was asked? A topic match against the request written in the answer's
language.

A model pushed into the requested language can answer in it and still miss the question (a 270M model asked in
English for a Korean answer writes Korean about something else): validity and the LCB pass rates pass such an
answer. Where the project wrote each cross-lingual request in its target language too
(``BenchPrompt.meta["request_in_language"]``: builtin-confusion and builtin-train, ko and ja), the answer can be
compared with it in the same language:

- every text becomes its set of character bigrams taken inside words (`bigrams`; no tokenizer, so it works for
  Hangul, kana and kanji alike, and for inflected words that share a stem);
- a bigram's weight is its inverse document frequency over the suite's requests of that language, so the
  phrasing every request shares ("…해 주세요", "…てください") counts for nothing;
- a request's score is the weighted share of its bigrams found in the answer (`TopicMatcher.scores`);
- the answer **matches** when its own request scores above zero and no other request scores higher
  (`TopicMatcher.matches`): it is closer to what was asked than to any other request of the suite.

This is a retrieval check, not understanding: it credits an answer that names the request's things (녹차, トマト,
자전거 타이어) and misses a correct answer in other words. Its agreement with reading is in docs/subjects.md.
`on_topic_share` is the evaluation's metric (``on_topic_cross``).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

_NON_WORD = re.compile(r"[\W_]+")


def bigrams(text: str) -> frozenset[str]:
    """The character bigrams inside the words of `text` (lower-cased; punctuation and spaces split words)."""
    out: set[str] = set()
    for word in _NON_WORD.split(text.lower()):
        out.update(word[i:i + 2] for i in range(len(word) - 1))
    return frozenset(out)


class TopicMatcher:
    """The requests of one suite and language, weighted by inverse document frequency."""

    def __init__(self, requests: Sequence[str]):
        if not requests:
            raise ValueError("TopicMatcher needs at least one request")
        self.requests = list(requests)
        self._grams = [bigrams(r) for r in self.requests]
        df = Counter(g for grams in self._grams for g in grams)
        n = len(self.requests)
        self._idf = {g: math.log(n / c) for g, c in df.items()}
        self._norm = [sum(self._idf[g] for g in grams) for grams in self._grams]

    def scores(self, answer: str) -> list[float]:
        """Per request: the weighted share of its bigrams that occur in `answer` (0 to 1)."""
        have = bigrams(answer)
        return [sum(self._idf[g] for g in grams & have) / norm if norm else 0.0
                for grams, norm in zip(self._grams, self._norm)]

    def matches(self, answer: str, own: int) -> bool:
        """Whether `answer` is on the topic of request `own`: its score is positive and no other is higher."""
        s = self.scores(answer)
        return s[own] > 0 and s[own] >= max(s)


def on_topic_share(target: str, generations: list[dict], identify=None, requests=None) -> float | None:
    """Share of the cross-lingual prompts of `target` whose answer is in `target` (``identify(text)``, default
    `detect.lcb.answer_language`) and matches its own request (`TopicMatcher`); None when no such prompt has its
    request written in `target` (the benchmark's prompts) or for English.

    `requests` maps a prompt key to ``(matcher, index)``; by default it is read from the built-in suites
    (`in_language_requests`)."""
    rows = [g for g in generations if g["language"] == target and g.get("task") == "crosslingual"]
    if target == "en" or not rows:
        return None
    known = requests if requests is not None else in_language_requests(target)
    rows = [g for g in rows if g.get("key") in known]
    if not rows:
        return None
    if identify is None:
        from ..detect.lcb import answer_language as identify
    hits = 0
    for g in rows:
        matcher, own = known[g["key"]]
        hits += identify(g["completion"]) == target and matcher.matches(g["completion"], own)
    return hits / len(rows)


def in_language_requests(language: str) -> dict[str, tuple[TopicMatcher, int]]:
    """prompt key -> (the matcher of its suite's requests in `language`, the index of its own request), for the
    cross-lingual prompts of the built-in suites that carry ``meta["request_in_language"]``."""
    from ..suites import load_suite

    out: dict[str, tuple[TopicMatcher, int]] = {}
    for suite in ("builtin-confusion", "builtin-train"):
        prompts = [p for p in load_suite(suite, task="crosslingual", langs=language)
                   if p.meta.get("request_in_language")]
        if not prompts:
            continue
        distinct = list(dict.fromkeys(p.meta["request_in_language"] for p in prompts))
        matcher = TopicMatcher(distinct)
        for p in prompts:
            out[p.key] = (matcher, distinct.index(p.meta["request_in_language"]))
    return out
