"""The result type every detector profile returns.

Both profiles (`lcb`, the benchmark's fastText metric, and `tlpo`, the TLPO paper's script detector) answer
the same questions about one completion, so metrics, rewards, data builders and trainers can consume either
without caring which one produced it. Offsets are character offsets into the *original* text.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

Status = Literal["pass", "fail", "skip"]


@dataclass(frozen=True, slots=True)
class LineVerdict:
    """One line of the completion.

    `judged` is False for lines the profile does not count (LCB: fewer than 5 tokens; TLPO: fewer than 5
    judgeable words). `lang` is the language the profile saw (a fastText label for `lcb`, `None` where the
    profile does not identify languages), `score` its confidence.
    """

    index: int
    start: int
    end: int
    n_tokens: int
    judged: bool
    passed: bool | None
    lang: str | None = None
    score: float | None = None


@dataclass(frozen=True, slots=True)
class WordVerdict:
    """A word that received a verdict (`passed` True/False). Words with no verdict are not listed."""

    start: int
    end: int
    text: str
    passed: bool
    lang: str | None = None


@dataclass(frozen=True, slots=True)
class Span:
    """A stretch of text in the wrong language: a failing line or word (`level`), with what was seen there."""

    start: int
    end: int
    level: Literal["line", "word"]
    lang: str | None = None


@dataclass(frozen=True, slots=True)
class Counts:
    """Pass/fail counts at response, line and word level (the TLPO detector's 6-tuple)."""

    resp_pass: int = 0
    resp_fail: int = 0
    line_pass: int = 0
    line_fail: int = 0
    word_pass: int = 0
    word_fail: int = 0

    def as_tuple(self) -> tuple[int, int, int, int, int, int]:
        return (self.resp_pass, self.resp_fail, self.line_pass, self.line_fail, self.word_pass, self.word_fail)


@dataclass(frozen=True, slots=True)
class Detection:
    """Everything a profile concluded about one completion.

    - `status`: "pass", "fail", or "skip" (nothing judgeable: excluded from rate denominators).
    - `line_error` / `word_error`: the LCB's two failure kinds (a word error only counts when no line
      failed). The TLPO profile sets `line_error` for failing lines and `word_error` for failing words.
    - `first_confusion_char`: offset of the first wrong-language character, or -1.
    - `line_acc`: share of judged lines in the target language (LCB's `acc`; 1.0 when none judged).
    """

    profile: str
    language: str
    status: Status
    line_error: bool
    word_error: bool
    first_confusion_char: int
    counts: Counts
    line_acc: float = 1.0
    lines: tuple[LineVerdict, ...] = ()
    words: tuple[WordVerdict, ...] = ()
    spans: tuple[Span, ...] = ()
    extra: dict = field(default_factory=dict)

    @property
    def confused(self) -> bool:
        return self.status == "fail"

    @property
    def skipped(self) -> bool:
        return self.status == "skip"

    def to_dict(self, *, with_lines: bool = True, with_words: bool = False) -> dict:
        """A JSON-ready dict (words are often many: off by default)."""
        out = {
            "profile": self.profile,
            "language": self.language,
            "status": self.status,
            "line_error": self.line_error,
            "word_error": self.word_error,
            "first_confusion_char": self.first_confusion_char,
            "counts": asdict(self.counts),
            "line_acc": self.line_acc,
            "spans": [asdict(s) for s in self.spans],
        }
        if with_lines:
            out["lines"] = [asdict(line) for line in self.lines]
        if with_words:
            out["words"] = [asdict(w) for w in self.words]
        if self.extra:
            out["extra"] = dict(self.extra)
        return out
