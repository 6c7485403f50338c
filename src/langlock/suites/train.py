"""`builtin-train`: the training prompt pool, kept apart from every evaluation prompt.

Monolingual prompts per language: project-written ones (`data/suites/train.json`) plus the user turns of the
installed `chatterbot-corpus` package (loaded from its YAML files at run time, never copied); Italian and
Portuguese have chatterbot turns only. Cross-lingual
prompts: English requests with our own "answer in X" phrasings, distinct from `builtin-confusion`'s and from
the benchmark's. Where the project has written a request in the target language too
(`crosslingual_requests_translated`: ko, ja), the cross-lingual prompt carries it as
``meta["request_in_language"]`` — the same request asked in-language, whose answer is an answer in the requested
language. `tests/test_suites.py` checks that no prompt (nor translation) equals a benchmark or evaluation-suite
prompt.
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

from ..bench.prompts import BenchPrompt
from ..languages import LANGUAGE_NAMES
from .data import load_json

log = logging.getLogger(__name__)
SOURCE_OWN = "builtin-train"
SOURCE_CHATTERBOT = "chatterbot-corpus"


def chatterbot_user_turns(folder: str) -> list[str]:
    """First turns of every conversation in the installed chatterbot-corpus `data/<folder>/*.yml`."""
    spec = importlib.util.find_spec("chatterbot_corpus")
    if spec is None or not spec.submodule_search_locations:
        log.warning("chatterbot-corpus is not installed; builtin-train uses only its own prompts")
        return []
    import yaml

    root = Path(next(iter(spec.submodule_search_locations))) / "data" / folder
    seen: dict[str, None] = {}
    for path in sorted(root.glob("*.yml")):
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (yaml.YAMLError, UnicodeDecodeError) as err:
            log.warning("skipping %s: %s", path, err)
            continue
        for conv in doc.get("conversations") or []:
            if isinstance(conv, list) and conv and isinstance(conv[0], str):
                text = " ".join(conv[0].split())
                if len(text) >= 2:
                    seen.setdefault(text, None)
    return list(seen)


def train_prompts(langs=None, chatterbot: bool = True) -> list[BenchPrompt]:
    """The pool as `BenchPrompt`s (task monolingual/crosslingual, source = origin), optionally for `langs`."""
    data = load_json("train.json")
    wanted = set(langs) if langs else None
    out: list[BenchPrompt] = []
    chatterbot_only = {lang: [] for lang in data["chatterbot_languages"] if lang not in data["monolingual"]}
    for lang, prompts in {**data["monolingual"], **chatterbot_only}.items():
        if wanted is not None and lang not in wanted:
            continue
        out.extend(BenchPrompt("monolingual", SOURCE_OWN, lang, str(i), p) for i, p in enumerate(prompts))
        folder = data["chatterbot_languages"].get(lang)
        if chatterbot and folder:
            turns = chatterbot_user_turns(folder)
            out.extend(BenchPrompt("monolingual", SOURCE_CHATTERBOT, lang, str(i), t) for i, t in enumerate(turns))
    templates = data["crosslingual_templates"]
    translated = data.get("crosslingual_requests_translated", {})
    for lang in data["monolingual"]:
        if lang == "en" or (wanted is not None and lang not in wanted):
            continue
        for i, request in enumerate(data["crosslingual_requests"]):
            meta = {"request_in_language": translated[lang][i]} if lang in translated else {}
            for j, tmpl in enumerate(templates):
                text = tmpl.format(language=LANGUAGE_NAMES[lang], request=request)
                out.append(BenchPrompt("crosslingual", SOURCE_OWN, lang, f"{i}.{j}", text, dict(meta)))
    return out
