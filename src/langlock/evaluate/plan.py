"""An evaluation plan as data: which suites, which decoding (settings + per-language logits processors), which
retention check and which reference model for KL. `langlock.evaluate.evaluate` executes one.

"A model under a LanguageLock" is not a method of its own: it is the model with a `Decoding` whose ``locks``
hold a lock for a language. A lock applies to the requests of its language only; every other language decodes
unchanged (`langlock.bench.runner.generate_all`). SITE steering (``steer``: language -> fitted file,
`langlock.steer`) and N-shot prompting (``shots``: language -> N of `langlock.fewshot.demonstration_turns`)
are carried the same way, per language. Routed adapters too: ``adapters`` names an adapter library
(`langlock.adapters`) and ``route`` how each request picks its adapter.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from ..errors import UsageError
from ..generate import GenerationSettings


@dataclass(frozen=True)
class SuiteSpec:
    """A prompt set: a built-in suite or the LCB test sets, with the bench runner's filters."""

    suite: str | None = None  # builtin-confusion, builtin-retention
    lcb_dir: str | None = None  # the benchmark's test_sets folder
    task: str = "all"
    langs: str | None = None  # comma-separated (None: all)
    limit: int | None = None  # first N prompts per source (or kind) and language

    def __post_init__(self):
        if bool(self.suite) == bool(self.lcb_dir):
            raise UsageError("a suite needs exactly one of suite and lcb_dir")


@dataclass(frozen=True)
class Decoding:
    """Decoding settings plus what changes a language's requests: ``locks`` maps a language to
    `langlock.inference.lock.LanguageLock` options (``mode``, ``entropy_threshold``...); ``steer`` maps a
    language to a SITE steering file (`langlock steer fit`, fitted for that language); ``shots`` maps a language
    to N, the in-context demonstrations (`langlock.fewshot.demonstration_turns`) placed before its prompts."""

    settings: GenerationSettings = field(default_factory=GenerationSettings)
    locks: dict = field(default_factory=dict)
    steer: dict = field(default_factory=dict)
    shots: dict = field(default_factory=dict)
    #: an adapter library: each request answered by the adapter its routed language has (`langlock.adapters`)
    adapters: str | None = None
    route: str = "oracle"  # oracle | requested | detected

    def __post_init__(self):
        from ..adapters.route import ROUTES
        from ..languages import check_language

        if self.route not in ROUTES:
            raise UsageError(f"route must be one of {', '.join(ROUTES)}, got {self.route!r}")

        for lang, opts in self.locks.items():
            check_language(lang)
            if not isinstance(opts, dict):
                raise UsageError(f"locks.{lang}: expected LanguageLock options (a mapping), got {opts!r}")
        for lang, path in self.steer.items():
            check_language(lang)
            if not isinstance(path, str) or not path:
                raise UsageError(f"steer.{lang}: expected a steering file path, got {path!r}")
        for lang, n in self.shots.items():
            check_language(lang)
            if isinstance(n, bool) or not isinstance(n, int) or n < 0:
                raise UsageError(f"shots.{lang}: expected a number of demonstrations >= 0, got {n!r}")


@dataclass(frozen=True)
class EvalPlan:
    """What to evaluate. ``target``: the language the confusion metrics are about (English prompts of the
    confusion suite give the English LPR); ``retention``: ``builtin-retention`` items (None: skipped);
    ``reference_model``: KL(model ‖ reference) on its fixed English prompts (None: no KL); ``quality``: the
    answer-validity judge of the confusion suite, "cheap" signals or "full" (with the fluency judge model)."""

    target: str
    confusion: SuiteSpec
    decoding: Decoding = field(default_factory=Decoding)
    retention: SuiteSpec | None = None
    reference_model: str | None = None
    quality: str = "cheap"

    def __post_init__(self):
        from ..languages import check_language

        object.__setattr__(self, "target", check_language(self.target))
        if self.quality not in ("cheap", "full"):
            raise UsageError(f"unknown quality {self.quality!r}; choose cheap or full")
        if self.confusion.suite == "builtin-retention":
            raise UsageError("the confusion suite cannot be builtin-retention")
        if self.retention is not None and self.retention.suite != "builtin-retention":
            raise UsageError("retention runs the builtin-retention suite")
        if self.decoding.adapters and (self.retention is not None or self.reference_model):
            raise UsageError("routed adapters: retention is not measured (its likelihood checks run one model)")

    def to_dict(self) -> dict:
        """The plan as JSON data (what a cached evaluation is checked against); empty ``steer`` / ``shots`` and,
        without routed adapters, their keys are left out, so evaluations cached before those fields existed still
        match."""
        data = json.loads(json.dumps(asdict(self)))
        for key in ("steer", "shots"):
            if not data["decoding"][key]:
                del data["decoding"][key]
        if not data["decoding"]["adapters"]:
            del data["decoding"]["adapters"], data["decoding"]["route"]
        return data


@dataclass(frozen=True)
class Runtime:
    """How the plan runs: batching, device, dtype, threads, model cache. None of it changes what is measured
    beyond float noise; the dtype is that noise's size (bfloat16 answers are other samples than float32 ones),
    so an evaluation is resumed and reused only in the dtypes it was made in. ``dtype``: the weights of the
    answers (the confusion suite); ``retention_dtype``: those of the likelihood, KL and multiple-choice scores
    (None: ``dtype``), where float32 keeps an NLL drift of a fraction of a percent above the rounding."""

    batch_size: int = 8
    max_batch_tokens: int = 4096
    device: str = "cpu"
    dtype: str = "float32"
    retention_dtype: str | None = None
    threads: int | None = None
    cache_dir: str | None = None
    progress: bool = False
