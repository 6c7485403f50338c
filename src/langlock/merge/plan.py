"""Merge plans: every output tensor's source models and weights, decided before any tensor is read.

A plan is built from checkpoint headers and configs only.  `check_compatible` refuses mismatched
architectures, configs, tensor names, shapes and tokenizers first, so a bad merge fails in milliseconds with
one clear line and nothing written.  `execute.run_plan` then streams the plan.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from ..errors import InputError, UsageError
from . import layer_swap, soup
from .io import DTYPE_NAMES, FLOAT_CODES, Checkpoint, itemsize

logger = logging.getLogger(__name__)

LAYER_RE = re.compile(r"(?:^|\.)(?:layers|h|blocks)\.(\d+)\.")
#: config keys that may differ between merge inputs (bookkeeping, not architecture)
ALLOWED_CONFIG_DIFFS = frozenset({
    "_name_or_path", "transformers_version", "torch_dtype", "dtype", "use_cache", "_commit_hash",
    "_attn_implementation_autoset", "output_hidden_states", "output_attentions", "return_dict",
    "pad_token_id",  # SFT recipes often set a pad token; it does not change any weight's meaning
})
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json", "merges.txt", "vocab.txt",
                   "added_tokens.json", "special_tokens_map.json")
EMBED_RE = re.compile(r"(?:embed_tokens|wte|word_embeddings)\.weight$")
HEAD_NAME = "lm_head.weight"


def layer_index(name: str) -> int | None:
    m = LAYER_RE.search(name)
    return int(m.group(1)) if m else None


@dataclass
class TensorPlan:
    """One output tensor: `op` is `copy` (one source), `linear` (weighted sum) or `ties` (base first)."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    op: str
    sources: list[tuple[int, float]]
    zone: str
    layer: int | None = None

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * itemsize(self.dtype)

    def to_json(self, labels: Sequence[str]) -> dict:
        return {"name": self.name, "shape": list(self.shape), "dtype": self.dtype, "op": self.op,
                "zone": self.zone, "layer": self.layer,
                "sources": [{"model": labels[m], "weight": w} for m, w in self.sources]}


@dataclass
class MergePlan:
    method: str
    models: list[Checkpoint]
    roles: list[str]
    tensors: list[TensorPlan]
    options: dict = field(default_factory=dict)
    config_source: int = 0

    @property
    def labels(self) -> list[str]:
        return [f"{r}={m.path}" for r, m in zip(self.roles, self.models)]

    def to_json(self) -> dict:
        return {"schema_version": 1, "method": self.method,
                "models": [{"role": r, "path": str(m.path)} for r, m in zip(self.roles, self.models)],
                "options": self.options, "tensors": [t.to_json(self.roles) for t in self.tensors]}


# ----------------------------------------------------------------------------------------------- validation

def _tokenizer_fingerprint(ckpt: Checkpoint) -> dict[str, str]:
    """sha256 of each tokenizer file's vocabulary-defining content (tokenizer.json: model + added tokens)."""
    out = {}
    for fname in TOKENIZER_FILES:
        path = ckpt.path / fname
        if not path.is_file():
            continue
        data = path.read_bytes()
        if fname == "tokenizer.json":
            try:
                tok = json.loads(data)
                data = json.dumps([tok.get("model"), tok.get("added_tokens")], sort_keys=True).encode()
            except json.JSONDecodeError as err:
                raise InputError(f"{path}: unreadable tokenizer ({err})") from err
        out[fname] = hashlib.sha256(data).hexdigest()
    return out


def check_compatible(models: Sequence[Checkpoint], check_tokenizers: bool = True) -> None:
    """Same architecture, same config (apart from bookkeeping keys), same tensors and shapes, same tokenizer."""
    ref = models[0]
    for other in models[1:]:
        for key in ("model_type", "architectures"):
            a, b = ref.config.get(key), other.config.get(key)
            if a != b:
                raise InputError(f"different architectures: {ref.path} has {key}={a}, {other.path} has {key}={b}")
        keys = (set(ref.config) | set(other.config)) - ALLOWED_CONFIG_DIFFS
        for key in sorted(keys):
            a, b = ref.config.get(key), other.config.get(key)
            if a != b:
                raise InputError(f"configs differ in {key!r}: {a!r} in {ref.path} vs {b!r} in {other.path}")
        missing = [n for n in ref.tensors if n not in other.tensors]
        extra = [n for n in other.tensors if n not in ref.tensors]
        if missing or extra:
            name, where = (missing[0], other.path) if missing else (extra[0], ref.path)
            raise InputError(f"tensor sets differ: {name!r} is missing from {where} "
                             f"({len(missing) + len(extra)} tensors differ)")
        for name, info in ref.tensors.items():
            o = other.tensors[name]
            if info.shape != o.shape:
                raise InputError(f"shape mismatch for {name!r}: {list(info.shape)} in {ref.path} vs "
                                 f"{list(o.shape)} in {other.path}")
            if (info.dtype in FLOAT_CODES) != (o.dtype in FLOAT_CODES):
                raise InputError(f"dtype mismatch for {name!r}: {info.dtype} vs {o.dtype}")
        if check_tokenizers:
            fa, fb = _tokenizer_fingerprint(ref), _tokenizer_fingerprint(other)
            for fname in sorted(set(fa) & set(fb)):
                if fa[fname] != fb[fname]:
                    raise InputError(f"tokenizers differ ({fname}) between {ref.path} and {other.path}; "
                                     "merging needs one shared vocabulary")
            if set(fa) != set(fb):
                logger.warning("tokenizer files differ in presence between %s and %s; compared only %s",
                               ref.path, other.path, sorted(set(fa) & set(fb)) or "nothing")


def count_layers(ckpt: Checkpoint) -> int:
    idx = [i for i in (layer_index(n) for n in ckpt.tensors) if i is not None]
    if not idx:
        raise InputError(f"{ckpt.path}: no decoder-layer tensors (…layers.<i>.…) found")
    n = max(idx) + 1
    cfg_n = ckpt.config.get("num_hidden_layers", ckpt.config.get("n_layer"))
    if cfg_n is not None and cfg_n != n:
        raise InputError(f"{ckpt.path}: config says {cfg_n} layers but the checkpoint has tensors for {n}")
    return n


def resolve_dtype(requested: str | None, source_code: str) -> str:
    """Output dtype code: `auto` keeps the source's dtype; non-float tensors are never converted."""
    if source_code not in FLOAT_CODES or requested in (None, "auto"):
        return source_code
    try:
        return DTYPE_NAMES[requested]
    except KeyError as err:
        raise UsageError(f"unknown --dtype {requested!r}; choose auto, {', '.join(sorted(DTYPE_NAMES))}") from err


def _tie_embeddings(plan: list[TensorPlan], config: dict) -> None:
    """With tied embeddings, a stored lm_head must be planned exactly like the input embedding."""
    if not config.get("tie_word_embeddings", False):
        return
    by_name = {t.name: t for t in plan}
    head = by_name.get(HEAD_NAME)
    embed = next((t for t in plan if EMBED_RE.search(t.name)), None)
    if head is not None and embed is not None:
        head.op, head.sources, head.zone = embed.op, list(embed.sources), embed.zone + " (tied)"


# --------------------------------------------------------------------------------------------------- plans

def plan_layer_swap(task: Checkpoint, lang: Checkpoint, bottom: int, top: int, transition_bottom: int = 0,
                    transition_top: int = 0, weights: tuple[float, float] | None = None,
                    non_layer: str = "average", dtype: str = "auto") -> MergePlan:
    """Layer swap: model 0 is the task expert, model 1 the language expert (see `layer_swap`)."""
    if non_layer not in ("average", "task", "lang"):
        raise UsageError(f"--non-layer must be average, task or lang, got {non_layer!r}")
    check_compatible([task, lang])
    n = count_layers(task)
    alphas = layer_swap.language_weights(n, bottom, top, transition_bottom, transition_top, weights)
    if weights is not None:
        w_task, w_lang = soup.normalized(weights)
    else:
        w_task = w_lang = 0.5
    tensors = []
    for name, info in task.tensors.items():
        out = resolve_dtype(dtype, info.dtype)
        i = layer_index(name)
        if i is None:
            zone = f"non_layer:{non_layer}"
            sources = {"task": [(0, 1.0)], "lang": [(1, 1.0)], "average": [(0, w_task), (1, w_lang)]}[non_layer]
        else:
            zone = layer_swap.zone_of(i, n, bottom, top, transition_bottom, transition_top)
            a = alphas[i]
            sources = [(1, 1.0)] if a == 1.0 else [(0, 1.0)] if a == 0.0 else [(0, 1.0 - a), (1, a)]
        if info.dtype not in FLOAT_CODES and len(sources) > 1:
            sources = [(0, 1.0)]
        op = "copy" if len(sources) == 1 else "linear"
        tensors.append(TensorPlan(name, info.shape, out, op, sources, zone, i))
    _tie_embeddings(tensors, task.config)
    options = {"bottom": bottom, "top": top, "transition_bottom": transition_bottom,
               "transition_top": transition_top, "weights": list(weights) if weights else None,
               "non_layer": non_layer, "dtype": dtype, "num_layers": n, "language_weights": alphas}
    return MergePlan("layer-swap", [task, lang], ["task", "lang"], tensors, options, config_source=0)


def plan_soup(models: Sequence[Checkpoint], weights: Sequence[float] | None = None,
              dtype: str = "auto") -> MergePlan:
    """Weighted average of N ≥ 2 models (uniform by default)."""
    if len(models) < 2:
        raise UsageError("soup needs at least two models")
    weights = list(weights) if weights is not None else [1.0] * len(models)
    if len(weights) != len(models):
        raise UsageError(f"{len(weights)} weights given for {len(models)} models")
    norm = soup.normalized(weights)
    check_compatible(models)
    tensors = []
    for name, info in models[0].tensors.items():
        if info.dtype in FLOAT_CODES:
            sources, op = [(k, w) for k, w in enumerate(norm)], "linear"
        else:
            sources, op = [(0, 1.0)], "copy"
        tensors.append(TensorPlan(name, info.shape, resolve_dtype(dtype, info.dtype), op, sources, "all",
                                  layer_index(name)))
    _tie_embeddings(tensors, models[0].config)
    roles = [f"model{k}" for k in range(len(models))]
    return MergePlan("soup", list(models), roles, tensors, {"weights": weights, "dtype": dtype})


def plan_ties(base: Checkpoint, experts: Sequence[Checkpoint], density: float = 0.2, lam: float = 1.0,
              trim: str = "paper", weights: Sequence[float] | None = None, majority: str = "sum",
              normalize: bool = True, dtype: str = "auto") -> MergePlan:
    """TIES over task vectors against `base` (model 0); `trim` is `paper` (whole model) or `mergekit`."""
    if not experts:
        raise UsageError("ties needs at least one expert besides the base")
    if trim not in ("paper", "mergekit"):
        raise UsageError(f"--trim must be paper or mergekit, got {trim!r}")
    if not 0 < density <= 1:
        raise UsageError(f"--density must be in (0, 1], got {density}")
    if majority not in ("sum", "count"):
        raise UsageError(f"--majority must be sum or count, got {majority!r}")
    if trim == "paper" and (weights is not None or majority != "sum" or not normalize):
        raise UsageError("--weights, --majority count and --no-normalize belong to --trim mergekit; the paper's "
                         "TIES is an unweighted mean of the agreeing task vectors")
    weights = list(weights) if weights is not None else [1.0] * len(experts)
    if len(weights) != len(experts):
        raise UsageError(f"{len(weights)} weights given for {len(experts)} experts")
    models = [base, *experts]
    check_compatible(models)
    tensors = []
    for name, info in base.tensors.items():
        if info.dtype in FLOAT_CODES:
            sources, op = [(0, 1.0)] + [(k + 1, w) for k, w in enumerate(weights)], "ties"
        else:
            sources, op = [(0, 1.0)], "copy"
        tensors.append(TensorPlan(name, info.shape, resolve_dtype(dtype, info.dtype), op, sources, "all",
                                  layer_index(name)))
    _tie_embeddings(tensors, base.config)
    roles = ["base"] + [f"expert{k}" for k in range(len(experts))]
    options = {"density": density, "lambda": lam, "trim": trim, "weights": weights, "majority": majority,
               "normalize": normalize, "dtype": dtype}
    return MergePlan("ties", models, roles, tensors, options, config_source=0)


def estimate_peak_bytes(plan: MergePlan) -> int:
    """Tensor buffers alive at once while executing (interpreter and library overhead not included).

    Per output tensor: `copy` holds the stored bytes (plus a float32 copy and the converted output when the
    dtype changes); `linear` holds an accumulator and one input in the compute dtype, plus the raw input
    and the converted output when they are not already in that dtype; `ties` holds the base, one delta per
    expert and the election buffers.
    """
    peak = 0
    for t in plan.tensors:
        numel = math.prod(t.shape)
        codes = [plan.models[m].tensors[t.name].dtype for m, _ in t.sources]
        raw = max(itemsize(c) for c in codes)
        c = 8 if "F64" in codes else 4
        widen = 0 if all(itemsize(code) == c and code in ("F32", "F64") for code in codes) else raw
        narrow = 0 if itemsize(t.dtype) == c and t.dtype in ("F32", "F64") else itemsize(t.dtype)
        if t.op == "copy":
            need = numel * (raw + (4 + itemsize(t.dtype) if t.dtype != codes[0] else 0))
        elif t.op == "linear":
            need = numel * (2 * c + widen + narrow)
        else:
            need = numel * (c * (len(t.sources) + 3) + widen + narrow)
        peak = max(peak, need)
    return peak
