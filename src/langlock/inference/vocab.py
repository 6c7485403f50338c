"""Which vocabulary entries are off-target for a language: the script rules of the ``tlpo`` detector, applied
to the raw bytes of every token.

Why bytes: byte-level BPE (GPT-2, Llama 3, SmolLM, Qwen) and byte-fallback SentencePiece (Llama 2, Gemma)
split a multi-byte character across tokens. Decoding such a token gives U+FFFD and says nothing about the
script, so each token is turned into its exact bytes and judged piece by piece:

- complete UTF-8 characters get the detector's character verdict (`langlock.detect.script`, spec §2.2) for
  the target: pass (target script), fail (a letter of another script) or ignore (punctuation, symbols,
  digits, whitespace, emoji, exception blocks). For the Latin-script targets (en es de fr id it pt) Latin
  letters pass and letters of any other script fail: the script cannot tell English from Spanish;
- leading continuation bytes finish a character started by an earlier token: unknown, never blocking;
- a trailing incomplete sequence (a lead byte, perhaps with some continuation bytes) is judged by every
  assigned character it can still become: it fails only if all of them fail. So a Hangul lead byte is never
  blocked for ko, a Cyrillic lead byte is;
- a token fails if any piece fails. ASCII letters are excused when the token also holds a digit or a code
  character (``_()[]{}<>=;`` …), so identifiers and numbers such as ``x2`` or ``_init`` are never blocked;
  special and added tokens are never blocked.

`off_target_mask(tokenizer, language)` computes this once per (tokenizer name, vocabulary hash, language,
options) and caches the boolean array in memory.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import re
import unicodedata

from ..detect import script_tables as T
from ..errors import UsageError
from ..languages import LANGUAGE_NAMES, check_language

log = logging.getLogger(__name__)

IGNORE, PASS, FAIL = 0, 1, 2  # the values `detect.script.char_verdict` returns

#: Characters that make an ASCII-letter token "code" (never blocked) when they appear in it.
CODE_CHARS = frozenset("_()[]{}<>=;$#@\\|`~^*/+&%0123456789")

_BYTE_FALLBACK_RE = re.compile(r"^<0x([0-9A-Fa-f]{2})>$")


# ------------------------------------------------------------------------------------------- characters


@functools.lru_cache(maxsize=1 << 18)
def char_verdict(ch: str, language: str, allow_latin: bool = False) -> int:
    """IGNORE, PASS or FAIL for one character and a target language.

    Non-Latin targets use the tlpo detector's rule with ``ignore_english = allow_latin``: ASCII letters fail
    unless `allow_latin`. Latin targets: a character the detector would judge passes if it is Latin, fails
    otherwise.
    """
    from ..detect.script import char_verdict as detector_verdict

    if language in T.LATIN_TARGETS:
        if detector_verdict(ch, "ko", False) == IGNORE:  # the ignore rules do not depend on the target (zh aside)
            return IGNORE
        return PASS if ("A" <= ch <= "Z" or "a" <= ch <= "z" or "LATIN" in unicodedata.name(ch, "")) else FAIL
    return detector_verdict(ch, language, allow_latin)


@functools.cache
def _prefix_verdict(prefix: bytes, language: str, allow_latin: bool) -> int:
    """Verdict of an incomplete UTF-8 sequence: FAIL only if every assigned character it can become fails."""
    lead = prefix[0]
    length = 2 if lead < 0xE0 else 3 if lead < 0xF0 else 4
    missing = length - len(prefix)
    if missing <= 0 or lead < 0xC2 or lead > 0xF4:
        return IGNORE  # malformed: cannot start a character, never block on it
    if any(not 0x80 <= c < 0xC0 for c in prefix[1:]):
        return IGNORE
    # Code points whose encoding starts with `prefix`: the missing continuation bytes range over 0x80..0xBF.
    cp = lead & (0x1F, 0x0F, 0x07)[length - 2]
    for c in prefix[1:]:
        cp = (cp << 6) | (c & 0x3F)
    low = max(cp << (6 * missing), (0x80, 0x800, 0x10000)[length - 2])
    high = min(((cp + 1) << (6 * missing)) - 1, 0x10FFFF)
    seen = False
    for code in range(low, high + 1):
        ch = chr(code)
        if unicodedata.category(ch) in ("Cn", "Cs", "Co"):
            continue  # unassigned, surrogate or private use: the model cannot mean a script by it
        if char_verdict(ch, language, allow_latin) != FAIL:
            return PASS
        seen = True
    return FAIL if seen else IGNORE


def bytes_verdict(data: bytes, language: str, allow_latin: bool = False) -> int:
    """Verdict of one token's raw bytes (see the module docstring): FAIL, PASS or IGNORE."""
    i, n = 0, len(data)
    while i < n and 0x80 <= data[i] < 0xC0:  # tail of a character begun in an earlier token
        i += 1
    verdict = IGNORE
    ascii_fail = other_fail = code = False
    while i < n:
        b = data[i]
        length = 1 if b < 0x80 else 2 if b < 0xE0 else 3 if b < 0xF0 else 4
        chunk = data[i:i + length]
        complete = len(chunk) == length and all(0x80 <= c < 0xC0 for c in chunk[1:])
        if not complete:
            v = _prefix_verdict(bytes(chunk), language, allow_latin)
            i = n
            if v == FAIL:
                other_fail = True
            elif v == PASS:
                verdict = PASS
            break
        ch = chunk.decode("utf-8", errors="replace")
        i += length
        if ch in CODE_CHARS:
            code = True
        v = char_verdict(ch, language, allow_latin)
        if v == FAIL:
            if b < 0x80:
                ascii_fail = True
            else:
                other_fail = True
        elif v == PASS:
            verdict = PASS
    if other_fail or (ascii_fail and not code):
        return FAIL
    return verdict


# ---------------------------------------------------------------------------------------- token bytes


@functools.cache
def _byte_decoder() -> dict[str, int]:
    """GPT-2's byte-level alphabet: printable character -> the byte it stands for."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(
        range(ord("®"), ord("ÿ") + 1))
    chars = printable[:]
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + extra)
            extra += 1
    return {chr(c): b for b, c in zip(printable, chars)}


def _decoder_kind(tokenizer) -> str:
    """"bytelevel", "sentencepiece" (▁ and <0xNN> byte fallback) or "other", from the fast tokenizer's
    decoder."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        return "other"
    try:
        decoder = json.loads(backend.to_str()).get("decoder") or {}
    except (ValueError, AttributeError):
        return "other"
    text = json.dumps(decoder)
    if '"ByteLevel"' in text:
        return "bytelevel"
    if '"ByteFallback"' in text or '"Metaspace"' in text or "\\u2581" in text or "▁" in text:
        return "sentencepiece"
    return "other"


def token_bytes(tokenizer) -> list[bytes | None]:
    """The raw bytes of every token id (None for special/added tokens, which are never blocked)."""
    kind = _decoder_kind(tokenizer)
    n = len(tokenizer)
    pieces = tokenizer.convert_ids_to_tokens(list(range(n)))
    special = set(getattr(tokenizer, "all_special_ids", []) or [])
    special.update(getattr(tokenizer, "added_tokens_decoder", {}) or {})
    table = _byte_decoder()
    out: list[bytes | None] = []
    for i, piece in enumerate(pieces):
        if piece is None or i in special:
            out.append(None)
        elif kind == "bytelevel" and all(ch in table for ch in piece):
            out.append(bytes(table[ch] for ch in piece))
        elif kind == "sentencepiece":
            m = _BYTE_FALLBACK_RE.match(piece)
            out.append(bytes([int(m.group(1), 16)]) if m else piece.replace("▁", " ").encode("utf-8"))
        else:
            text = tokenizer.decode([i])
            out.append(None if "\ufffd" in text else text.encode("utf-8"))
    return out


# ----------------------------------------------------------------------------------------------- cache


def vocab_fingerprint(tokenizer) -> str:
    """sha256 (16 hex digits) of the token -> id table, so a changed vocabulary never reuses a mask."""
    vocab = tokenizer.get_vocab()
    digest = hashlib.sha256()
    for tok, idx in sorted(vocab.items(), key=lambda kv: kv[1]):
        digest.update(f"{idx}\x1f{tok}\x1e".encode("utf-8", errors="surrogatepass"))
    return digest.hexdigest()[:16]


_MASKS: dict[tuple, object] = {}


def supported_languages() -> tuple[str, ...]:
    """The languages the lock has a script rule for (sorted codes)."""
    return tuple(sorted(c for c in set(T.TARGET_NAME_PARTS) | set(T.LATIN_TARGETS) if c in LANGUAGE_NAMES))


def off_target_mask(tokenizer, language: str, *, allow_latin: bool = False):
    """numpy bool array over `len(tokenizer)` ids: True where the token is off-target for `language`.

    Cached per (tokenizer name, vocabulary hash, language, allow_latin); the first call for a 50k vocabulary
    takes a few seconds on one CPU core.
    """
    import numpy as np

    language = check_language(language)
    if language not in supported_languages():
        supported = ", ".join(supported_languages())
        raise UsageError(f"the language lock has no script rule for {language!r}; it supports: {supported}")
    key = (getattr(tokenizer, "name_or_path", ""), vocab_fingerprint(tokenizer), len(tokenizer), language,
           bool(allow_latin))
    mask = _MASKS.get(key)
    if mask is None:
        pieces = token_bytes(tokenizer)
        mask = np.zeros(len(pieces), dtype=bool)
        for i, data in enumerate(pieces):
            if data:
                mask[i] = bytes_verdict(data, language, allow_latin) == FAIL
        mask.setflags(write=False)
        _MASKS[key] = mask
        log.debug("language lock %s: %d of %d tokens off-target", language, int(mask.sum()), len(mask))
    return mask
