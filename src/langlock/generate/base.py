"""The generation interface shared by every backend (`hf`, `openai`, `file`, `vllm`).

A backend receives `PromptItem`s (a stable key + the user message) and calls `on_done(Completion)` once per
prompt as soon as that completion exists, so the caller can append it to a log and a killed run resumes
without regenerating anything. Sampling is seeded per prompt (`prompt_seed(seed, key)`), so a completion
does not depend on which other prompts shared its batch or on the order of the run.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

from ..errors import LanglockError, UsageError


class GenerationError(LanglockError):
    """A backend failed at run time (server unreachable, HTTP errors after retries, malformed reply)."""


@dataclass(frozen=True)
class GenerationSettings:
    """Decoding settings. The defaults are the Language Confusion Benchmark's: nucleus sampling with
    p=0.75, temperature 0.3, at most 100 new tokens. `temperature=0` means greedy decoding."""

    max_new_tokens: int = 100
    temperature: float = 0.3
    top_p: float = 0.75
    seed: int = 0
    system_prompt: str | None = None

    def __post_init__(self):
        if self.max_new_tokens < 1:
            raise UsageError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")
        if self.temperature < 0:
            raise UsageError(f"temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise UsageError(f"top_p must be in (0, 1], got {self.top_p}")

    def to_dict(self) -> dict:
        return asdict(self)

    def is_benchmark_standard(self) -> bool:
        """Whether decoding equals the benchmark's published settings (seed and system prompt aside)."""
        d = BENCHMARK_DEFAULTS
        return (self.max_new_tokens, self.temperature, self.top_p, self.system_prompt) == (
            d.max_new_tokens, d.temperature, d.top_p, d.system_prompt)


BENCHMARK_DEFAULTS = GenerationSettings()


@dataclass(frozen=True)
class PromptItem:
    """One prompt to complete: `key` is unique within a run and stable across runs (it keys the log and the
    prompt's seed). `language` (the row's target, for per-language logits processors), `shots` (in-context
    user / assistant turns placed before the prompt) and `adapter` (the name of the LoRA adapter, among those
    the generator loaded, that answers this row; None: the base model) are used by the `hf` backend. `seed`,
    when given, is the row's sampling seed instead of ``prompt_seed(run seed, key)`` (the data sampler batches
    the samples of many prompts, each under its own prompt's seed). `prefix` is the start of the answer: the
    model continues it, and the completion is the continuation alone (local backends: `hf`, `vllm`)."""

    key: str
    text: str
    language: str | None = None
    shots: tuple[dict, ...] = ()
    adapter: str | None = None
    seed: int | None = None
    prefix: str = ""

    def seed_under(self, run_seed: int) -> int:
        """This row's sampling seed in a run seeded `run_seed`: its own `seed`, else ``prompt_seed(run_seed, key)``."""
        return self.seed if self.seed is not None else prompt_seed(run_seed, self.key)


@dataclass(frozen=True)
class Completion:
    key: str
    text: str
    finish_reason: str  # "stop" (end of turn / EOS) or "length" (hit max_new_tokens)
    n_tokens: int | None = None
    #: `hf` backend: the generated token ids up to (not including) the stop token, and, when asked for
    #: (`DecodeOptions.keep_logits`), the raw next-token logits of those steps ([len(token_ids), vocab]).
    token_ids: list[int] | None = field(default=None, repr=False, compare=False)
    logits: object = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict:
        return {"key": self.key, "text": self.text, "finish_reason": self.finish_reason, "n_tokens": self.n_tokens}


def prompt_seed(seed: int, key: str) -> int:
    """A 63-bit seed derived from the run seed and the prompt key (stable across processes and runs)."""
    digest = hashlib.sha256(f"{seed}\x1f{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def length_batches(items: Sequence, lengths: Sequence[int], batch_size: int, max_batch_tokens: int) -> list[list]:
    """Group `items` longest first into batches of at most `batch_size` items and at most `max_batch_tokens`
    padded prompt tokens (batch size x its longest prompt); a prompt longer than the budget gets a batch of
    its own. Left padding makes every row of a batch as long as its longest, so mixing one 3,000-token prompt
    with short ones multiplies the work (and, in attention, the memory) of all of them.
    """
    order = sorted(range(len(items)), key=lambda i: -lengths[i])
    batches: list[list] = []
    batch: list[int] = []
    for i in order:
        longest = lengths[batch[0]] if batch else lengths[i]
        if batch and (len(batch) >= batch_size or (len(batch) + 1) * longest > max_batch_tokens):
            batches.append([items[j] for j in batch])
            batch = []
        batch.append(i)
    if batch:
        batches.append([items[j] for j in batch])
    return batches


class Generator(ABC):
    """A generation backend. Subclasses set `name` and implement `generate` and `describe`."""

    name: str = "?"

    @abstractmethod
    def generate(
        self,
        prompts: Sequence[PromptItem],
        settings: GenerationSettings,
        on_done: Callable[[Completion], None],
    ) -> None:
        """Complete every prompt, calling `on_done` once per prompt as soon as its completion is final."""

    @abstractmethod
    def describe(self) -> dict:
        """What produced the completions (backend, model, chat template hash…), for the run manifest."""

    def prepare(self, prompts: Sequence[PromptItem]) -> None:  # noqa: B027 - optional hook
        """Check, before anything is written, that the backend can serve these prompts."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources (threads, model memory)."""
