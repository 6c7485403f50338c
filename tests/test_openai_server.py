"""The `openai` backend end to end against a real OpenAI-compatible server process: `transformers serve`
(transformers' own server, `pip install fastapi uvicorn openai`) on loopback, serving a tiny model built
by the test. Slow: the server takes 10-30 s to start on 2 cores. llama-cpp-python's server is covered by
`test_openai_llamacpp.py` where it is installed."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from langlock.bench.runner import BenchConfig, run_bench
from langlock.generate import GenerationError, GenerationSettings, PromptItem, make_generator
from langlock.generate.openai import OpenAIGenerator

from tiny_models import make_model_dir

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    from transformers.utils.import_utils import is_serve_available

    exe = Path(sys.executable).with_name("transformers")
    if not is_serve_available() or not exe.exists():
        pytest.skip("transformers serve needs fastapi, uvicorn and openai")
    model = make_model_dir(tmp_path_factory.mktemp("served") / "tiny")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    log = open(model.parent / "server.log", "wb")  # a file, not a pipe: a full pipe would stall the server
    proc = subprocess.Popen([str(exe), "serve", str(model), "--host", "127.0.0.1", "--port", str(port),
                             "--device", "cpu"], env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/v1"
    deadline = time.time() + 180
    while time.time() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"server exited: {(model.parent / 'server.log').read_text()[-800:]}")
        try:
            with urllib.request.urlopen(base + "/models", timeout=2):
                break
        except urllib.error.HTTPError:  # it answers (its /models scans the hub cache, which may be absent)
            break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("server did not start in 180 s")
    yield base, proc, model
    if proc.poll() is None:
        proc.terminate()
        proc.wait(timeout=30)
    log.close()


PROMPTS = [PromptItem("ko", "안녕하세요"), PromptItem("de", "Guten Tag, wie geht's?"), PromptItem("en", "hello")]


def collect(gen, prompts, settings):
    out = {}
    gen.generate(prompts, settings, lambda c: out.__setitem__(c.key, c))
    return out


def test_greedy_completions_equal_the_hf_backend(served):
    """Same model, same chat template, greedy: the server's completions are the hf backend's."""
    base, _, model = served
    greedy = GenerationSettings(max_new_tokens=8, temperature=0.0)
    remote = collect(OpenAIGenerator(base, str(model), concurrency=2, timeout=120), PROMPTS, greedy)
    local = collect(make_generator("hf", model=str(model), batch_size=1), PROMPTS, greedy)
    assert set(remote) == {p.key for p in PROMPTS}
    assert all(c.finish_reason in ("stop", "length") and c.n_tokens <= 8 for c in remote.values())
    assert {k: c.text for k, c in remote.items()} == {k: c.text for k, c in local.items()}


def test_bench_run_through_the_server(served, tmp_path):
    base, _, model = served
    cfg = BenchConfig(output_dir=str(tmp_path / "run"), model=str(model), model_label="tiny-served",
                      backend="openai", base_url=base, suite="builtin-confusion", langs="ko,de", limit=1,
                      concurrency=2, max_retries=1, progress=False)
    cfg.settings = GenerationSettings(max_new_tokens=8)
    summary = run_bench(cfg)
    assert summary["n_prompts"] == 4 and summary["generator"]["backend"] == "openai"
    assert (tmp_path / "run" / "results.json").exists() and (tmp_path / "run" / "report.md").exists()


def test_stopped_server_is_unreachable(served):
    base, proc, model = served
    proc.terminate()
    proc.wait(timeout=30)
    gen = OpenAIGenerator(base, str(model), max_retries=1, backoff=0.01, timeout=5)
    with pytest.raises(GenerationError, match="failed after 2 attempts"):
        collect(gen, PROMPTS[:1], GenerationSettings(max_new_tokens=4))
