"""`builtin-confusion`: ~30 everyday prompts per language (ko ja zh ar hi ru es fr de en), monolingual, and
cross-lingual ones (an English request + one of our own "answer in X" phrasings) for the nine non-English
languages. Written for langlock (package data `data/suites/confusion.json`), not taken from any dataset."""

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
    for lang in data["monolingual"]:
        if lang == "en":
            continue
        for i, request in enumerate(data["crosslingual_requests"]):
            tmpl = templates[(i + len(lang) + ord(lang[0])) % len(templates)]
            text = tmpl["template"].format(language=LANGUAGE_NAMES[lang], request=request)
            out.append(BenchPrompt("crosslingual", SOURCE, lang, str(i), text, {"location": tmpl["location"]}))
    return out
