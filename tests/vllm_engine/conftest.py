"""Fixtures of the vLLM tests (run by `make test-vllm` in `.venv-vllm`; see docs/vllm.md).

Without vLLM installed (the main environment) nothing here is collected; the `vllm` marker keeps them out
of the default suite too. One engine (SmolLM2-135M-Instruct, float32, LanguageLock processor loaded) serves
the whole session. The `hf` side of the parity tests runs in the main environment's Python
(`LANGLOCK_MAIN_PYTHON`, default `.venv/bin/python`), whose transformers is the project's, as a subprocess
of `_hf_reference.py`.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from _vllm_support import EAGER, HERE, REPO, main_python, report, run_main

# This folder is itself importable as a namespace package `vllm` (tests/ is on sys.path), so "is vLLM
# installed" means a real package with a file behind it.
_spec = importlib.util.find_spec("vllm")
if _spec is None or _spec.origin is None:
    collect_ignore_glob = ["test_*.py"]

MODEL = "smollm2-135m-instruct"

# A 135M model needs ~200 MB of KV cache for 4,096 tokens; 1 GiB keeps two engines (offline + served) small.
os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")


@pytest.fixture(scope="session")
def model_dir() -> str:
    """The converted SmolLM2 directory (converted once by the main environment, which has gguf)."""
    proc = subprocess.run([main_python(), "-c", "from langlock.models import resolve_model; "
                           f"print(resolve_model({MODEL!r}))"], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONPATH": str(REPO / "src")})
    if proc.returncode != 0:  # `make test-vllm` installs it: a missing model is a failure, not a skip
        raise AssertionError(f"{MODEL} is not available in {main_python()}: {proc.stderr.strip()[-500:]}")
    return proc.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="session")
def engine(model_dir, pytestconfig):
    """One vLLM engine for the session, with LanguageLock's processor loaded (requests switch it on)."""
    from langlock.generate.vllm import VLLMGenerator

    started = time.monotonic()
    gen = VLLMGenerator(model_dir, lock_processor=True, enforce_eager=EAGER)
    report(pytestconfig, f"\nRESULT vllm_engine_start_s={time.monotonic() - started:.1f} eager={EAGER}")
    yield gen
    gen.close()


@pytest.fixture(scope="session")
def hf_reference(model_dir):
    """`hf_reference(prompts, settings, locks=None)` -> {key: completion dict}, computed in the main env."""
    cache: dict[str, dict] = {}

    def run(prompts, settings, locks=None) -> dict:
        request = {"model": model_dir, "settings": settings.to_dict(), "locks": locks or {},
                   "prompts": [{"key": p.key, "text": p.text, "language": p.language} for p in prompts]}
        key = json.dumps(request, sort_keys=True)
        if key not in cache:
            with tempfile.TemporaryDirectory() as tmp:
                req, out = Path(tmp) / "request.json", Path(tmp) / "out.json"
                req.write_text(key, encoding="utf-8")
                run_main([str(HERE / "_hf_reference.py"), str(req), str(out)])
                cache[key] = json.loads(out.read_text(encoding="utf-8"))["completions"]
        return cache[key]

    return run
