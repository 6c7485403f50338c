"""The optional LLM judge against a local OpenAI-compatible HTTP server (stdlib, on loopback), its reply
parsing and its per-answer cache."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from langlock.cli.main import main
from langlock.quality.llm_judge import LLMJudge, judge_prompt, parse_verdict

GOOD = "잠들기 전에 스마트폰을 멀리 두고 매일 같은 시간에 자고 일어나는 습관을 들이세요."
SALAD = "엉터리 습관을 시간에 두고 멀리 매일 자고 들이세요 스마트폰을 같은 전에."
GARBLED = "가나다라 마바사 아자차 카타파하 마지막 문장입니다 여기까지."
PROMPT = "밤에 더 빨리 잠들려면 어떻게 해야 하나요?"


class _Judge(BaseHTTPRequestHandler):
    """Flags answers containing 엉터리 as word salad, replies without JSON to 마지막, else valid."""

    requests: list = []

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append(body)
        text = body["messages"][-1]["content"]
        answer = text.split("ANSWER:")[1].split("Reply with")[0]
        if "엉터리" in answer:
            content = 'Verdict: {"valid": false, "reason": "word_salad"}'
        elif "마지막" in answer:
            content = "I cannot tell."
        else:
            content = '{"valid": true, "reason": "ok"}'
        reply = {"choices": [{"message": {"role": "assistant", "content": content}, "finish_reason": "stop"}]}
        data = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture()
def server():
    _Judge.requests = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Judge)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()
    httpd.server_close()


def test_parse_verdict():
    assert parse_verdict('{"valid": true, "reason": "ok"}') == (True, "ok")
    assert parse_verdict('ok so {"valid": false, "reason": "echo"} done') == (False, "echo")
    assert parse_verdict('{"valid": false, "reason": "weird"}') == (False, "other")
    assert parse_verdict('{"valid": "no"}') is None
    assert parse_verdict("no json") is None
    assert parse_verdict("{broken} {\"valid\": false}") == (False, "other")


def test_judge_prompt_names_language_and_parts():
    text = judge_prompt(PROMPT, GOOD, "ko")
    assert "Korean" in text and PROMPT in text and GOOD in text and '"valid"' in text
    assert "(not available)" in judge_prompt(None, GOOD, "ko")


def test_llm_judge_verdicts_and_cache(server, tmp_path):
    cache = tmp_path / "cache.json"
    judge = LLMJudge(server, "judge", cache)
    got = judge.verdicts([GOOD, SALAD, GARBLED], [PROMPT] * 3, ["ko"] * 3)
    assert got == [(True, "ok"), (False, "word_salad"), None]
    assert len(_Judge.requests) == 3
    assert _Judge.requests[0]["temperature"] == 0.0 and _Judge.requests[0]["model"] == "judge"
    again = LLMJudge(server, "judge", cache).verdicts([GOOD, SALAD, GARBLED], [PROMPT] * 3, ["ko"] * 3)
    assert again == got and len(_Judge.requests) == 3  # all from the cache
    LLMJudge(server, "other-model", cache).verdicts([GOOD], [PROMPT], ["ko"])
    assert len(_Judge.requests) == 4  # the cache is keyed by model


def test_score_with_llm_backend(server, tmp_path):
    base = {"task": "monolingual", "model": "m", "source": "s", "language": "ko", "prompt": PROMPT}
    rows = [{**base, "completion": t, "id": str(i)} for i, t in enumerate([GOOD, SALAD, GARBLED, PROMPT])]
    data = tmp_path / "in.jsonl"
    data.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "out"
    args = ["score", str(data), "--quality", "--judge-backend", "openai", "--judge-url", server,
            "--judge-model", "judge", "--judge-cache", str(tmp_path / "c.json"), "-o", str(out)]
    assert main(args) == 0
    samples = [json.loads(x) for x in (out / "samples.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [s["valid"] for s in samples] == [True, False, True, False]
    assert samples[1]["invalid_reasons"] == ["llm:word_salad"]
    assert samples[2]["not_judged"] == ["llm"]
    assert samples[3]["invalid_reasons"] == ["echo"]
    assert len(_Judge.requests) == 3  # the echo failed the cheap signals: never sent
    settings = json.loads((out / "settings.json").read_text())
    assert settings["judge_backend"] == "openai" and settings["judge_prompt_version"] == 1


def test_llm_backend_needs_url(tmp_path, capsys):
    data = tmp_path / "in.jsonl"
    data.write_text(json.dumps({"task": "t", "model": "m", "source": "s", "language": "ko", "completion": GOOD},
                               ensure_ascii=False) + "\n", encoding="utf-8")
    assert main(["score", str(data), "--quality", "--judge-backend", "openai", "--judge-model", "x"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--judge-url" in err[0]
