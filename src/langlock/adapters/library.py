"""The adapter library: a directory of PEFT LoRA adapters of ONE base model, indexed by ``library.json``.

Layout (the directory is the single source of truth; nothing else records what it holds)::

    LIB/library.json        the index: the base (model spec, resolved path, fingerprint) and one entry per adapter
    LIB/adapters/NAME/      a copy of the adapter (adapter_config.json + adapter_model.safetensors)

An entry holds the adapter's metadata: languages, method, rank, alpha, target modules, trainable parameters,
where it came from and, for a langlock run (``OUT/model`` + ``OUT/results.json`` of kind ``train``), the run's
manifest fields and the metrics of its finished evaluations (``OUT/*/results.json`` of kind ``evaluation``).

Base check: the *fingerprint* of a base is the sha256 of its ``config.json`` (volatile keys dropped) and of
every ``*.safetensors`` weight file, so two copies of one model agree and a fine-tune of it does not. An
adapter whose base (``base_model_name_or_path``, or ``--base``) has another fingerprint than the library's, or
whose LoRA matrices do not fit the library base's weight shapes, is refused with one `InputError` (exit 2).

Updates are atomic (`langlock.io_utils`): the adapter folder is built under a temporary name and moved in,
then the index is rewritten in one rename. The CLI holds the library's run lock while it writes.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import InputError, UsageError
from ..io_utils import atomic_dir, write_json_atomic
from ..languages import check_language
from ..models.adapter import adapter_base, adapter_dir, read_adapter_config

INDEX = "library.json"
SCHEMA = "langlock.adapters"
SCHEMA_VERSION = 1
ADAPTERS_DIR = "adapters"
BASE_NAME = "__base__"  # PEFT's name for "no adapter" in mixed batches
ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
#: config.json keys that differ between copies of one model
_VOLATILE = ("_name_or_path", "transformers_version", "torch_dtype", "dtype", "architectures_version")


@dataclass
class AdapterEntry:
    """One adapter of the library (the JSON form is `asdict`)."""

    name: str
    languages: list[str]
    method: str
    rank: int
    alpha: float
    target_modules: list[str]
    n_params: int
    source: str
    added: str
    run: dict = field(default_factory=dict)  # a langlock run's manifest fields (method, seed, steps, loss...)
    metrics: dict = field(default_factory=dict)  # evaluation folder -> its metrics (rates in [0, 1])
    merge: dict = field(default_factory=dict)  # for merged adapters: method, sources, weights, options

    @property
    def dir(self) -> str:
        return f"{ADAPTERS_DIR}/{self.name}"


_FP_CACHE: dict[tuple, str] = {}


def base_fingerprint(model_dir: str | Path) -> str:
    """sha256 (hex) of a model directory's config.json (volatile keys dropped) and its safetensors weights."""
    root = Path(model_dir)
    weights = sorted(root.glob("*.safetensors"))
    if not (root / "config.json").is_file() or not weights:
        raise InputError(f"{root}: not a safetensors model directory (config.json and *.safetensors expected)")
    key = tuple((str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns) for p in [root / "config.json", *weights])
    if key in _FP_CACHE:
        return _FP_CACHE[key]
    try:
        cfg = json.loads((root / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise InputError(f"{root / 'config.json'}: unreadable ({err})") from None
    digest = hashlib.sha256()
    digest.update(json.dumps({k: v for k, v in cfg.items() if k not in _VOLATILE}, sort_keys=True).encode())
    for w in weights:
        digest.update(w.name.encode())
        with open(w, "rb") as fh:
            while chunk := fh.read(1 << 22):
                digest.update(chunk)
    _FP_CACHE[key] = digest.hexdigest()
    return _FP_CACHE[key]


def tensor_shapes(files) -> dict[str, tuple[int, ...]]:
    """tensor name -> shape, from safetensors headers only (no tensor is read)."""
    from safetensors import safe_open

    out = {}
    for f in files:
        with safe_open(str(f), framework="pt") as fh:
            for k in fh.keys():
                out[k] = tuple(fh.get_slice(k).get_shape())
    return out


def check_fits(adapter: Path, base_dir: Path) -> int:
    """Check every LoRA matrix of `adapter` against the base's weight shapes; returns the adapter's parameter
    count. A missing target or a wrong shape is an `InputError` naming the first one."""
    lora = tensor_shapes([adapter / "adapter_model.safetensors"])
    base = tensor_shapes(sorted(base_dir.glob("*.safetensors")))
    for key, shape in lora.items():
        m = re.match(r"^base_model\.model\.(.+)\.lora_(A|B)(?:\.[^.]+)?\.weight$", key)
        if not m:
            continue
        target = f"{m.group(1)}.weight"
        if target not in base:
            raise InputError(f"{adapter}: adapter does not fit the library base {base_dir} (no weight {target})")
        out_f, in_f = base[target][0], base[target][-1]
        ok = shape[-1] == in_f if m.group(2) == "A" else shape[0] == out_f
        if not ok or len(base[target]) != 2:
            raise InputError(f"{adapter}: adapter does not fit the library base {base_dir} ({key} {list(shape)} "
                             f"against {target} {list(base[target])})")
    return sum(_numel(s) for s in lora.values())


def _numel(shape) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def parameter_count(files) -> int:
    """Parameters stored in safetensors `files` (from their headers; no tensor is read)."""
    return sum(_numel(s) for s in tensor_shapes(files).values())


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class AdapterLibrary:
    """A library directory (see the module docstring). `AdapterLibrary(path)` reads an existing one (an empty
    or missing directory is an empty library without a base yet)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.base: dict | None = None
        self.entries: dict[str, AdapterEntry] = {}
        index = self.path / INDEX
        if self.path.exists() and not self.path.is_dir():
            raise InputError(f"{self.path}: not a directory")
        if index.is_file():
            self._read(index)
        elif self.path.is_dir() and any(p for p in self.path.iterdir() if not p.name.startswith(".")):
            raise InputError(f"{self.path}: not an adapter library (no {INDEX}) and not empty")

    def _read(self, index: Path) -> None:
        try:
            data = json.loads(index.read_text(encoding="utf-8"))
            if not isinstance(data, dict) or data.get("schema") != SCHEMA:
                raise ValueError(f"not a {SCHEMA} index")
            if int(data.get("schema_version", 0)) > SCHEMA_VERSION:
                raise ValueError(f"schema version {data['schema_version']} is newer than this langlock's")
            self.base = data["base"]
            self.entries = {e["name"]: AdapterEntry(**e) for e in data.get("adapters", [])}
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise InputError(f"{index}: unreadable adapter library index ({err})") from None

    @classmethod
    def open(cls, path: str | Path) -> AdapterLibrary:
        """An existing, non-empty library (for routing and merging)."""
        lib = cls(path)
        if lib.base is None or not lib.entries:
            raise InputError(f"{path}: no adapter library here (add one with `langlock adapters add`)")
        return lib

    # -- reading ---------------------------------------------------------------------------------------------
    def get(self, name: str) -> AdapterEntry:
        if name not in self.entries:
            raise UsageError(f"no adapter {name!r} in {self.path} (it has: {', '.join(self.entries) or 'none'})")
        return self.entries[name]

    def adapter_path(self, name: str) -> Path:
        return self.path / self.get(name).dir

    def base_model(self) -> str:
        """The base model directory to load (the resolved path recorded when the library was made)."""
        assert self.base is not None
        return self.base["path"]

    def routing_table(self, names: list[str] | None = None) -> dict[str, str]:
        """language -> adapter name: for each language, the adapter covering it with the fewest languages (a
        per-language fix before a merged or joint adapter); two equally specific ones are a `UsageError`."""
        table: dict[str, tuple[int, str]] = {}
        for e in (self.get(n) for n in names) if names else self.entries.values():
            for lang in e.languages:
                best = table.get(lang)
                if best and best[0] == len(e.languages):
                    raise UsageError(f"{self.path}: adapters {best[1]!r} and {e.name!r} both cover {lang!r} with "
                                     f"{best[0]} language(s); routing needs one adapter per language")
                if best is None or len(e.languages) < best[0]:
                    table[lang] = (len(e.languages), e.name)
        return {lang: name for lang, (_, name) in sorted(table.items())}

    def to_dict(self) -> dict:
        return {"schema": SCHEMA, "schema_version": SCHEMA_VERSION, "base": self.base,
                "adapters": [asdict(e) for e in self.entries.values()]}

    # -- writing ---------------------------------------------------------------------------------------------
    def _save(self) -> None:
        write_json_atomic(self.path / INDEX, self.to_dict())

    def set_base(self, spec: str, cache_dir=None) -> None:
        from ..models.resolve import resolve_model

        resolved = resolve_model(spec, cache_dir).resolve()
        self.base = {"model": str(spec), "path": str(resolved), "fingerprint": base_fingerprint(resolved)}

    def check_base(self, spec: str, what: str, cache_dir=None) -> Path:
        """Resolve base `spec` of `what`; refuse it unless its fingerprint is the library's. Returns its path."""
        from ..models.resolve import resolve_model

        resolved = resolve_model(spec, cache_dir).resolve()
        assert self.base is not None
        fp = base_fingerprint(resolved)
        if fp != self.base["fingerprint"]:
            raise InputError(f"{what}: its base {spec} (fingerprint {fp[:12]}) is not this library's base "
                             f"{self.base['model']} (fingerprint {self.base['fingerprint'][:12]}); adapters of "
                             "different bases cannot be combined")
        return resolved

    def add(self, spec: str | Path, *, name: str | None = None, languages: list[str] | None = None,
            method: str | None = None, base: str | None = None, cache_dir=None, merge: dict | None = None,
            replace: bool = False, source: str | None = None) -> AdapterEntry:
        """Register the adapter at `spec` (a langlock run folder or a PEFT LoRA directory); see the module
        docstring. Validates everything before writing anything."""
        src = Path(spec)
        run, metrics = {}, {}
        if (src / "results.json").is_file() and adapter_dir(src / "model"):
            run, metrics = _run_metadata(src)
            adapter = src / "model"
        elif (src / "results.json").is_file() and (src / "model" / "config.json").is_file():
            raise InputError(f"{src}: a full fine-tuning run, not a LoRA adapter")
        else:
            adapter = adapter_dir(src)
            if adapter is None:
                raise InputError(f"{src}: neither a PEFT adapter directory (adapter_config.json) nor a langlock "
                                 "run folder (results.json + model/)")
        cfg = read_adapter_config(adapter)
        if str(cfg.get("peft_type", "")).upper() != "LORA":
            raise InputError(f"{adapter}: a {cfg.get('peft_type')} adapter; only LoRA adapters are supported")
        if cfg.get("use_dora"):
            raise InputError(f"{adapter}: a DoRA adapter; PEFT's mixed-batch routing does not support DoRA")
        base_spec = base or adapter_base(adapter)
        if self.base is None:
            self.set_base(base_spec, cache_dir)
        else:
            self.check_base(base_spec, str(adapter), cache_dir)
        n_params = check_fits(adapter, Path(self.base_model()))
        langs = [check_language(x) for x in (languages or ([run["language"]] if run.get("language") else []))]
        name = name or ("-".join(langs) if langs else src.name)
        if not _NAME.match(name) or name == BASE_NAME:
            raise UsageError(f"adapter name {name!r}: use letters, digits, '.', '_' or '-' (not {BASE_NAME})")
        if name in self.entries and not replace:
            raise UsageError(f"{self.path} already has an adapter named {name!r}; pass another --name")
        targets = cfg.get("target_modules") or []
        entry = AdapterEntry(
            name=name, languages=sorted(set(langs)), method=method or run.get("method") or "lora",
            rank=int(cfg.get("r", 0)), alpha=float(cfg.get("lora_alpha", 0)),
            target_modules=sorted(targets) if isinstance(targets, list) else [str(targets)], n_params=n_params,
            source=source or str(src.resolve()), added=_now(), run=run, metrics=metrics, merge=merge or {})
        with atomic_dir(self.path / entry.dir) as tmp:
            for f in ADAPTER_FILES:
                shutil.copyfile(adapter / f, tmp / f)
        self.entries[name] = entry
        self._save()
        return entry


_RUN_KEYS = ("method", "model", "language", "seed", "global_step", "train_loss", "num_rows", "data", "finished")


def _run_metadata(out: Path) -> tuple[dict, dict]:
    """(manifest fields, evaluation folder -> metrics) of a finished langlock run folder."""
    from ..evaluate.result import Metrics
    from ..results import read_results
    from ..train.runner import read_manifest

    manifest = read_manifest(out)
    run = {k: manifest[k] for k in _RUN_KEYS if manifest.get(k) is not None}
    subs = list(manifest.get("evaluations") or [])
    subs += [p.name for p in sorted(out.iterdir()) if p.is_dir() and p.name not in subs
             and (p / "results.json").is_file()]
    metrics = {}
    for sub in subs:
        f = out / sub / "results.json"
        if not f.is_file():
            continue
        data = read_results(f)
        if data["kind"] == "evaluation":
            metrics[sub] = {k: v for k, v in Metrics.from_dict(data["metrics"]).to_dict().items() if v is not None}
    return run, metrics
