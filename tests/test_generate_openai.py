"""`openai` backend against OpenAI-compatible stub servers on loopback: success, concurrency limit, retries,
HTTP errors, an unreachable server, and a whole `bench` run through it."""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from langlock.bench.runner import BenchConfig, run_bench
from langlock.cli.main import main
from langlock.generate import GenerationError, GenerationSettings, PromptItem
from langlock.generate.openai import OpenAIGenerator


class Stub:
    """Behaviour switch + counters shared with the handler."""

    def __init__(self, mode="ok", fail_first=0):
        self.mode, self.fail_first = mode, fail_first
        self.lock = threading.Lock()
        self.in_flight = self.max_in_flight = self.requests = 0
        self.attempts: dict[str, int] = {}
        self.bodies: list[dict] = []
        self.auth: set[str | None] = set()


def make_handler(stub: Stub):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # quiet
            pass

        def _send(self, code, obj, headers=()):
            data = json.dumps(obj).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in headers:
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self):  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            user = body["messages"][-1]["content"]
            with stub.lock:
                stub.requests += 1
                stub.in_flight += 1
                stub.max_in_flight = max(stub.max_in_flight, stub.in_flight)
                stub.bodies.append(body)
                stub.auth.add(self.headers.get("Authorization"))
                n = stub.attempts[user] = stub.attempts.get(user, 0) + 1
            time.sleep(0.05)
            with stub.lock:  # counted down before replying, so the client cannot overtake the count
                stub.in_flight -= 1
            if self.path != "/v1/chat/completions":
                return self._send(404, {"error": {"message": "no such route"}})
            if stub.mode == "bad":
                return self._send(400, {"error": {"message": "model 'x' does not exist"}})
            if stub.mode == "always500" or n <= stub.fail_first:
                return self._send(503, {"error": "overloaded"}, [("Retry-After", "0")])
            self._send(200, {"choices": [{"index": 0, "message": {"role": "assistant", "content": f"echo: {user}"},
                                          "finish_reason": "length" if "long" in user else "stop"}],
                             "usage": {"completion_tokens": len(user.split())}})

    return Handler


@pytest.fixture
def server():
    servers = []

    def start(stub: Stub):
        srv = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(stub))
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
        return f"http://127.0.0.1:{srv.server_address[1]}/v1"

    yield start
    for srv in servers:
        srv.shutdown()
        srv.server_close()


PROMPTS = [PromptItem(f"k{i}", f"prompt number {i}" + (" long" if i == 3 else "")) for i in range(10)]


def collect(gen, prompts=PROMPTS, settings=None):
    out = {}
    gen.generate(prompts, settings or GenerationSettings(), lambda c: out.__setitem__(c.key, c))
    return out


def test_success_concurrency_limit_payload_and_key(server, monkeypatch):
    monkeypatch.setenv("MY_KEY", "secret")
    stub = Stub()
    gen = OpenAIGenerator(server(stub), "served-model", api_key_env="MY_KEY", concurrency=3)
    res = collect(gen, settings=GenerationSettings(seed=5))
    assert {k: c.text for k, c in res.items()} == {p.key: f"echo: {p.text}" for p in PROMPTS}
    assert res["k3"].finish_reason == "length" and res["k0"].finish_reason == "stop"
    assert res["k0"].n_tokens == 3
    assert 2 <= stub.max_in_flight <= 3
    assert stub.auth == {"Bearer secret"}
    body = stub.bodies[0]
    assert (body["model"], body["max_tokens"], body["temperature"], body["top_p"]) == ("served-model", 100, 0.3, 0.75)
    assert len({b["seed"] for b in stub.bodies}) == len(PROMPTS)  # per-prompt seeds


def test_an_answer_prefix_is_refused_before_any_request(server):
    from langlock.errors import UsageError

    stub = Stub()
    gen = OpenAIGenerator(server(stub), "m", concurrency=1)
    with pytest.raises(UsageError, match="local backend"):
        gen.generate([PromptItem("k", "hi", prefix="Hallo")], GenerationSettings(), lambda c: None)
    assert stub.requests == 0


def test_transient_errors_are_retried(server):
    stub = Stub(fail_first=2)
    gen = OpenAIGenerator(server(stub), "m", concurrency=4, max_retries=3, backoff=0.01)
    res = collect(gen)
    assert len(res) == len(PROMPTS)
    assert set(stub.attempts.values()) == {3}


def test_client_error_fails_at_once_with_the_server_message(server):
    stub = Stub(mode="bad")
    gen = OpenAIGenerator(server(stub), "x", concurrency=1, max_retries=4, backoff=0.01)
    done = {}
    with pytest.raises(GenerationError, match=r"refused the request \(HTTP 400: model 'x' does not exist\)"):
        gen.generate(PROMPTS, GenerationSettings(), lambda c: done.__setitem__(c.key, c))
    assert stub.requests == 1 and not done


def test_persistent_server_errors_give_up_after_retries(server):
    stub = Stub(mode="always500")
    gen = OpenAIGenerator(server(stub), "m", concurrency=2, max_retries=2, backoff=0.01)
    with pytest.raises(GenerationError, match="failed after 3 attempts .*HTTP 503"):
        collect(gen)
    assert max(stub.attempts.values()) == 3


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_server(tmp_path, capsys):
    url = f"http://127.0.0.1:{free_port()}/v1"
    gen = OpenAIGenerator(url, "m", max_retries=2, backoff=0.01, timeout=2)
    with pytest.raises(GenerationError, match="failed after 3 attempts .*(refused|Connection)"):
        collect(gen, PROMPTS[:1])
    out = tmp_path / "run"
    code = main(["bench", "--backend", "openai", "--base-url", url, "--model", "m", "--suite", "builtin-confusion",
                 "--langs", "ko", "--limit", "1", "--max-retries", "1", "--no-progress", "-o", str(out)])
    assert code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("langlock bench: error:") and "failed after 2 attempts" in err[-1]
    assert not (out / "results.json").exists()


def test_bench_run_through_openai_backend(server, tmp_path):
    stub = Stub(fail_first=1)
    cfg = BenchConfig(output_dir=str(tmp_path / "o"), model="served", backend="openai", base_url=server(stub),
                      suite="builtin-confusion", langs="ko,de", limit=2, max_retries=2, progress=False)
    summary = run_bench(cfg)
    assert summary["n_prompts"] == 8 and summary["generator"]["backend"] == "openai"
    lines = [json.loads(x) for x in (tmp_path / "o" / "generations.jsonl").read_text().splitlines()]
    assert all(row["completion"] == f"echo: {row['prompt']}" for row in lines)
    assert (tmp_path / "o" / "report.md").exists()


def test_bad_base_url_is_a_usage_error():
    from langlock.errors import UsageError

    with pytest.raises(UsageError, match="http"):
        OpenAIGenerator("127.0.0.1:8000", "m")
