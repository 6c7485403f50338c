"""Constant tables of the TLPO confusion detector (spec §2.1), shared by the fast detector
(`langlock.detect.script`) and the plain reference implementation (`tests/_script_detector_reference.py`).

These are data, reproduced exactly because every verdict depends on them: Unicode-name substrings that mark
a target script or an ignorable character, code-point blocks, the characters deleted before analysis, the
Chinese tone vowels, the unit/tech words deleted before analysis, and the phonetic ranges.
"""

from __future__ import annotations

#: Version string of the published detector these tables and rules reproduce.
DETECTOR_VERSION = "1.1.2"

#: Target-script name substrings per non-Latin target (matched as substrings of `unicodedata.name(ch)`).
TARGET_NAME_PARTS: dict[str, tuple[str, ...]] = {
    "ja": (
        "HIRAGANA",
        "KATAKANA",
        "KATAKANA-HIRAGANA",
        "CJK",
        "HALFWIDTH KATAKANA",
        "HALFWIDTH KATAKANA-HIRAGANA",
        "IDEOGRAPHIC ITERATION MARK",
    ),
    "ko": ("HANGUL",),
    "zh": ("CJK",),
    "ar": ("ARABIC",),
    "hi": ("DEVANAGARI",),
    "ru": ("CYRILLIC",),
}

#: Latin-script targets, judged per word with lingua instead of per character.
LATIN_TARGETS: tuple[str, ...] = ("en", "es", "de", "fr", "id", "it", "pt")

#: lingua language name -> ISO code, for the seven languages the lingua detector is built over.
LINGUA_CODES: dict[str, str] = {
    "ENGLISH": "en",
    "SPANISH": "es",
    "GERMAN": "de",
    "FRENCH": "fr",
    "INDONESIAN": "id",
    "ITALIAN": "it",
    "PORTUGUESE": "pt",
}

#: A Latin word passes when lingua's confidence for the target is above this (and is English above it).
LINGUA_THRESHOLD = 0.1

#: A character whose Unicode name contains one of these is ignored ("PLANK" is the original's spelling:
#: it does not match "PLANCK").
EXCEPTION_NAME_PARTS: tuple[str, ...] = (
    "MATHEMATICAL",
    "MODIFIER",
    "DOUBLE-STRUCK",
    "SUPERSCRIPT",
    "PLANK",
    "MICRO",
    "EULER",
    "OHM",
    "KELVIN",
    "ANGSTROM",
    "SUBSCRIPT",
    "GREEK SMALL LETTER",
    "GREEK CAPITAL LETTER",
    "LATIN SUBSCRIPT SMALL LETTER",
)

#: Ignored code-point blocks, [start, end) — the end is exclusive as in the original, so U+1D7FF, U+218F
#: and U+214F themselves are not covered.
EXCEPTION_BLOCKS: tuple[tuple[int, int], ...] = (
    (0x1D400, 0x1D7FF),  # Mathematical Alphanumeric Symbols
    (0x2150, 0x218F),  # Number Forms
    (0x2100, 0x214F),  # Letterlike Symbols
)


def _code_points(*items: int | tuple[int, int]) -> frozenset[str]:
    out: set[str] = set()
    for item in items:
        if isinstance(item, tuple):
            out.update(chr(cp) for cp in range(item[0], item[1] + 1))
        else:
            out.add(chr(item))
    return frozenset(out)


#: 87 characters deleted from the text before analysis (ranges are inclusive here).
EXCEPTION_CHARACTERS: frozenset[str] = _code_points(
    0x00C5,
    0x00F8,
    0x0374,
    (0x037A, 0x037D),
    (0x03CF, 0x03D8),
    0x03DA,
    0x03DC,
    0x03DE,
    0x03E0,
    (0x03E2, 0x03F5),
    0x03F9,
    (0x03FC, 0x03FF),
    (0x210A, 0x210C),
    (0x210E, 0x2113),
    0x211B,
    0x211C,
    0x2128,
    0x212C,
    0x212D,
    (0x212F, 0x2139),
    0x214E,
    (0x2460, 0x246E),
)

#: Pinyin tone vowels, ignored only when the target is Chinese.
CHINESE_TONE_VOWELS: frozenset[str] = frozenset(
    "ÀÁÈÉÌÍÒÓÙÚàáèéìíòóùúĀāĒēĚěĪīŌōŪūǍǎǏǐǑǒǓǔǕǖǗǘǙǚǛǜ"
)

#: 114 unit and tech words deleted (case-insensitively) where no ASCII letter touches them.
EXCEPTION_WORDS: frozenset[str] = frozenset(
    """
    a acre atm au bar bbl bit bq btu byte c c++ cd cm cos cpu css d da db det dl dyn erg ev exp f fl ft g
    gal gb ghz gy h ha hp html https hv hz in inhg j java json k kat kb kg kgf khz kl km kn kt kw kwh l lbf lim
    lm ln log lx ly m mb mg mhz mi min ml mm mmhg mol mph ms mw mx n nm oe oz p pa pc ppm psi pt python qt ram s
    sin sq st sv t tan tb torr u v vcpu w wb x yd °c °f μg μm μs
    """.split()
)


def exception_word_order() -> list[str]:
    """The alternation order of the unit/tech-word regex, pinned.

    The original builds its alternation from a Python set, so the order follows string hashing and changes
    from run to run. The only words where order matters are "c" and "c++" ("c" first deletes only the "c" of
    "c++" and leaves "++", which can split a word in two). We pin the order **longest first, then
    alphabetically**, so "c++" is always deleted whole.
    """
    return sorted(EXCEPTION_WORDS, key=lambda w: (-len(w), w))


#: Phonetic ranges deleted by regex (IPA, phonetic extensions, spacing modifiers, combining diacritics).
PHONETIC_CLASS = "[\u0250-\u02af\u1d00-\u1d7f\u1d80-\u1dbf\u02b0-\u02ff\u0300-\u036f]"

#: E-mail addresses and URLs, deleted (case-insensitively) after the unit words.
EMAIL_PATTERN = r"[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\.[a-zA-Z]{2,}"
URL_PATTERN = (
    r"http[s]?://(?:[a-zA-Z]|[0-9]|[$-_@.&+]|[!*\(\),]|(?:%[0-9a-fA-F][0-9a-fA-F]))+"
    r"|www\.[a-zA-Z0-9\-]+\.[a-zA-Z]{2,}[^\s]*"
)

#: LaTeX commands are replaced by a space before a line is split into words.
LATEX_PATTERN = r"\\[a-zA-Z]+"

#: Word pattern for every target except zh (jieba) and ja (MeCab).
WORD_PATTERN = r"\b[\w'-]+\b"
