"""Merge configs: a flat YAML mapping per method, strict keys, CLI flags override file values.

Example (`langlock merge layer-swap --config swap.yaml OUT`)::

    method: layer-swap
    task_expert: ./experts/math-en
    lang_expert: ./experts/lang-sw
    bottom: 5
    top: 2
    transition_bottom: 1
    transition_top: 1
    non_layer: average

The resolved mapping (every field after defaults and overrides) is saved as `langlock_merge.yaml` next to
the merged model, and can be passed back with `--config` to repeat the merge.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

from ..errors import UsageError

REQUIRED = object()

COMMON: dict[str, tuple[type, Any]] = {
    "output": (str, None),
    "dtype": (str, "auto"),
    "max_shard_size": (str, "2GB"),
}

FIELDS: dict[str, dict[str, tuple[type, Any]]] = {
    "layer-swap": {
        "task_expert": (str, REQUIRED),
        "lang_expert": (str, REQUIRED),
        "bottom": (int, REQUIRED),
        "top": (int, REQUIRED),
        "transition_bottom": (int, 0),
        "transition_top": (int, 0),
        "weights": (list, None),
        "non_layer": (str, "average"),
    },
    "soup": {
        "models": (list, REQUIRED),
        "weights": (list, None),
    },
    "ties": {
        "base": (str, REQUIRED),
        "models": (list, REQUIRED),
        "weights": (list, None),
        "density": (float, 0.2),
        "lambda": (float, 1.0),
        "trim": (str, "paper"),
        "majority": (str, "sum"),
        "normalize": (bool, True),
    },
}


def load_config_file(path: str | Path) -> dict:
    """Read a YAML mapping; anything else is a usage error naming the file."""
    import yaml

    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise UsageError(f"config file {path} not found") from err
    except (OSError, UnicodeDecodeError, yaml.YAMLError, RecursionError) as err:
        raise UsageError(f"config file {path}: {err or 'nested too deeply'}".splitlines()[0]) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UsageError(f"config file {path}: expected a mapping of settings")
    return data


def _coerce(key: str, kind: type, value: Any) -> Any:
    if value is None:
        return None
    if kind is bool:
        if isinstance(value, bool):
            return value
    elif kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif kind is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    elif kind is str:
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            return str(value)
    elif kind is list:
        if isinstance(value, list | tuple):
            return [str(v) if isinstance(v, str) else v for v in value]
    raise UsageError(f"setting {key!r} must be a {kind.__name__}, got {value!r}")


def resolve(method: str, file_values: dict | None, cli_values: dict) -> dict:
    """defaults < config file < explicit CLI values (those not None); unknown keys get a closest-key hint."""
    fields = {**FIELDS[method], **COMMON}
    file_values = dict(file_values or {})
    declared = file_values.pop("method", method)
    if declared != method:
        raise UsageError(f"config is for method {declared!r}, not {method!r}")
    for key in file_values:
        if key not in fields:
            close = difflib.get_close_matches(str(key), list(fields), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise UsageError(f"unknown setting {key!r} for merge {method}{hint}")
    resolved: dict[str, Any] = {"method": method}
    for key, (kind, default) in fields.items():
        value = cli_values.get(key)
        if value is None:
            value = file_values.get(key, default)
        if value is REQUIRED:
            flag = "--" + key.replace("_", "-")
            raise UsageError(f"missing required setting {key!r} ({flag} or {key}: in the config)")
        resolved[key] = _coerce(key, kind, value)
    if resolved.get("weights") is not None:
        try:
            resolved["weights"] = [float(w) for w in resolved["weights"]]
        except (TypeError, ValueError) as err:
            raise UsageError(f"weights must be numbers, got {resolved['weights']!r}") from err
    return resolved


def parse_weights(text: str | None) -> list[float] | None:
    """'0.3,0.7' -> [0.3, 0.7]."""
    if text is None:
        return None
    try:
        return [float(x) for x in text.split(",") if x.strip()]
    except ValueError as err:
        raise UsageError(f"--weights expects comma-separated numbers, got {text!r}") from err
