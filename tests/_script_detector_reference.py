"""Plain per-character reference implementation of the TLPO confusion detector (spec §2).

Written the straightforward way the published detector is written: `unicodedata.name` looked up for every
character, every rule tested in order, the text cleaned with one regex per stage, lines split twice, lingua
called once per word, nothing cached. It is the oracle for the fast profile in `langlock.detect.script`
(identical verdicts) and the speed baseline in `benchmarks/bench_score.py`.

Only the constant tables are shared with the fast detector (`langlock.detect.script_tables`); the rules are
re-stated here independently. The unit-word alternation uses the same pinned order (longest first).

API (same as the published module): `check_response(text, lang, ignore_english=True)` -> 6-tuple,
`get_confusion_point(text, lang, ignore_english=True)` -> char index or -1, `get_consistency(...)` -> 0/1.
"""

from __future__ import annotations

import functools
import re
import unicodedata

from langlock.detect import script_tables as T
from langlock.detect.segment import jieba_cut, mecab_wakati


@functools.lru_cache(maxsize=1)
def _lingua():
    """The lingua detector over the seven Latin languages (built once; loading models is not the rule)."""
    from lingua import Language, LanguageDetectorBuilder

    langs = [getattr(Language, name) for name in T.LINGUA_CODES]
    return LanguageDetectorBuilder.from_languages(*langs).build()


def _is_ascii_letter(ch: str) -> bool:
    return ("A" <= ch <= "Z") or ("a" <= ch <= "z")


def _name_has(name: str, parts) -> bool:
    return any(part in name for part in parts)


def check_char(ch: str, lang: str, ignore_english: bool) -> tuple[int, int]:
    """(pass, fail) of one character, rules of spec §2.2 in order."""
    import emoji

    if emoji.is_emoji(ch):
        return 0, 0
    if unicodedata.category(ch)[0] in "PSC":
        return 0, 0
    if ch.isspace():
        return 0, 0
    if ord(ch) < 128 and (ignore_english or not _is_ascii_letter(ch)):
        return 0, 0
    code = ord(ch)
    for start, end in T.EXCEPTION_BLOCKS:
        if start <= code < end:
            return 0, 0
    if lang == "zh" and ch in T.CHINESE_TONE_VOWELS:
        return 0, 0
    try:
        name = unicodedata.name(ch)
    except ValueError:
        return 0, 0
    if _name_has(name, T.EXCEPTION_NAME_PARTS):
        return 0, 0
    if _name_has(name, T.TARGET_NAME_PARTS[lang]):
        return 1, 0
    return 0, 1


def _starts_uppercase(word: str) -> bool:
    """First letter (or the first letter after the last apostrophe) is a Latin capital."""
    if word in ("'", "\t"):
        return False
    try:
        if "LATIN CAPITAL" in unicodedata.name(word[0]):
            return True
        return "LATIN CAPITAL" in unicodedata.name(word.split("'")[-1][0])
    except (ValueError, IndexError):
        return False


def letter_length(word: str) -> int:
    count = 0
    for ch in word:
        if ord(ch) < 128 and not _is_ascii_letter(ch):
            continue
        try:
            name = unicodedata.name(ch)
        except ValueError:
            continue
        if _name_has(name, T.EXCEPTION_NAME_PARTS):
            continue
        count += 1
    return count


def check_word(word: str, lang: str, ignore_english: bool) -> tuple[int, int, int | None]:
    """(pass, fail, offset of the first failing character) of one word (spec §2.3)."""
    if not word:
        return 0, 0, 0
    if _starts_uppercase(word):
        ignore_english = True
    if lang in T.LATIN_TARGETS:
        if letter_length(word) <= 1:
            return 0, 0, 0
        values = _lingua().compute_language_confidence_values(word)
        for conf in values:
            if conf.value > T.LINGUA_THRESHOLD and T.LINGUA_CODES[conf.language.name] == lang:
                return 1, 0, 0
        if ignore_english:
            for conf in values:
                if conf.value > T.LINGUA_THRESHOLD and T.LINGUA_CODES[conf.language.name] == "en":
                    return 0, 0, 0
        return 0, 1, 0
    n_pass = n_fail = 0
    offset = None
    for i, ch in enumerate(word):
        p, f = check_char(ch, lang, ignore_english)
        n_pass += p
        n_fail += f
        if f and offset is None:
            offset = i
    if n_fail:
        return 0, 1, offset
    if n_pass:
        return 1, 0, offset
    return 0, 0, offset


def split_words(line: str, lang: str) -> list[str]:
    line = re.sub(T.LATEX_PATTERN, " ", line)
    if lang == "zh":
        return jieba_cut(line)
    if lang == "ja":
        return mecab_wakati(line)
    return re.findall(T.WORD_PATTERN, line)


def _check_line(line: str, lang: str, ignore_english: bool) -> tuple[int, int]:
    words = split_words(line, lang)
    valid = 0
    for word in words:
        p, f, _ = check_word(word, lang, False)
        valid += p + f
    if valid < 5:
        return 0, 0
    n_pass = n_fail = 0
    for word in words:
        p, f, _ = check_word(word, lang, ignore_english)
        n_pass += p
        n_fail += f
    if n_pass + n_fail == 0:
        return 0, 0
    return (1, 0) if n_pass >= n_fail else (0, 1)


def unit_word_regex() -> re.Pattern:
    """The published unit-word pattern: one alternative per word, each with its own look-arounds."""
    parts = [
        r"(?<![a-zA-Z])(?:(?<=\d)|(?<=\s)|(?<=[^a-zA-Z0-9])|^)"
        + re.escape(word)
        + r"(?=[\d\s]|[^a-zA-Z0-9]|$)(?![a-zA-Z])"
        for word in T.exception_word_order()
    ]
    return re.compile("|".join(parts), re.IGNORECASE)


def remove_exceptions(text: str) -> str:
    """Text clean-up of spec §2.4, one stage after the other."""
    for ch in T.EXCEPTION_CHARACTERS:
        text = text.replace(ch, "")
    text = unit_word_regex().sub("", text)
    text = re.sub(f"({T.EMAIL_PATTERN})|({T.URL_PATTERN})", "", text, flags=re.IGNORECASE)
    return re.sub(T.PHONETIC_CLASS, "", text)


def check_response(text: str, lang: str, ignore_english: bool = True) -> tuple[int, int, int, int, int, int]:
    """(resp_pass, resp_fail, line_pass, line_fail, word_pass, word_fail) of one response (spec §2.5)."""
    line_p = line_f = word_p = word_f = 0
    for line in remove_exceptions(text).split("\n"):
        if not line:
            continue
        lp, lf = _check_line(line, lang, ignore_english)
        line_p += lp
        line_f += lf
        for word in split_words(line, lang):
            p, f, _ = check_word(word, lang, ignore_english)
            word_p += p
            word_f += f
    if line_p + line_f + word_p + word_f == 0:
        return 0, 0, line_p, line_f, word_p, word_f
    failed = line_f + word_f > 0
    return int(not failed), int(failed), line_p, line_f, word_p, word_f


def get_confusion_point(text: str, lang: str, ignore_english: bool = True) -> int:
    """Index of the first confusion character in `text`, or -1 (spec §2.7, with the find() quirk of §2.8)."""
    word = None
    offset = 0
    for line in remove_exceptions(text).split("\n"):
        if not line:
            continue
        for w in split_words(line, lang):
            _, f, off = check_word(w, lang, ignore_english)
            if f:
                word, offset = w, off
                break
        if word is not None:
            break
    if word is None:
        return -1
    start = text.find(word)
    if lang in T.LATIN_TARGETS:
        return start
    for pos in range(start + offset, len(text)):
        if check_char(text[pos], lang, ignore_english)[1]:
            return pos
    return -1


def get_consistency(text: str, lang: str, ignore_english: bool = True) -> float:
    return 1.0 if get_confusion_point(text, lang, ignore_english) == -1 else 0.0


def main() -> int:
    """Self-check: the reference and the fast profile on the project's sample completions, both English
    settings; ends with `RESULT n=… mismatches=… seconds_reference=… seconds_fast=…`."""
    import json
    import time
    from importlib import resources

    from langlock.detect import get_detector
    from langlock.errors import UsageError

    src = resources.files("langlock") / "data" / "demo_completions.jsonl"
    rows = [json.loads(x) for x in src.read_text(encoding="utf-8").splitlines() if x.strip()]
    mismatches, t_ref, t_fast, n = 0, 0.0, 0.0, 0
    for ie in (True, False):
        for r in rows:
            try:
                det = get_detector("tlpo", r["language"], ignore_english=ie)
            except UsageError:  # a language the tlpo profile does not judge
                continue
            t0 = time.perf_counter()
            want = get_confusion_point(r["completion"], r["language"], ie)
            t1 = time.perf_counter()
            got = det.detect(r["completion"]).first_confusion_char
            t_fast += time.perf_counter() - t1
            t_ref += t1 - t0
            n += 1
            if got != want:
                mismatches += 1
                print(f"mismatch ({r['language']}, ignore_english={ie}): reference {want}, fast {got}")
    print(f"RESULT n={n} mismatches={mismatches} seconds_reference={t_ref:.3f} seconds_fast={t_fast:.3f}")
    return 1 if mismatches else 0


if __name__ == "__main__":
    raise SystemExit(main())
