"""Shared test fixtures: offline by force, paths to the shared LCB data.

Tests that need data from outside the repository (the LCB release next to it, the packaged SmolLM2 GGUF)
call `missing_required_data` when it is absent: a skip on a developer's machine, a failure under `CI`
(any value but empty/0/false/no), where a silent skip would hide that the parity tests never ran.
`LANGLOCK_LCB_DIR` overrides where the LCB data is looked for (default `../shared/lcb`).
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import NoReturn

import pytest

pytest_plugins = ["pytester"]  # tests/test_conftest.py runs the fixtures below in a child pytest

REPO = Path(__file__).resolve().parents[1]
LCB_DIR = Path(os.environ.get("LANGLOCK_LCB_DIR") or REPO.parent / "shared" / "lcb")

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    """Refuse any network connection that is not loopback, so an accidental download fails at once."""
    real_connect = socket.socket.connect

    def guarded(self, address):
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and (host.startswith("127.") or host in ("localhost", "::1")) or self.family == socket.AF_UNIX:
            return real_connect(self, address)
        raise OSError(f"network access blocked in tests: {address!r}")

    monkeypatch.setattr(socket.socket, "connect", guarded)
    yield


def in_ci() -> bool:
    """True when the `CI` environment variable is set to anything but empty, 0, false or no."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def missing_required_data(reason: str) -> NoReturn:
    """Skip the calling test because `reason` (some data it needs is absent); under CI, fail it instead."""
    if in_ci():
        pytest.fail(f"{reason} - CI is set, so this test must run: provide the data instead of skipping",
                    pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def lcb_dir() -> Path:
    if not (LCB_DIR / "outputs").is_dir():
        missing_required_data(f"shared LCB data not found at {LCB_DIR} (set LANGLOCK_LCB_DIR or put it in "
                              "../shared/lcb)")
    return LCB_DIR
