"""Helpers of the vLLM tests: the main environment's Python and a run of the engine into a dict."""

from __future__ import annotations

import os
import subprocess
import sys
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
