"""Reading YAML configuration files: the one place that turns a file plus `KEY=VALUE` overrides into a dict.

Every command that takes `--config` (train, baselines, compare, data rules) goes through here, so a missing
file, malformed YAML, a non-mapping document or a bad override gives the same one-line error (exit 2).
"""

from __future__ import annotations

from pathlib import Path

from .errors import InputError, UsageError


def read_yaml_text(path: str | Path, what: str = "config file") -> tuple[dict, str]:
    """Parse `path` as a YAML mapping; return it with the file's text (saved verbatim by training runs)."""
    import yaml

    p = Path(path)
    if not p.is_file():
        raise InputError(f"{path}: no such {what}")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise InputError(f"{path}: not valid UTF-8 (byte offset {err.start})") from None
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as err:
        raise InputError(f"{path}: invalid YAML ({str(err).splitlines()[0]})") from None
    except RecursionError:
        raise InputError(f"{path}: invalid YAML (nested too deeply)") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: the {what} must be a mapping of keys to values")
    return data, text


def read_yaml(path: str | Path, what: str = "config file") -> dict:
    return read_yaml_text(path, what)[0]


def apply_overrides(data: dict, overrides: list[str]) -> dict:
    """Apply `KEY=VALUE` strings (values parsed as YAML scalars) to `data` in place; return it."""
    import yaml

    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"override {item!r} is not KEY=VALUE")
        try:
            data[key.strip()] = yaml.safe_load(value)
        except (yaml.YAMLError, RecursionError) as err:
            detail = str(err).splitlines()[0] if str(err) else "nested too deeply"
            raise UsageError(f"override {item!r}: value is not a YAML scalar or list ({detail})") from None
    return data
