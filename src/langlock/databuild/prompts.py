"""Step 1 of the TLPO data pipeline: filter a prompt pool (tlpo-and-lcb-spec §3.1), rules configurable.

A pool is JSONL or a JSON list whose rows hold the question as ``question``, ``prompt`` (string or chat
messages) or ``instruction`` (+ ``"\\n" + input`` when ``input`` is non-empty, as TLPO's filter builds it), and
optionally a reference answer (``output``, ``answer``, ``reference`` or ``completion``; used for SFT).

A question is kept iff all of these hold (each rule can be switched off or changed in a YAML/JSON rules file;
`FilterRules` documents the fields):

1. ``no_confusion``: the TLPO detector (``ignore_english`` as configured, default True) finds no confusion
   point in the question itself — i.e. it has no letters of a non-target, non-English script;
2. ``banned_substrings``: none of them occurs as a case-insensitive substring. The defaults are TLPO's:
   26 English language names, their Korean names, and code/terminal/translation keywords (``python``,
   ``html``, ``def ``, ``http``, ``git``, ``bash`` …). Substring matching means "digit" matches ``git``, as in
   the original; set ``whole_words: true`` to match whole words instead;
3. ``min_chars <= len(question) <= max_chars`` (TLPO cuts at 500 characters);
4. duplicates (same question text) are dropped.

Output: JSONL rows ``{"id", "prompt", "language", "reference"?}``, written atomically; ``id`` is a stable hash
of the question so the later steps can resume and join by it.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from ..errors import InputError, UsageError
from ..io_utils import write_jsonl_atomic
from ..languages import check_language
from .jsonl import read_rows, user_text

LANGUAGE_NAMES_EN = (
    "English", "Mandarin", "Chinese", "Spanish", "Hindi", "French", "Arabic", "Bengali", "Russian", "Portuguese",
    "Urdu", "Indonesian", "German", "Japanese", "Swahili", "Marathi", "Telugu", "Turkish", "Korean", "Vietnamese",
    "Tamil", "Punjabi", "Javanese", "Persian", "Italian", "Thai",
)
LANGUAGE_NAMES_KO = (
    "영어", "북경어", "중국어", "스페인어", "힌디어", "프랑스어", "아랍어", "벵골어", "러시아어", "포르투갈어",
    "우르두어", "인도네시아어", "독일어", "일본어", "스와힐리어", "마라티어", "텔루구어", "터키어", "한국어",
    "베트남어", "타밀어", "펀자브어", "자바어", "페르시아어", "이탈리아어", "태국어",
)
KEYWORDS = (
    "translate", "번역", "python", "파이썬", "html", "java", "자바", "xml", "script", "스크립트", "SQL", "css",
    "Hello World", "Hello, World", "def ", "C++", "C#", "http", "https", "git", "github", "gitlab", "bash",
)
REFERENCE_FIELDS = ("output", "answer", "reference", "completion")


@dataclass
class FilterRules:
    """Prompt filter rules; defaults reproduce TLPO's `train_data_filter.py`."""

    no_confusion: bool = True
    ignore_english: bool = True
    banned_substrings: list[str] = field(
        default_factory=lambda: list(LANGUAGE_NAMES_EN + LANGUAGE_NAMES_KO + KEYWORDS)
    )
    extra_banned: list[str] = field(default_factory=list)
    whole_words: bool = False
    min_chars: int = 1
    max_chars: int = 500
    dedupe: bool = True

    @classmethod
    def from_file(cls, path: str | Path | None) -> FilterRules:
        """Defaults overridden by the keys of a YAML or JSON mapping; unknown keys are an error."""
        if path is None:
            return cls()
        from ..config_io import read_yaml

        p = Path(path)
        data = read_yaml(p, "rules file")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise UsageError(f"{p}: unknown rule(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        return cls(**data)

    def pattern(self) -> re.Pattern | None:
        words = [w for w in self.banned_substrings + self.extra_banned if w]
        if not words:
            return None
        alts = "|".join(re.escape(w) for w in sorted(set(words), key=len, reverse=True))
        return re.compile(rf"(?<!\w)(?:{alts})(?!\w)" if self.whole_words else alts, re.IGNORECASE)


def prompt_id(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


def question_of(row: dict, where: str) -> str:
    if "question" in row:
        q = row["question"]
    elif "prompt" in row:
        q = user_text(row["prompt"])
    elif "instruction" in row:
        q = row["instruction"]
        extra = row.get("input") or ""
        if not isinstance(q, str) or not isinstance(extra, str):
            raise InputError(f"{where}: instruction/input must be strings")
        q = q + ("\n" + extra if extra else "")
    else:
        raise InputError(f"{where}: no question field (expected one of: question, prompt, instruction)")
    if not isinstance(q, str):
        raise InputError(f"{where}: the question must be a string, got {type(q).__name__}")
    return q


def reference_of(row: dict) -> str | None:
    for key in REFERENCE_FIELDS:
        val = row.get(key)
        if isinstance(val, str) and val.strip():
            return val
    return None


def carried_fields(row: dict) -> dict:
    """The optional fields a prompt row carries to sampling: its ``reference`` answer and its ``sample_prompt``
    (what the model is asked when sampling, see `databuild.sample`)."""
    out = {}
    ref = reference_of(row)
    if ref is not None:
        out["reference"] = ref
    if isinstance(row.get("sample_prompt"), str) and row["sample_prompt"].strip():
        out["sample_prompt"] = row["sample_prompt"]
    return out


def filter_prompts(rows: list[dict], language: str, rules: FilterRules, source: str = "pool") -> tuple[list[dict], dict]:
    """Apply `rules` to pool rows; return (kept rows, counts of kept and of each drop reason)."""
    language = check_language(language)
    detector = None
    if rules.no_confusion:
        from ..detect import get_detector

        detector = get_detector("tlpo", language, ignore_english=rules.ignore_english)
    pat = rules.pattern()
    seen: set[str] = set()
    kept: list[dict] = []
    stats = {"pool": len(rows), "kept": 0, "too_short": 0, "too_long": 0, "banned": 0, "confused": 0, "duplicate": 0}
    for n, row in enumerate(rows, 1):
        q = question_of(row, f"{source} row {n}")
        if len(q.strip()) < rules.min_chars:
            stats["too_short"] += 1
        elif rules.max_chars and len(q) > rules.max_chars:
            stats["too_long"] += 1
        elif pat is not None and pat.search(q):
            stats["banned"] += 1
        elif rules.dedupe and q in seen:
            stats["duplicate"] += 1
        elif detector is not None and detector.detect(q).first_confusion_char != -1:
            stats["confused"] += 1
        else:
            seen.add(q)
            kept.append({"id": prompt_id(q), "prompt": q, "language": language, **carried_fields(row)})
    stats["kept"] = len(kept)
    return kept, stats


def build_prompts(pool: str | Path, language: str, out: str | Path, rules: FilterRules | None = None,
                  limit: int | None = None) -> dict:
    """Read `pool`, filter, keep the first `limit` survivors, write `out` atomically; return the counts.

    Raises `InputError` (nothing written) for an unreadable pool or when no prompt survives the filter.
    """
    rules = rules or FilterRules()
    rows = read_rows(pool, "prompts")
    kept, stats = filter_prompts(rows, language, rules, source=str(pool))
    if limit is not None:
        kept = kept[:limit]
    if not kept:
        raise InputError(f"{pool}: no prompt survived the filter ({_describe(stats)})")
    write_jsonl_atomic(out, kept)
    stats["written"] = len(kept)
    stats["rules"] = asdict(rules) | {"banned_substrings": f"{len(rules.banned_substrings)} entries"}
    return stats


def _describe(stats: dict) -> str:
    return ", ".join(f"{k} {v}" for k, v in stats.items() if v and k != "kept")


def read_prompts(path: str | Path) -> list[dict]:
    """Read a prompts file written by `build_prompts` (or any JSONL with id/prompt/language rows)."""
    rows = read_rows(path, "prompts")
    out = []
    for n, row in enumerate(rows, 1):
        q = question_of(row, f"{path} row {n}")
        lang = row.get("language")
        if lang is not None:
            lang = check_language(lang)
        out.append({"id": str(row.get("id") or prompt_id(q)), "prompt": q, "language": lang, **carried_fields(row)})
    ids = [r["id"] for r in out]
    if len(set(ids)) != len(ids):
        raise InputError(f"{path}: duplicate prompt ids")
    return out
