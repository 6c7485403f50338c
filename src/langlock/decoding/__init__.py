"""Decoding studies: how decoding settings move language confusion for one model.

- `decoding.sweep`: the benchmark under a grid of decoding settings (temperature, top-p, beams, in-context
  examples, the LanguageLock), one factor at a time: `langlock sweep`;
- `decoding.analyze`: per-step entropy and nucleus size at confusion points (the LCB paper's Table 7):
  `langlock analyze`.

Both generate with the one generation core (`langlock.generate.hf`), read their prompts like `langlock bench`
and share `StudyConfig` (model, prompt set, batching). Their figures are drawn by `langlock.report.plots`.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import UsageError


@dataclass(kw_only=True)
class StudyConfig:
    """The inputs shared by a sweep and an analysis (the CLI flags of `add_prompt_args`)."""

    model: str
    output_dir: str
    suite: str | None = None
    lcb_dir: str | None = None
    task: str = "all"
    langs: str | None = None
    limit: int | None = None
    batch_size: int = 8
    max_batch_tokens: int = 4096
    threads: int | None = None
    device: str = "cpu"

    def check(self) -> None:
        if self.batch_size < 1:
            raise UsageError("--batch-size must be >= 1")
        if self.max_batch_tokens < 1:
            raise UsageError("--max-batch-tokens must be >= 1")

    def prompts(self) -> list:
        """The prompt set, read as `langlock bench` reads it (`BenchPrompt`s)."""
        from ..bench.runner import BenchConfig, collect_prompts

        return collect_prompts(BenchConfig(output_dir=self.output_dir, suite=self.suite, lcb_dir=self.lcb_dir,
                                           task=self.task, langs=self.langs, limit=self.limit))

    def prompt_set(self) -> str | None:
        return self.suite or self.lcb_dir

    def generator(self):
        """The generation core over the loaded model (`generate.hf.HFGenerator`)."""
        from ..generate.hf import HFGenerator

        return HFGenerator(self.model, batch_size=self.batch_size, max_batch_tokens=self.max_batch_tokens,
                           device=self.device, threads=self.threads)


def check_detectors(profile: str, prompts, options: dict) -> None:
    """Build the detector of every prompt language once, so an unsupported language fails before loading."""
    from ..detect import get_detector

    for lang in dict.fromkeys(p.language for p in prompts):
        get_detector(profile, lang, **options)
