"""Optional LLM judge: ask a model behind any OpenAI-compatible server whether an answer is an answer.

The request (`JUDGE_PROMPT`, version `PROMPT_VERSION`) gives the model the prompt, the expected language
and the answer, and asks for one JSON object: `{"valid": true|false, "reason": one of REASONS}` where the
reasons are `ok`, `echo` (restates the prompt), `loop` (repetition), `noise` (random characters or
syllables), `word_salad` (real words, no sentences), `off_topic`, `empty`. Decoding is greedy (temperature 0)
with at most 64 new tokens. A reply without such an object is "not judged" (never a failure).

Verdicts are cached per (server model, prompt version, prompt, language, answer) in a JSON file, so a
re-run asks only for new answers. Transport, retries and concurrency are langlock's `openai` backend
(`langlock.generate.openai`); the API key comes from an environment variable, never the command line.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from pathlib import Path

from ..generate.base import GenerationSettings, PromptItem
from ..io_utils import write_json_atomic
from ..languages import LANGUAGE_NAMES

PROMPT_VERSION = 1
REASONS = ("ok", "echo", "loop", "noise", "word_salad", "off_topic", "empty")
JUDGE_PROMPT = """You check answers of a chatbot. Decide whether the ANSWER is a genuine attempt to answer \
the PROMPT (in any quality), or not an answer at all.

Not an answer: it restates the prompt instead of answering (echo); it repeats a word or phrase over and over \
(loop); it is random characters or syllables (noise); it is real words without sentences (word_salad); it is \
unrelated to the prompt (off_topic); it is empty. The expected language is {language}; do not judge the \
language itself.

PROMPT:
{prompt}

ANSWER:
{answer}

Reply with one JSON object and nothing else: {{"valid": true or false, "reason": one of \
"ok", "echo", "loop", "noise", "word_salad", "off_topic", "empty"}}"""

_OBJECT = re.compile(r"\{[^{}]*\}", re.S)


def judge_prompt(prompt: str | None, answer: str, language: str | None) -> str:
    return JUDGE_PROMPT.format(prompt=prompt or "(not available)", answer=answer,
                               language=LANGUAGE_NAMES.get(language or "", language or "unknown"))


def parse_verdict(text: str) -> tuple[bool, str] | None:
    """`(valid, reason)` from the first JSON object in `text` with a boolean `valid`; None when there is none.
    An unknown reason of an invalid verdict becomes "other"; a valid one is always "ok"."""
    for match in _OBJECT.finditer(text or ""):
        try:
            obj = json.loads(match.group(0))
        except json.JSONDecodeError:
            continue
        if isinstance(obj, dict) and isinstance(obj.get("valid"), bool):
            reason = obj.get("reason")
            if obj["valid"]:
                return True, "ok"
            return False, reason if reason in REASONS and reason != "ok" else "other"
    return None


class LLMJudge:
    """Verdicts from a chat model behind an OpenAI-compatible server, cached per answer."""

    def __init__(self, base_url: str, model: str, cache: str | Path | None = None, **client_options):
        from ..generate.openai import OpenAIGenerator

        self.client = OpenAIGenerator(base_url, model, **client_options)
        self.model = model
        self.cache_path = Path(cache) if cache else None
        self.cache: dict = {}
        if self.cache_path and self.cache_path.is_file():
            self.cache = json.loads(self.cache_path.read_text(encoding="utf-8"))
        self.settings = GenerationSettings(max_new_tokens=64, temperature=0.0, top_p=1.0)

    def key(self, prompt: str | None, answer: str, language: str | None) -> str:
        raw = json.dumps([self.model, PROMPT_VERSION, prompt, language, answer], ensure_ascii=False)
        return hashlib.sha256(raw.encode("utf-8")).hexdigest()

    def verdicts(self, answers: Sequence[str], prompts: Sequence[str | None],
                 languages: Sequence[str | None]) -> list[tuple[bool, str] | None]:
        """One `(valid, reason)` or None (not judged) per answer; asks the server only for uncached ones."""
        keys = [self.key(p, a, lang) for a, p, lang in zip(answers, prompts, languages)]
        todo = {k: PromptItem(k, judge_prompt(p, a, lang))
                for k, a, p, lang in zip(keys, answers, prompts, languages) if k not in self.cache}
        if todo:
            def done(c):
                self.cache[c.key] = {"reply": c.text, "verdict": parse_verdict(c.text)}

            try:
                self.client.generate(list(todo.values()), self.settings, done)
            finally:
                if self.cache_path:
                    write_json_atomic(self.cache_path, self.cache)
        out = []
        for k in keys:
            v = self.cache[k]["verdict"]
            out.append(None if v is None else (bool(v[0]), str(v[1])))
        return out
