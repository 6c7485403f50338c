"""In-context examples for the decoding sweep (package data `data/fewshot.json`, written for langlock).

`examples(language, task, shots)` returns `shots` (0, 1 or 5) user/assistant exchanges to put before a
prompt whose target is `language`:

- monolingual: exchanges in *other* languages, each answered in its own language, which shows the model to
  answer in the language it is asked in (never the target itself, so no answer text can be copied);
- cross-lingual: English questions with one of five instructions to answer in another language, answered
  in that language.

The example languages rotate with the target (the languages after it in a fixed order), so targets see
different examples, and the two topics alternate. As in the benchmark's recipe, the 1-shot examples are the
first exchange of the 5-shot ones. The generation core renders them (`langlock.generate.render`: chat turns,
or the benchmark's `Q:/A:` text for models without a chat template).
"""

from __future__ import annotations

import functools
import json
from importlib import resources

from .errors import UsageError
from .languages import LANGUAGE_NAMES, check_language

SHOTS = (0, 1, 5)


@functools.cache
def _data() -> dict:
    return json.loads(resources.files("langlock").joinpath("data/fewshot.json").read_text(encoding="utf-8"))


def example_languages(language: str, k: int, exclude_english: bool) -> list[str]:
    """The `k` example languages for target `language`: the ones after it in code order, wrapping."""
    codes = sorted(_data()["exchanges"])
    start = codes.index(language) if language in codes else 0
    rotated = codes[start + 1:] + codes[:start + 1]
    return [c for c in rotated if c != language and not (exclude_english and c == "en")][:k]


def examples(language: str, task: str, shots: int) -> list[dict]:
    """Chat messages (alternating user / assistant) of the `shots`-shot prefix for one prompt."""
    language = check_language(language)
    if shots not in SHOTS:
        raise UsageError(f"shots must be one of {', '.join(map(str, SHOTS))}, got {shots}")
    if task not in ("monolingual", "crosslingual"):
        raise UsageError(f"unknown task {task!r} for in-context examples")
    data = _data()
    messages: list[dict] = []
    for i, lang in enumerate(example_languages(language, shots, exclude_english=task == "crosslingual")):
        topic = i % len(data["english_questions"])
        question, answer = data["exchanges"][lang][topic]
        if task == "crosslingual":
            instr = data["instructions"][i % len(data["instructions"])]
            text = instr["text"].format(language=LANGUAGE_NAMES[lang])
            english = data["english_questions"][topic]
            question = f"{text} {english}" if instr["location"] == "start" else f"{english} {text}"
        messages += [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
    return messages



def demonstrations(language: str) -> list[tuple[str, str]]:
    """(prompt, answer) pairs whose answer is in `language`, for the SITE task embedding and fit
    (`langlock.steer`): each exchange of the language as asked (a question in the language), then the same
    answer to the English question under each of the cross-lingual instructions. Never evaluation prompts."""
    language = check_language(language)
    data = _data()
    if language not in data["exchanges"]:
        raise UsageError(f"no built-in examples for {language!r}; pass your own (prompt/answer JSONL)")
    pairs: list[tuple[str, str]] = []
    for topic, (question, answer) in enumerate(data["exchanges"][language]):
        pairs.append((question, answer))
        if language == "en" or topic >= len(data["english_questions"]):
            continue
        english = data["english_questions"][topic]
        for instr in data["instructions"]:
            text = instr["text"].format(language=LANGUAGE_NAMES[language])
            pairs.append((f"{text} {english}" if instr["location"] == "start" else f"{english} {text}", answer))
    return pairs


def demonstration_turns(language: str, shots: int) -> tuple[dict, ...]:
    """The N-shot prefix of the ``fewshot`` method: `shots` of `demonstrations(language)` (the examples SITE
    builds its task embedding from) as user / assistant turns, taken round-robin over the distinct answers so
    that consecutive shots show different answers; the pool repeats when `shots` exceeds it."""
    if isinstance(shots, bool) or not isinstance(shots, int) or shots < 0:
        raise UsageError(f"shots must be an integer >= 0, got {shots!r}")
    if shots == 0:
        return ()
    pool = demonstrations(language)
    by_answer: dict[str, list[tuple[str, str]]] = {}
    for prompt, answer in pool:
        by_answer.setdefault(answer, []).append((prompt, answer))
    groups = list(by_answer.values())
    order = [g[i] for i in range(max(map(len, groups))) for g in groups if i < len(g)]
    turns: list[dict] = []
    for i in range(shots):
        prompt, answer = order[i % len(order)]
        turns += [{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}]
    return tuple(turns)
