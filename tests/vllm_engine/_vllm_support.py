"""Helpers of the vLLM tests: the main environment's Python, a run of the engine into a dict, and a served
`langlock serve` (a free loopback port, waiting until it answers)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]

#: Eager engines (no torch.compile at start: well under a minute instead of minutes on a busy 2-core machine);
#: LANGLOCK_VLLM_COMPILE=1 tests the compiled engine.
EAGER = os.environ.get("LANGLOCK_VLLM_COMPILE", "") in ("", "0")


def main_python() -> str:
    """The main environment's interpreter (transformers 5.23), or this one when there is none."""
    env = os.environ.get("LANGLOCK_MAIN_PYTHON")
    if env:
        return env
    local = REPO / ".venv" / "bin" / "python"
    return str(local) if local.is_file() else sys.executable


def run_main(args: list[str], timeout: float = 900) -> subprocess.CompletedProcess:
    """Run the main environment's Python with this checkout's src first on the path."""
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run([main_python(), *args], env=env, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise AssertionError(f"{args[0]} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return proc


def vllm_run(gen, prompts, settings, locks=None) -> dict:
    """{key: Completion} from the engine."""
    done = {}
    gen.generate(prompts, settings, lambda c: done.__setitem__(c.key, c), locks=locks)
    return done


def report(config, line: str) -> None:
    """Print a RESULT line on the terminal even while pytest captures output."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(line)
    else:  # pragma: no cover
        print(line, file=sys.stderr)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url: str, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"langlock serve exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(2)
    raise AssertionError(f"server not ready after {timeout} s")


@contextlib.contextmanager
def langlock_server(args: list[str], log: Path, timeout: float):
    """`langlock serve ARGS --port P` in its own process group, yielding its base URL once `/v1/models` answers;
    stopped (SIGINT, then SIGKILL) on exit. A server that dies or never answers fails with its log's tail."""
    port = free_port()
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "langlock", "serve", *args, "--port", str(port),
                                 *(["--eager"] if EAGER else [])], stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True, env={**os.environ, "PYTHONPATH": str(REPO / "src")})
    try:
        try:
            wait_ready(f"http://127.0.0.1:{port}/v1/models", proc, timeout)
        except AssertionError:
            raise AssertionError(log.read_text()[-3000:]) from None
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(30)
