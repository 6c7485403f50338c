"""Kill-anywhere harness: run a `langlock` command as a subprocess, SIGKILL it at a chosen point, resume it, and
compare the final outputs with an uninterrupted run's.

A kill point is either a moment (a fraction of the uninterrupted run's wall time: during start-up, model load,
work or the final writes) or a progress mark (the watched append-only log holds K complete lines: after 0,
some or most of the work). With `torn`, half a JSON line is appended to the log after the kill, as a kill inside
`write()` leaves it. Results can be appended as JSON lines to ``$LANGLOCK_KILL_REPORT`` for the docs' figures.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(REPO / "src"), "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1",
       "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
TORN = b'{"key": "monolingual/x/ko/9", "id": "p9", "completion": "\xec\x95\x88'  # cut inside a UTF-8 character


@dataclass
class KillPoint:
    kind: str  # "time": seconds after start; "lines": when the watched log holds `value` complete lines
    value: float
    torn: bool = False


@dataclass
class Outcome:
    command: str
    point: KillPoint
    killed: bool  # False: the run finished before the kill point came
    exact: bool
    detail: str = ""


def langlock(argv: list[str], cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    res = subprocess.run([sys.executable, "-m", "langlock", *argv], env=ENV, cwd=cwd, capture_output=True,
                         text=True, timeout=timeout)
    if res.returncode != 0:
        raise AssertionError(f"langlock {' '.join(argv[:2])} failed ({res.returncode}): {res.stderr[-2000:]}")
    return res


def complete_lines(path: Path | None) -> int:
    if path is None or not path.exists():
        return 0
    return path.read_bytes().count(b"\n")


def kill_at(argv: list[str], cwd: Path, point: KillPoint, watch: Path | None, timeout: float = 600,
            progress=None) -> bool:
    """Start the command, SIGKILL it at `point`; True if it was killed (False: it had already finished).

    Progress is the watched log's complete lines, or `progress()` when given (e.g. finished checkpoints)."""
    progress = progress or (lambda: complete_lines(watch))
    proc = subprocess.Popen([sys.executable, "-m", "langlock", *argv], env=ENV, cwd=cwd,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t0 = time.time()
    while proc.poll() is None and time.time() - t0 < timeout:
        if point.kind == "time" and time.time() - t0 >= point.value:
            break
        if point.kind == "lines" and progress() >= point.value:
            break
        time.sleep(0.005)
    killed = proc.poll() is None
    if killed:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    if killed and point.torn and watch is not None and watch.exists():
        with open(watch, "ab") as fh:
            fh.write(TORN)
    return killed


def kill_points(rng: random.Random, n: int, wall: float, total_lines: int | None) -> list[KillPoint]:
    """`n` points: progress marks over [0, total) when there is a log (half of them torn), else moments."""
    pts = []
    for i in range(n):
        if total_lines and i % 2 == 0:
            pts.append(KillPoint("lines", rng.randrange(0, total_lines), torn=rng.random() < 0.5))
        else:
            pts.append(KillPoint("time", round(rng.uniform(0.0, wall), 3), torn=total_lines is not None
                                 and rng.random() < 0.5))
    return pts


def tree_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def leftovers(parent: Path) -> list[str]:
    """Temporaries and locks a run left next to its output (must be none after a successful resume)."""
    return sorted(p.name for p in parent.iterdir() if p.name.endswith((".tmp", ".langlock-lock")))


def report(outcome: Outcome) -> None:
    path = os.environ.get("LANGLOCK_KILL_REPORT")
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({**asdict(outcome), "point": asdict(outcome.point)}) + "\n")
