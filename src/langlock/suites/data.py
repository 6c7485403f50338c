"""Access to the suites' package data (`langlock/data/suites/*.json`)."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources


@cache
def load_json(name: str) -> dict:
    return json.loads((resources.files("langlock") / "data" / "suites" / name).read_text(encoding="utf-8"))
