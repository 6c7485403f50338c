"""`langlock serve` end to end: a vLLM OpenAI-compatible server (this environment) with LanguageLock's
processor, driven by `langlock bench --backend openai [--lock hi]` from the main environment, on loopback
only and bounded in time. The served greedy completions equal the `hf` backend's, with and without the lock."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
from _vllm_support import EAGER, langlock_server, report, run_main

from langlock.errors import UsageError
from langlock.generate import GenerationSettings, PromptItem
from langlock.generate.vllm import serve_command, served_name
from langlock.suites import load_suite

pytestmark = pytest.mark.vllm

START_TIMEOUT = 900  # seconds: the engine compiles its model on a cold cache
#: Hindi cross-lingual prompts: SmolLM2 answers two of the first three in English, so the lock has work to do
#: (its ko answers are Hangul already and the lock changes nothing there).
LANG = "hi"
BENCH = ["--suite", "builtin-confusion", "--langs", LANG, "--task", "crosslingual", "--limit", "3",
         "--temperature", "0", "--max-new-tokens", "24", "--no-progress"]


def test_serve_command_line():
    cmd = serve_command("/m", name="smol", port=8123, python="py")
    assert cmd[:5] == ["py", "-m", "vllm.entrypoints.openai.api_server", "--model", "/m"]
    assert cmd[cmd.index("--served-model-name") + 1] == "smol" and cmd[cmd.index("--host") + 1] == "127.0.0.1"
    assert cmd[cmd.index("--logits-processors") + 1].startswith("langlock.inference.vllm_lock:LanguageLock")
    assert "--logits-processors" not in serve_command("/m", name="s", lock=False)
    assert served_name("/x/SmolLM2-135M.gguf") == "SmolLM2-135M" and served_name("smollm2-135m-instruct/")
    with pytest.raises(UsageError):
        serve_command("/m", name="s", port=0)


def test_openai_client_sends_the_lock_per_language():
    from langlock.generate.openai import OpenAIGenerator

    gen = OpenAIGenerator("http://127.0.0.1:1/v1", "smol", locks={"ko": {"entropy_threshold": 1.0}})
    settings = GenerationSettings()
    ko = gen.payload(PromptItem("a", "x", language="ko"), settings)
    assert ko["vllm_xargs"] == {"langlock_lock": "ko", "langlock_lock_mode": "suppress",
                                "langlock_lock_penalty": 5.0, "langlock_lock_allow_latin": 0,
                                "langlock_lock_entropy": 1.0}
    assert "vllm_xargs" not in gen.payload(PromptItem("b", "x", language="en"), settings)
    with pytest.raises(UsageError):
        OpenAIGenerator("http://127.0.0.1:1/v1", "smol", locks={"ko": {"mode": "nope"}})


def test_serve_bad_model_is_one_line_exit_2(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "langlock", "serve", "--model", str(tmp_path / "nope"),
                           "--dry-run"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and proc.stderr.strip().count("\n") == 0 and "does not exist" in proc.stderr


@pytest.fixture(scope="module")
def server(model_dir, tmp_path_factory, pytestconfig):
    started = time.monotonic()
    with langlock_server(["--model", model_dir, "--name", "smol"], tmp_path_factory.mktemp("serve") / "server.log",
                         START_TIMEOUT) as url:
        report(pytestconfig, f"\nRESULT vllm_serve_start_s={time.monotonic() - started:.1f} eager={EAGER}")
        yield url


def bench(base_url: str, out, *extra) -> dict:
    run_main(["-m", "langlock", "bench", "--backend", "openai", "--base-url", base_url, "--model", "smol",
              "--concurrency", "2", "--timeout", "120", "--max-retries", "1", *BENCH, *extra, "-o", str(out)],
             timeout=600)
    rows = [json.loads(line) for line in (out / "generations.jsonl").read_text(encoding="utf-8").splitlines()]
    assert (out / "results.json").is_file()
    return {r["key"]: r["completion"] for r in rows}


def test_bench_openai_against_served_lock(server, tmp_path, hf_reference):
    plain = bench(server, tmp_path / "plain")
    locked = bench(server, tmp_path / "locked", "--lock", LANG)
    prompts = load_suite("builtin-confusion", "crosslingual", LANG, 3)
    items = [PromptItem(p.key, p.prompt, language=p.language) for p in prompts]
    assert set(plain) == set(locked) == {p.key for p in items}
    settings = GenerationSettings(max_new_tokens=24, temperature=0)
    ref_plain = hf_reference(items, settings)
    ref_locked = hf_reference(items, settings, {LANG: {}})
    # the server decodes what the hf backend decodes: without the lock, and with it switched on per request.
    # At the length limit a character may be cut: hf's decode ends in U+FFFD, vLLM's detokenizer drops it.
    def same(served, ref):
        return sum(served[k] == ref[k]["text"].rstrip("\ufffd") for k in served)

    assert same(plain, ref_plain) >= 2, (plain, ref_plain)
    assert same(locked, ref_locked) >= 2, (locked, ref_locked)
    assert any(ref_plain[k]["text"] != ref_locked[k]["text"] for k in plain)  # the lock changes something here
    run = json.loads((tmp_path / "locked" / "run.json").read_text())
    assert run["identity"]["locks"] == {LANG: {"mode": "suppress", "entropy_threshold": None}}
    assert run["generator"]["vllm_xargs"][LANG]["langlock_lock"] == LANG
