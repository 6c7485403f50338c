"""The `openai` backend against a real OpenAI-compatible server: llama-cpp-python's server on the packaged
SmolLM2 GGUF, started by the test on loopback. Slow (and skipped without `llama_cpp`, which must be
compiled from source here: `pip install 'llama-cpp-python[server]'`). Set LANGLOCK_TEST_GGUF to use
another GGUF file."""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from langlock.bench.runner import BenchConfig, run_bench
from langlock.generate import GenerationError, GenerationSettings, PromptItem
from langlock.generate.openai import OpenAIGenerator

from conftest import missing_required_data

pytestmark = pytest.mark.slow


def _gguf() -> Path:
    if os.environ.get("LANGLOCK_TEST_GGUF"):
        return Path(os.environ["LANGLOCK_TEST_GGUF"])
    from langlock.errors import InputError
    from langlock.models.resolve import packaged_gguf

    try:
        return packaged_gguf("smollm2-135m-instruct")
    except InputError as err:
        missing_required_data(str(err))


@pytest.fixture(scope="module")
def llama_server():
    if importlib.util.find_spec("llama_cpp") is None or importlib.util.find_spec("uvicorn") is None:
        pytest.skip("llama-cpp-python[server] is not installed")
    gguf = _gguf()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"langlock-llama-server-{port}.log"
    log = open(log_path, "wb")  # a file, not a pipe: a full pipe would stall the server
    proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1",
                             "--port", str(port), "--n_ctx", "1024", "--n_threads", "2", "--model_alias", "smollm2"],
                            stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/v1"
    deadline = time.time() + 180
    while time.time() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"llama server exited ({proc.returncode}): {log_path.read_text(errors='replace')[-800:]}")
        try:
            with urllib.request.urlopen(base + "/models", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("llama server did not start within 180 s")
    yield base, proc
    if proc.poll() is None:
        proc.terminate()
        proc.wait(timeout=30)
    log.close()


PROMPTS = [PromptItem("ko", "한국의 수도는 어디인가요?"), PromptItem("de", "Wie heißt die Hauptstadt von Frankreich?"),
           PromptItem("zh", "请用一句话介绍熊猫。"), PromptItem("en", "Name two colours.")]


def collect(gen, prompts, settings):
    out = {}
    gen.generate(prompts, settings, lambda c: out.__setitem__(c.key, c))
    return out


def test_real_server_completions_are_seeded_and_complete(llama_server):
    base, _ = llama_server
    gen = OpenAIGenerator(base, "smollm2", concurrency=2, timeout=120, max_retries=1)
    s = GenerationSettings(max_new_tokens=24, seed=3)
    a = collect(gen, PROMPTS, s)
    b = collect(gen, PROMPTS, s)
    assert set(a) == {p.key for p in PROMPTS}
    assert all(c.text.strip() for c in a.values())
    assert all(c.finish_reason in ("stop", "length") and 1 <= c.n_tokens <= 24 for c in a.values())
    assert {k: c.text for k, c in a.items()} == {k: c.text for k, c in b.items()}


def test_real_server_rejects_a_prompt_beyond_its_context(llama_server):
    base, _ = llama_server
    gen = OpenAIGenerator(base, "smollm2", concurrency=1, timeout=120, max_retries=2, backoff=0.01)
    with pytest.raises(GenerationError, match=r"HTTP 4\d\d|HTTP 5\d\d"):
        collect(gen, [PromptItem("long", "word " * 3000)], GenerationSettings(max_new_tokens=8))


def test_bench_generates_through_the_real_server(llama_server, tmp_path):
    base, _ = llama_server
    cfg = BenchConfig(output_dir=str(tmp_path / "run"), model="smollm2", backend="openai", base_url=base,
                      suite="builtin-confusion", langs="ko,de", limit=1, concurrency=2, max_retries=1,
                      progress=False, generate_only=True)
    cfg.settings = GenerationSettings(max_new_tokens=16)
    assert run_bench(cfg)["n_generated_this_run"] == 4
    assert len((tmp_path / "run" / "generations.jsonl").read_text(encoding="utf-8").splitlines()) == 4


def test_stopped_server_is_unreachable(llama_server):
    base, proc = llama_server
    proc.terminate()
    proc.wait(timeout=30)
    gen = OpenAIGenerator(base, "smollm2", max_retries=1, backoff=0.01, timeout=5)
    with pytest.raises(GenerationError, match="failed after 2 attempts"):
        collect(gen, PROMPTS[:1], GenerationSettings(max_new_tokens=4))
