"""`openai` backend: any OpenAI-compatible `/v1/chat/completions` server (vLLM, llama.cpp server, …).

Standard library only (urllib + threads). Requests run `concurrency` at a time; connection failures,
timeouts, HTTP 408/409/429 and 5xx are retried with exponential backoff (honouring `Retry-After`), other
HTTP errors fail at once. The API key is read from an environment variable, never from the command line.
Completions are reported in the calling thread as they finish, so the caller's log stays single-writer.
"""

from __future__ import annotations

import json
import os
import random
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

from ..errors import UsageError
from .base import Completion, GenerationError, GenerationSettings, Generator, PromptItem

RETRY_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})


def chat_url(base_url: str) -> str:
    """`http://host:port/v1` (or a full `/chat/completions` URL) -> the chat completions endpoint."""
    url = base_url.rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise UsageError(f"--base-url must start with http:// or https://, got {base_url!r}")
    return url if url.endswith("/chat/completions") else url + "/chat/completions"


class OpenAIGenerator(Generator):
    name = "openai"

    def __init__(self, base_url: str, model: str, *, api_key_env: str = "OPENAI_API_KEY", concurrency: int = 4,
                 timeout: float = 120.0, max_retries: int = 4, backoff: float = 1.0, max_backoff: float = 30.0,
                 locks: dict | None = None):
        from ..inference.lock_args import request_args

        self.url = chat_url(base_url)
        #: language -> LanguageLock options: that language's requests carry `vllm_xargs` that switch the lock
        #: on in a vLLM server started with its processor (`langlock serve`, docs/vllm.md)
        self.lock_args = {lang: request_args(lang, **(opts or {})) for lang, opts in (locks or {}).items()}
        self.model = model
        self.api_key_env = api_key_env
        self.api_key = os.environ.get(api_key_env) if api_key_env else None
        if concurrency < 1 or max_retries < 0 or timeout <= 0:
            raise UsageError("concurrency must be >= 1, retries >= 0 and timeout > 0")
        self.concurrency = concurrency
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self._stop = threading.Event()

    def describe(self) -> dict:
        return {"backend": self.name, "url": self.url, "model": self.model, "concurrency": self.concurrency,
                "timeout_s": self.timeout, "max_retries": self.max_retries,
                "api_key_env": self.api_key_env, "api_key_set": bool(self.api_key),
                **({"vllm_xargs": self.lock_args} if self.lock_args else {})}

    def payload(self, prompt: PromptItem, settings: GenerationSettings) -> dict:
        messages = [{"role": "user", "content": prompt.text}]
        if settings.system_prompt:
            messages.insert(0, {"role": "system", "content": settings.system_prompt})
        body = {"model": self.model, "messages": messages, "max_tokens": settings.max_new_tokens,
                "temperature": settings.temperature, "top_p": settings.top_p,
                "seed": prompt.seed_under(settings.seed) % (2**31), "n": 1, "stream": False}
        if prompt.language in self.lock_args:
            body["vllm_xargs"] = self.lock_args[prompt.language]
        return body

    def _post(self, body: bytes) -> dict:
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        req = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        with urllib.request.urlopen(req, timeout=self.timeout) as resp:
            return json.loads(resp.read().decode("utf-8"))

    def complete(self, prompt: PromptItem, settings: GenerationSettings) -> Completion:
        """One request with retries; raises `GenerationError` with one clear line when it gives up."""
        body = json.dumps(self.payload(prompt, settings)).encode("utf-8")
        last = ""
        for attempt in range(self.max_retries + 1):
            if self._stop.is_set():
                raise GenerationError("cancelled")
            retry_after = None
            try:
                return parse_reply(prompt.key, self._post(body))
            except urllib.error.HTTPError as err:
                detail = _error_detail(err)
                last = f"HTTP {err.code}{': ' + detail if detail else ''}"
                if err.code not in RETRY_STATUS:
                    raise GenerationError(f"{self.url} refused the request ({last})") from None
                retry_after = _retry_after(err)
            except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as err:
                reason = getattr(err, "reason", err)
                last = f"{type(reason).__name__}: {reason}"
            except (json.JSONDecodeError, UnicodeDecodeError) as err:
                raise GenerationError(f"{self.url} returned a reply that is not JSON ({err})") from None
            if attempt < self.max_retries:
                delay = retry_after if retry_after is not None else self.backoff * 2**attempt
                self._stop.wait(min(self.max_backoff, delay) * (1 + 0.25 * random.random()))
        raise GenerationError(f"{self.url} failed after {self.max_retries + 1} attempts (last error: {last})")

    def generate(self, prompts: Sequence[PromptItem], settings: GenerationSettings,
                 on_done: Callable[[Completion], None]) -> None:
        if any(p.prefix for p in prompts):
            raise UsageError("answer prefixes need a local backend (hf or vllm): a chat API renders the prompt itself")
        self._stop.clear()
        pending = list(prompts)
        error: BaseException | None = None
        with ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="langlock-openai") as pool:
            running = set()
            while pending or running:
                while pending and len(running) < self.concurrency and error is None:
                    running.add(pool.submit(self.complete, pending.pop(0), settings))
                if not running:
                    break
                done, running = wait(running, return_when=FIRST_COMPLETED)
                for fut in done:
                    try:
                        on_done(fut.result())
                    except BaseException as err:  # keep what already finished; stop starting new ones
                        if error is None:
                            error = err
                            self._stop.set()
                if error is not None:
                    pending.clear()
        if error is not None:
            raise error


def parse_reply(key: str, reply: dict) -> Completion:
    try:
        choice = reply["choices"][0]
        text = choice["message"]["content"] or ""
    except (KeyError, IndexError, TypeError):
        raise GenerationError(f"reply without choices[0].message.content: {json.dumps(reply)[:200]}") from None
    reason = choice.get("finish_reason") or "stop"
    usage = reply.get("usage") or {}
    return Completion(key, text, "length" if reason == "length" else "stop", usage.get("completion_tokens"))


def _error_detail(err: urllib.error.HTTPError) -> str:
    try:
        raw = err.read().decode("utf-8", "replace")
    except Exception:
        return ""
    try:
        msg = json.loads(raw).get("error")
        msg = msg.get("message") if isinstance(msg, dict) else msg
        raw = str(msg) if msg else raw
    except (json.JSONDecodeError, AttributeError):
        pass
    return " ".join(raw.split())[:200]


def _retry_after(err: urllib.error.HTTPError) -> float | None:
    value = err.headers.get("Retry-After") if err.headers else None
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None
