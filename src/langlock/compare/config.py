"""`CompareConfig`: what `langlock compare` trains and evaluates (read from YAML, overridable per run)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path

from ..errors import UsageError

METHODS = ("base", "lock", "fewshot", "site", "sft", "dpo", "orpo", "grpo", "tbpo-q", "tbpo-a", "tlpo", "joint-sft")
#: methods that change no weight: the model as it is, decoded under a LanguageLock, prompted with N
#: demonstrations, or steered by a SITE file (fitted here: `compare.methods`, not a training run)
UNTRAINED = ("base", "lock", "fewshot", "site")
#: methods whose decoding carries a LanguageLock for the target language (`lock_options`)
LOCKED = ("lock",)
#: per-method arguments of the methods that are not training runs (their defaults: `compare.methods`)
METHOD_ARG_KEYS = {"fewshot": ("shots",), "site": ("shots", "num_prompts", "steps", "loss", "lr", "examples")}
#: methods trained on the pooled data of ``joint_languages`` (one joint adapter), evaluated on the target language
#: like every other method: ``joint-M`` is method M on the pooled data
JOINT = ("joint-sft",)


@dataclass
class CompareConfig:
    model: str
    language: str
    output_dir: str
    methods: list[str] = field(default_factory=lambda: list(METHODS))
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    # data
    pool: str = "builtin-train"
    #: builtin-train only: its prompts of this task (monolingual or crosslingual; None: both)
    pool_task: str | None = None
    #: overrides of the pool's prompt filter (`langlock.databuild.prompts.FilterRules` fields), e.g.
    #: {banned_substrings: []} to keep the cross-lingual requests, which name the language
    pool_rules: dict = field(default_factory=dict)
    pool_limit: int | None = 64
    samples_per_prompt: int = 8
    sample_temperature: float = 0.7
    sample_max_new_tokens: int = 128
    #: few-shot self-distillation: sample after this many of langlock's demonstrations of the language
    #: (`fewshot.demonstration_turns`, the ``fewshot`` method's); the targets still pair the zero-shot prompt, and
    #: a sample that copies a demonstration is never one (0: zero-shot sampling)
    sample_shots: int = 0
    #: in-language distillation: sample each cross-lingual request of builtin-train as the same request written
    #: in the target language (`BenchPrompt.meta["request_in_language"]`; ko, ja) — the model's own in-language
    #: answers become targets for the cross-lingual prompt
    sample_in_language: bool = False
    #: with ``sample_in_language``: also sample each request as written, and pair the in-language answers (chosen)
    #: with the model's own confused answers to the request itself (rejected) — preference data for dpo, orpo,
    #: tbpo-* on a model that answers the request in another language (``samples-inlang+own.jsonl``)
    in_language_pairs: bool = False
    #: prefix-primed sampling: language -> answer openers written in that language (e.g. {ko: ["좋은 질문이에요.
    #: 먼저,"]}); each sample of that language's data starts with one of them and the model continues it, so a
    #: model that answers the request in another language is started in the right one while it reads the request
    #: itself (`databuild.sample.SampleSettings.answer_prefixes`); the targets keep the opener
    sample_answer_prefixes: dict = field(default_factory=dict)
    #: replay: SFT rows from this many English prompts of builtin-train answered by the base itself (its valid
    #: English answers, judged as ``pair_validity`` says) are added to the SFT data, so that a fix that learns
    #: "answer in the target language" still answers English prompts in English (0: none; SFT data only)
    replay_english: int = 0
    data_seed: int = 0
    pair_ignore_english: bool = False
    #: a sample counts as clean (SFT target, DPO chosen) only when it is also a valid answer (`langlock.quality`):
    #: "cheap" (no echo of the prompt, no loop, not near-empty) or "full" (plus the fluency judge model); None: no check
    pair_validity: str | None = None
    #: the languages whose data the ``joint-*`` methods pool (the target among them; empty: the target alone)
    joint_languages: list[str] = field(default_factory=list)
    # training: settings shared by every method (max_steps, per_device_train_batch_size, learning_rate, lora,
    # lora_r, lora_alpha, lora_dropout, lora_target_modules; other keys go to the TRL baselines), then per-method
    # overrides
    train: dict = field(default_factory=lambda: {"max_steps": 20, "per_device_train_batch_size": 4, "lora": True})
    method_args: dict = field(default_factory=dict)
    #: method -> model trained elsewhere (a model or LoRA adapter directory; "{seed}" is replaced by the seed),
    #: evaluated instead of training that method here, e.g. {tlpo: runs/tlpo-ko/seed{seed}/model}
    checkpoints: dict = field(default_factory=dict)
    #: LanguageLock options of the ``lock`` method's decoding (`langlock.inference.lock.LanguageLock`), applied
    #: to target-language requests
    lock_options: dict = field(default_factory=lambda: {"mode": "suppress"})
    # evaluation
    eval_suite: str | None = "builtin-confusion"
    eval_lcb_dir: str | None = None
    eval_limit: int | None = 10
    eval_task: str = "all"  # monolingual, crosslingual or all prompts of the evaluation suite
    eval_quality: str = "cheap"  # answer validity in the evaluation: "cheap" signals or "full" (the judge model too)
    eval_max_new_tokens: int = 100
    eval_temperature: float = 0.3
    eval_top_p: float = 0.75
    retention: bool = True
    retention_limit: int | None = None  # items per (kind, language) of builtin-retention (None: all)
    retention_langs: str | None = None  # comma-separated languages of builtin-retention (None: all)
    batch_size: int = 8
    dtype: str = "float32"  # the weights in training, data sampling, steering fits and the retention scores
    #: the weights when generating the evaluation's answers (None: ``dtype``); bfloat16 is the fast path on CPUs
    #: with AMX / AVX512-BF16 (docs/subjects.md measures it against float32); retention stays in ``dtype``
    eval_dtype: str | None = None
    device: str = "cpu"
    threads: int | None = 1  # torch CPU threads; 1 avoids oversubscription on a shared machine (None: torch's)

    def __post_init__(self):
        from ..languages import check_language

        self.language = check_language(self.language)
        self.joint_languages = [check_language(x) for x in self.joint_languages]
        if self.joint_languages and self.language not in self.joint_languages:
            raise UsageError(f"joint_languages {self.joint_languages} must include the target {self.language}")
        bad = [m for m in self.methods if m not in METHODS]
        if bad or not self.methods:
            raise UsageError(f"unknown method(s) {', '.join(bad) or '(none)'}; choose from {', '.join(METHODS)}")
        dtypes = ("float32", "bfloat16", "float16")
        if self.dtype not in dtypes or self.eval_dtype not in (None, *dtypes):
            raise UsageError(f"dtype and eval_dtype must be one of {', '.join(dtypes)} (eval_dtype also null)")
        if self.pool_task not in (None, "monolingual", "crosslingual"):
            raise UsageError(f"pool_task must be monolingual or crosslingual, got {self.pool_task!r}")
        if self.pool_task and self.pool != "builtin-train":
            raise UsageError("pool_task applies to the builtin-train pool only")
        if self.pair_validity not in (None, "cheap", "full") or self.eval_quality not in ("cheap", "full"):
            raise UsageError("pair_validity must be cheap, full or null and eval_quality cheap or full")
        if self.sample_in_language and (self.pool != "builtin-train" or self.pool_task != "crosslingual"):
            raise UsageError("sample_in_language needs pool: builtin-train and pool_task: crosslingual")
        if self.in_language_pairs and not self.sample_in_language:
            raise UsageError("in_language_pairs pairs the in-language samples: it needs sample_in_language: true")
        if not isinstance(self.sample_answer_prefixes, dict):
            raise UsageError("sample_answer_prefixes maps a language to a list of answer openers")
        prefixes = {}
        for lang, openers in self.sample_answer_prefixes.items():
            if (not isinstance(openers, list) or not openers
                    or not all(isinstance(x, str) and x.strip() for x in openers)):
                raise UsageError(f"sample_answer_prefixes.{lang}: a non-empty list of non-empty strings is expected")
            prefixes[check_language(lang)] = openers
        self.sample_answer_prefixes = prefixes
        if self.in_language_pairs and self.language in prefixes:
            raise UsageError("in_language_pairs samples the requests as written for the rejected side; with "
                             "sample_answer_prefixes those would be primed too: use one of the two")
        if isinstance(self.sample_shots, bool) or not isinstance(self.sample_shots, int) or self.sample_shots < 0:
            raise UsageError(f"sample_shots must be an integer >= 0, got {self.sample_shots!r}")
        if isinstance(self.replay_english, bool) or not isinstance(self.replay_english, int) or self.replay_english < 0:
            raise UsageError(f"replay_english must be an integer >= 0, got {self.replay_english!r}")
        if self.replay_english and self.language == "en":
            raise UsageError("replay_english adds English rows to a fix of another language; the target is English")
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise UsageError("seeds must be a non-empty list of distinct integers")
        if bool(self.eval_suite) == bool(self.eval_lcb_dir):
            raise UsageError("set exactly one of eval_suite and eval_lcb_dir")
        if self.eval_task not in ("all", "monolingual", "crosslingual"):
            raise UsageError(f"eval_task must be all, monolingual or crosslingual, got {self.eval_task!r}")
        for key in ("method_args", "checkpoints"):
            unknown = sorted(set(getattr(self, key)) - set(METHODS))
            if unknown:
                raise UsageError(f"{key} for unknown method(s): {', '.join(unknown)}")
        if set(UNTRAINED) & set(self.checkpoints) - {"site"}:
            raise UsageError("checkpoints: 'base', 'lock' and 'fewshot' train nothing; the model is given as model "
                             "(checkpoints.site names a fitted steering file)")
        for method, keys in METHOD_ARG_KEYS.items():
            args = self.method_args.get(method) or {}
            if not isinstance(args, dict) or set(args) - set(keys):
                raise UsageError(f"method_args.{method}: unknown key(s) "
                                 f"{', '.join(sorted(set(args) - set(keys))) if isinstance(args, dict) else args}; "
                                 f"known: {', '.join(keys)}")

    @property
    def site_on_data(self) -> bool:
        """Whether SITE is fitted here on the shared data's target-language SFT rows (``method_args.site.examples:
        data``), rather than taken from ``checkpoints.site`` or fitted on other examples."""
        return ("site" in self.methods and "site" not in self.checkpoints
                and (self.method_args.get("site") or {}).get("examples") == "data")

    def needs_data(self) -> bool:
        """Whether any selected method is trained here, or SITE is fitted on the shared data (`site_on_data`), and so
        needs the shared training data."""
        return self.site_on_data or any(m not in UNTRAINED and m not in self.checkpoints for m in self.methods)

    def pooled_languages(self) -> list[str]:
        """The languages a ``joint-*`` method trains on, in order, without repeats."""
        return list(dict.fromkeys(self.joint_languages or [self.language]))

    @classmethod
    def from_yaml(cls, path: str | Path, **overrides) -> CompareConfig:
        from ..config_io import read_yaml

        p = Path(path)
        data = read_yaml(p)
        file_ckpts = data.get("checkpoints") or {}
        if overrides.get("checkpoints") is not None and isinstance(file_ckpts, dict):
            # per method: a --checkpoint replaces only the methods it names
            overrides["checkpoints"] = {**file_ckpts, **overrides["checkpoints"]}
        data.update({k: v for k, v in overrides.items() if v is not None})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise UsageError(f"{p}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        missing = [k for k in ("model", "language", "output_dir") if k not in data]
        if missing:
            raise UsageError(f"{p}: missing key(s) {', '.join(missing)}")
        return cls(**data)


def run_dir(cfg: CompareConfig, method: str, seed: int) -> Path:
    return Path(cfg.output_dir) / "runs" / method / f"seed{seed}"


def say(msg: str) -> None:
    import sys

    print(f"langlock compare: {msg}", file=sys.stderr, flush=True)
