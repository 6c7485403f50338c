"""`builtin-confusion`: ~30 everyday prompts per language (ko ja zh ar hi ru es fr de en), monolingual, and
cross-lingual ones (an English request + one of our own "answer in X" phrasings) for the nine non-English
languages. Written for langlock (package data `data/suites/confusion.json`), not taken from any dataset. Where the
project wrote a cross-lingual request in its target language too (ko, ja), the prompt carries it as
``meta["request_in_language"]`` (what `langlock.quality.topic` matches the answer's topic against)."""

from __future__ import annotations

from ..bench.prompts import BenchPrompt
from ..languages import LANGUAGE_NAMES
from .data import load_json

SOURCE = "builtin-confusion"


def confusion_prompts() -> list[BenchPrompt]:
    data = load_json("confusion.json")
    out: list[BenchPrompt] = []
    for lang, prompts in data["monolingual"].items():
        out.extend(BenchPrompt("monolingual", SOURCE, lang, str(i), p) for i, p in enumerate(prompts))
    templates = data["crosslingual_templates"]
    translated = data.get("crosslingual_requests_translated", {})
    for lang in data["monolingual"]:
        if lang == "en":
            continue
        for i, request in enumerate(data["crosslingual_requests"]):
            tmpl = templates[(i + len(lang) + ord(lang[0])) % len(templates)]
            text = tmpl["template"].format(language=LANGUAGE_NAMES[lang], request=request)
            meta = {"location": tmpl["location"]}
            if lang in translated:
                meta["request_in_language"] = translated[lang][i]
            out.append(BenchPrompt("crosslingual", SOURCE, lang, str(i), text, meta))
    return out
