"""`RunConfig`: one training run of any method (TLPO or a baseline), and `PeftSettings`, the one LoRA setting.

A run is described the same way for every method: model, data, output directory, target language, seed,
budget, learning rate, LoRA and dtype are `RunConfig` fields; what only one method knows goes into
``method_args`` — `TLPOConfig` fields (plus ``limit``, ``prompt_task``) for ``tlpo``,
`langlock.baselines.trl_baselines.BaselineArgs` fields for ``sft``, ``dpo``, ``orpo``, ``grpo`` and ``tbpo``.

YAML recipes are *flat* mappings (`from_mapping`): every key is a `RunConfig` field, a LoRA key or a method
argument. The keys of the older recipes keep working:

    prompts -> data                    target_language -> language
    use_peft, lora -> peft.enabled     lora_r, lora_alpha, lora_dropout, lora_target_modules -> peft.*
    max_prompts -> limit (method_args)

An unknown key is a `UsageError` naming the closest valid key. `to_mapping` writes the flat form back
(``config.resolved.yaml``), which `from_mapping` reads again.
"""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import UsageError

METHODS = ("tlpo", "sft", "dpo", "orpo", "grpo", "tbpo")
DTYPES = ("float32", "bfloat16", "float16")
#: TLPO method arguments that select its prompts (not `TLPOConfig` fields)
TLPO_DATA_ARGS = ("limit", "prompt_task")
#: `TLPOConfig` fields that are `RunConfig` fields (set them there, never in method_args)
RUN_OWNED = ("output_dir", "seed", "max_steps", "per_device_train_batch_size", "learning_rate", "target_language")
#: old flat keys -> (new key, where): "run" = a RunConfig field, "peft" = a PeftSettings field, "args" = method_args
ALIASES = {
    "prompts": ("data", "run"),
    "target_language": ("language", "run"),
    "use_peft": ("enabled", "peft"),
    "lora": ("enabled", "peft"),
    "lora_r": ("r", "peft"),
    "lora_alpha": ("alpha", "peft"),
    "lora_dropout": ("dropout", "peft"),
    "lora_target_modules": ("target_modules", "peft"),
    "max_prompts": ("limit", "args"),
}


@dataclass
class PeftSettings:
    """LoRA for every method; `lora_config` is the one place a `peft.LoraConfig` is built.

    ``dropout`` is 0 by default for every method: with dropout the update runs the adapter in train mode
    while TLPO's exploration and reference run in eval mode (a noisy, non-zero KL at step 0).
    """

    enabled: bool = True
    r: int = 16
    alpha: int = 32
    dropout: float = 0.0
    target_modules: str | list[str] = "all-linear"

    def __post_init__(self):
        if not isinstance(self.enabled, bool):
            raise UsageError(f"use_peft/lora must be true or false, got {self.enabled!r}")
        if int(self.r) < 1:
            raise UsageError(f"lora_r must be >= 1, got {self.r}")
        if not 0 <= float(self.dropout) < 1:
            raise UsageError(f"lora_dropout must be in [0, 1), got {self.dropout}")

    def lora_config(self):
        """A `peft.LoraConfig` for a causal LM, or None when LoRA is off (full fine-tuning)."""
        if not self.enabled:
            return None
        from peft import LoraConfig

        return LoraConfig(task_type="CAUSAL_LM", r=int(self.r), lora_alpha=int(self.alpha),
                          lora_dropout=float(self.dropout), target_modules=self.target_modules)


@dataclass
class RunConfig:
    """One training run. ``learning_rate`` None means 1e-4 with LoRA and 5e-6 for full fine-tuning."""

    method: str
    model: str
    output_dir: str
    language: str | None = None
    data: str | None = None
    seed: int = 0
    max_steps: int = -1
    per_device_train_batch_size: int = 4
    learning_rate: float | None = None
    peft: PeftSettings = field(default_factory=PeftSettings)
    dtype: str = "float32"
    save_merged: bool = False
    method_args: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.method not in METHODS:
            raise UsageError(f"unknown method {self.method!r}; choose one of {', '.join(METHODS)}")
        if not self.model:
            raise UsageError("config key 'model' is required (a model directory, .gguf file or short name)")
        if not self.output_dir:
            raise UsageError("config key 'output_dir' is required")
        if isinstance(self.peft, dict):
            self.peft = _peft_from(self.peft)
        if self.dtype not in DTYPES:
            raise UsageError(f"dtype must be one of {', '.join(DTYPES)}, got {self.dtype!r}")
        if self.max_steps == 0:
            raise UsageError("the training budget is empty (max_steps 0)")
        if self.per_device_train_batch_size < 1:
            raise UsageError(f"per_device_train_batch_size must be >= 1, got {self.per_device_train_batch_size}")
        if self.method != "tlpo" and not self.data:
            raise UsageError(f"config key 'data' is required for {self.method} (a JSONL from `langlock data pairs`)")
        if self.method != "tlpo" and self.data and str(self.data).startswith("builtin-"):
            raise UsageError(f"{self.method} trains on a JSONL from `langlock data pairs`, not the suite {self.data}")
        if not isinstance(self.method_args, dict):
            raise UsageError("method_args must be a mapping")
        valid = method_arg_names(self.method)
        for key in self.method_args:
            if key in RUN_OWNED or key in _RUN_FIELDS:
                raise UsageError(f"method_args: {key!r} is a run setting; set it outside method_args")
            if key not in valid:
                raise UsageError(f"unknown config key {key!r} for {self.method}{_hint(key, valid | _flat_keys())}")

    @property
    def lr(self) -> float:
        """The learning rate in effect (the default depends on LoRA)."""
        if self.learning_rate is not None:
            return float(self.learning_rate)
        return 1e-4 if self.peft.enabled else 5e-6

    @classmethod
    def from_mapping(cls, data: dict, where: str = "config", method: str | None = None) -> RunConfig:
        """Build from a flat mapping (see the module docstring). `method` is the run's method when the mapping
        has no ``method`` key (the CLI subcommand); a mapping naming a different method is refused."""
        if not isinstance(data, dict):
            raise UsageError(f"{where}: expected a mapping of keys to values")
        data = dict(data)
        given = data.pop("method", None)
        if method is not None and given is not None and given != method:
            raise UsageError(f"{where} is a {given} config; run `langlock train {given}`")
        method = method or given
        if method is None:
            raise UsageError(f"{where}: missing key 'method' (one of {', '.join(METHODS)})")
        if method not in METHODS:
            raise UsageError(f"{where}: unknown method {method!r}; choose one of {', '.join(METHODS)}")
        run: dict = {}
        peft: dict = dict(data.pop("peft", None) or {})
        args: dict = dict(data.pop("method_args", None) or {})
        valid_args = method_arg_names(method)
        for key, value in data.items():
            new, kind = ALIASES.get(key, (key, None))
            if kind is None:
                kind = "run" if key in _RUN_FIELDS else "args" if key in valid_args else None
            if kind is None:
                raise UsageError(f"{where}: unknown config key {key!r}{_hint(key, valid_args | _flat_keys())}")
            target = {"run": run, "peft": peft, "args": args}[kind]
            if new in target and target[new] != value:
                raise UsageError(f"{where}: {key!r} and {new!r} disagree ({value!r} vs {target[new]!r})")
            target[new] = value
        try:
            return cls(method=method, **run, peft=_peft_from(peft), method_args=args)
        except TypeError as err:
            raise UsageError(f"{where}: {err}") from None

    @classmethod
    def from_yaml(cls, path: str | Path, overrides: list[str] | tuple[str, ...] = (), method: str | None = None
                  ) -> RunConfig:
        """Read a flat YAML recipe, apply ``KEY=VALUE`` overrides (`langlock.config_io`) and build the config."""
        from ..config_io import apply_overrides, read_yaml

        data = apply_overrides(read_yaml(path), list(overrides))
        return cls.from_mapping(data, str(path), method=method)

    def to_mapping(self) -> dict:
        """The flat form (`from_mapping` reads it back): run fields, ``lora*`` keys, then the method arguments."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in ("peft", "method_args")}
        out["learning_rate"] = self.lr
        out.update(lora=self.peft.enabled, lora_r=self.peft.r, lora_alpha=self.peft.alpha,
                   lora_dropout=self.peft.dropout, lora_target_modules=self.peft.target_modules)
        out.update(self.method_args)
        return out


_RUN_FIELDS = frozenset(f.name for f in dataclasses.fields(RunConfig)) - {"method", "peft", "method_args"}
_PEFT_FIELDS = frozenset(f.name for f in dataclasses.fields(PeftSettings))


def _peft_from(values: dict) -> PeftSettings:
    unknown = sorted(set(values) - _PEFT_FIELDS)
    if unknown:
        raise UsageError(f"peft: unknown key {unknown[0]!r}{_hint(unknown[0], _PEFT_FIELDS)}")
    return PeftSettings(**values)


def _flat_keys() -> set[str]:
    return set(_RUN_FIELDS) | set(ALIASES) | {"method"}


def _hint(key: str, valid) -> str:
    close = difflib.get_close_matches(key, sorted(valid), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def method_arg_names(method: str) -> set[str]:
    """The keys ``method_args`` accepts for `method`."""
    if method == "tlpo":
        from .tlpo_config import TLPOConfig

        return {f.name for f in dataclasses.fields(TLPOConfig) if f.init} - set(RUN_OWNED) | set(TLPO_DATA_ARGS)
    from ..baselines.trl_baselines import BaselineArgs

    return {f.name for f in dataclasses.fields(BaselineArgs)}
