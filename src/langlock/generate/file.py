"""`file` backend: completions produced elsewhere (an LCB outputs CSV, our JSONL, lm-eval samples).

The records are matched to the run's prompts by key `task/source/language/id`, where `id` is the row
index inside the benchmark's test file (the benchmark's own convention). Every prompt must have one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..errors import InputError
from .base import Completion, GenerationSettings, Generator, PromptItem


def record_key(task: str, source: str, language: str, rid) -> str:
    return f"{task}/{source}/{language}/{rid}"


class FileGenerator(Generator):
    name = "file"

    def __init__(self, paths, model: str | None = None):
        from ..score.records import read_records

        self.paths = [str(p) for p in paths]
        if not self.paths:
            raise InputError("--backend file needs --completions FILE")
        records = read_records(self.paths, model=model)
        self.by_key: dict[str, str] = {}
        self.models = sorted({r.model for r in records})
        for r in records:
            if r.id is not None:
                self.by_key[record_key(r.task, r.source, r.language, r.id)] = r.completion

    def describe(self) -> dict:
        return {"backend": self.name, "files": self.paths, "models": self.models}

    def prepare(self, prompts: Sequence[PromptItem]) -> None:
        missing = [p.key for p in prompts if p.key not in self.by_key]
        if missing:
            raise InputError(f"{len(missing)} of {len(prompts)} prompts have no completion in "
                             f"{', '.join(self.paths)} (first: {missing[0]})")

    def generate(self, prompts: Sequence[PromptItem], settings: GenerationSettings,
                 on_done: Callable[[Completion], None]) -> None:
        self.prepare(prompts)
        for p in prompts:
            on_done(Completion(p.key, self.by_key[p.key], "stop", None))
