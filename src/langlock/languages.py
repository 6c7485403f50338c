"""Language codes langlock knows, and which detector profile can judge each.

One table, used by the detectors, the CLI validation and the benchmark runner, so that an unknown code is
rejected the same way everywhere.
"""

from __future__ import annotations

from .errors import UsageError

#: ISO 639-1 code -> English name, for every language of the Language Confusion Benchmark.
LANGUAGE_NAMES: dict[str, str] = {
    "ar": "Arabic",
    "de": "German",
    "en": "English",
    "es": "Spanish",
    "fr": "French",
    "hi": "Hindi",
    "id": "Indonesian",
    "it": "Italian",
    "ja": "Japanese",
    "ko": "Korean",
    "pt": "Portuguese",
    "ru": "Russian",
    "tr": "Turkish",
    "vi": "Vietnamese",
    "zh": "Chinese",
}

#: Languages for which the LCB reports word-level pass rate (non-Latin scripts).
WPR_LANGUAGES: frozenset[str] = frozenset({"ar", "hi", "ja", "ko", "ru", "zh"})

#: Languages the LCB profile (fastText language ID) can judge: every LCB language.
LCB_LANGUAGES: frozenset[str] = frozenset(LANGUAGE_NAMES)

#: Non-Latin targets of the TLPO script detector, and the Latin targets it judges with lingua.
TLPO_SCRIPT_LANGUAGES: frozenset[str] = frozenset({"ko", "zh", "ja", "ar", "hi", "ru"})
TLPO_LATIN_LANGUAGES: frozenset[str] = frozenset({"en", "es", "de", "fr", "id", "it", "pt"})
TLPO_LANGUAGES: frozenset[str] = TLPO_SCRIPT_LANGUAGES | TLPO_LATIN_LANGUAGES

PROFILE_LANGUAGES: dict[str, frozenset[str]] = {"lcb": LCB_LANGUAGES, "tlpo": TLPO_LANGUAGES}


def check_language(code: str) -> str:
    """Return `code` normalised to lower case, or raise `UsageError` naming the known codes."""
    norm = code.strip().lower() if isinstance(code, str) else ""
    if norm not in LANGUAGE_NAMES:
        known = ", ".join(sorted(LANGUAGE_NAMES))
        raise UsageError(f"unknown language code {code!r}; known codes: {known}")
    return norm


def profile_supports(profile: str, code: str) -> bool:
    """Whether detector `profile` can judge text whose target language is `code`."""
    return code in PROFILE_LANGUAGES[profile]


def language_name(code: str) -> str:
    return LANGUAGE_NAMES[check_language(code)]
