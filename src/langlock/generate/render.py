"""The one prompt renderer of local generation (`hf` backend, `langlock sweep`, `langlock analyze`, the data
sampler, the merge experiment script).

A prompt is the user's text plus optional in-context turns (`shots`: alternating user / assistant messages,
e.g. `langlock.fewshot.examples`) and an optional system prompt. It becomes model input in one of two ways:

- `chat`: the tokenizer's chat template over ``[system?] + shots + [user]`` with the generation prompt, then
  tokenized without adding special tokens (the template already holds them);
- `qa`: models without a chat template get the benchmark's ``Q: …\\nA: …`` text (each shot one exchange,
  the prompt last, ending in ``A:``), a system prompt as a first paragraph, tokenized with the tokenizer's
  special tokens (BOS).

A `qa` answer ends where the model starts the next exchange (``"\\nQ:"``, `QA_STOP`): generation stops there and
the answer is cut before it (`PromptRenderer.cut`, `cut_tokens`), as the benchmark's metric cuts it, so what is
scored and judged (validity) is the answer alone.

`chat_messages`, `qa_text` and `cut_tokens` are pure; `PromptRenderer` applies them with a tokenizer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

FORMATS = ("chat", "qa")
#: where a `qa` answer ends: the model begins the next question (`langlock.detect.lcb.normalize` cuts there too)
QA_STOP = "\nQ:"


def chat_messages(prompt: str, shots: Sequence[dict] = (), system_prompt: str | None = None) -> list[dict]:
    """The chat messages of one prompt: optional system turn, the in-context turns, the user turn."""
    messages = [{"role": "system", "content": system_prompt}] if system_prompt else []
    return messages + [dict(m) for m in shots] + [{"role": "user", "content": prompt}]


def qa_text(prompt: str, shots: Sequence[dict] = (), system_prompt: str | None = None) -> str:
    """The benchmark's base-model rendering: ``Q: question\\nA: answer`` per shot, blank lines between, and
    ``Q: prompt\\nA:`` last."""
    if len(shots) % 2:
        raise ValueError("in-context turns come in (user, assistant) pairs")
    turns = [f"Q: {shots[i]['content']}\nA: {shots[i + 1]['content']}" for i in range(0, len(shots), 2)]
    head = [system_prompt] if system_prompt else []
    return "\n\n".join(head + turns + [f"Q: {prompt}\nA:"]).strip("\n")


def cut_tokens(ids: Sequence[int], decode, stop: str = QA_STOP) -> tuple[list[int], str] | None:
    """When the text of `ids` (``decode(ids) -> str``) contains `stop`: the tokens wholly before its first
    occurrence and the text before it; None when it does not occur."""
    text = decode(list(ids))
    at = text.find(stop)
    if at < 0:
        return None
    lo, hi = 0, len(ids)  # the longest prefix whose text ends at or before the stop (its length grows with it)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if len(decode(list(ids[:mid]))) <= at:
            lo = mid
        else:
            hi = mid - 1
    return list(ids[:lo]), text[:at]


@dataclass(frozen=True)
class PromptRenderer:
    """Prompt text -> model input for one tokenizer: `format` "chat" (its template) or "qa" (no template)."""

    format: str = "chat"

    def __post_init__(self):
        if self.format not in FORMATS:
            raise ValueError(f"unknown prompt format {self.format!r}; one of {', '.join(FORMATS)}")

    @classmethod
    def for_tokenizer(cls, tokenizer, chat_template: bool | None = None) -> PromptRenderer:
        """"chat" when the tokenizer has a template (and `chat_template` is not False), else "qa"."""
        has = bool(getattr(tokenizer, "chat_template", None))
        return cls("chat" if (has if chat_template is None else chat_template and has) else "qa")

    @property
    def stop_strings(self) -> tuple[str, ...]:
        """Text that ends an answer besides the stop tokens: `QA_STOP` for "qa", none for "chat"."""
        return (QA_STOP,) if self.format == "qa" else ()

    def cut(self, ids: Sequence[int], decode) -> tuple[list[int], str] | None:
        """The answer's tokens and text before the first stop string (`cut_tokens`); None when none occurs."""
        for stop in self.stop_strings:
            found = cut_tokens(ids, decode, stop)
            if found is not None:
                return found
        return None

    def text(self, tokenizer, prompt: str, shots: Sequence[dict] = (), system_prompt: str | None = None,
             prefix: str = "") -> str:
        """The rendered prompt, followed by `prefix` when given: the start of the answer, which the model then
        continues (after the generation prompt for "chat", after ``A:`` and a space for "qa")."""
        if self.format == "chat":
            text = tokenizer.apply_chat_template(chat_messages(prompt, shots, system_prompt), tokenize=False,
                                                 add_generation_prompt=True)
            return text + prefix
        return qa_text(prompt, shots, system_prompt) + (" " + prefix if prefix else "")

    def ids(self, tokenizer, prompt: str, shots: Sequence[dict] = (), system_prompt: str | None = None,
            prefix: str = "") -> list[int]:
        """Token ids of the rendered prompt (and answer prefix; no special tokens added to a chat template's
        text)."""
        text = self.text(tokenizer, prompt, shots, system_prompt, prefix)
        return tokenizer(text, add_special_tokens=self.format == "qa")["input_ids"]
