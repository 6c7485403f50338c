"""One writer per run directory: an exclusive, OS-backed lock held for the life of a command.

Every command that writes a run directory (or an output file) takes `run_lock(path)` before it loads a model
or imports anything heavy, so launching the same command twice by mistake can never interleave two writers
in one `generations.jsonl`. The second process stops at once: `RunLockedError` (exit 2) with one line naming
the holder.

The lock is a sibling file ``<parent>/.<name>.langlock-lock`` (never inside the target: a merge output that
must not exist yet, or an output *file*, can be locked the same way). It is locked with `fcntl.flock`, so the
operating system releases it when the holder exits in any way, `kill -9` included; its content (JSON with
pid, host, command and start time) is only for the messages. On a clean exit the file is removed. A file
left by a killed process is *stale*: the next command locks it, prints a warning naming the dead holder and
takes it over. A leftover file written on another host is refused (its process cannot be checked from here;
the message says how to remove it).

Locks are re-entrant within one process: a library entry point (e.g. `run_bench`) may take the lock the CLI
already holds; it is released when the outermost holder releases it.

The CLI takes the lock centrally (`langlock.cli.main`): each subcommand declares where its output is with
``set_defaults(run_dir=SPEC)``, resolved by `resolve_run_dir`.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import json
import os
import socket
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .errors import UsageError

LOCK_SUFFIX = ".langlock-lock"


class RunLockedError(UsageError):
    """Another live process holds the run directory's lock (exit code 2)."""


def lock_path(target: str | os.PathLike) -> Path:
    """The lock file guarding `target` (a directory or a file): a hidden sibling of it."""
    p = Path(os.path.abspath(os.fspath(target)))
    return p.parent / f".{p.name}{LOCK_SUFFIX}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _read_owner(fd: int) -> dict:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        data = b""
        while chunk := os.read(fd, 65536):
            data += chunk
        owner = json.loads(data.decode("utf-8")) if data.strip() else {}
    except (OSError, ValueError):
        return {}
    return owner if isinstance(owner, dict) else {}


def _describe(owner: dict) -> str:
    if not owner:
        return "another process (its details are not written yet)"
    text = f"pid {owner.get('pid', '?')} on {owner.get('host', '?')}"
    if owner.get("command"):
        text += f" ({owner['command']})"
    if owner.get("started"):
        text += f", since {owner['started']}"
    return text


@dataclass
class RunLock:
    """A held lock; `release()` (or leaving `run_lock`'s block) gives it back."""

    target: Path
    path: Path
    fd: int
    depth: int = 1

    def release(self) -> None:
        with _REGISTRY_LOCK:
            self.depth -= 1
            if self.depth > 0:
                return
            _HELD.pop(self.path, None)
        with contextlib.suppress(FileNotFoundError):
            if os.path.samestat(os.fstat(self.fd), os.stat(self.path)):
                os.unlink(self.path)  # unlinked while still locked: no one can lock this inode after us
        os.close(self.fd)


_HELD: dict[Path, RunLock] = {}
_REGISTRY_LOCK = threading.Lock()


def acquire(target: str | os.PathLike, command: str | None = None) -> RunLock:
    """Lock `target` for this process or raise `RunLockedError` at once (never waits).

    Re-entrant: a second `acquire` of the same target in the same process returns the held lock.
    """
    path = lock_path(target)
    with _REGISTRY_LOCK:
        held = _HELD.get(path)
        if held is not None:
            held.depth += 1
            return held
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UsageError(f"cannot create {path.parent}: {err.strerror}") from None
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as err:
            raise UsageError(f"cannot create the lock file {path}: {err.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = _read_owner(fd)
            os.close(fd)
            raise RunLockedError(f"{target} is in use by {_describe(owner)}; wait for it to finish or stop it "
                                 f"(lock file {path})") from None
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(path))
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)  # the previous holder removed the file between our open and flock: try again
    owner = _read_owner(fd)
    host = socket.gethostname()
    if owner:
        pid = owner.get("pid")
        if owner.get("host") != host:
            os.close(fd)
            raise RunLockedError(f"{target} has a lock left by {_describe(owner)}, another host; if that process "
                                 f"is gone, delete {path}")
        if isinstance(pid, int) and pid != os.getpid() and _pid_alive(pid):
            state = "no longer holds it (pid reused?)"
        else:
            state = "is gone"
        print(f"langlock: warning: taking over the stale lock on {target}: {_describe(owner)} {state}",
              file=sys.stderr)
    info = {"pid": os.getpid(), "host": host,
            "command": command or " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
            "started": datetime.datetime.now().astimezone().isoformat(timespec="seconds")}
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, (json.dumps(info) + "\n").encode("utf-8"))
    lock = RunLock(Path(os.path.abspath(os.fspath(target))), path, fd)
    with _REGISTRY_LOCK:
        _HELD[path] = lock
    return lock


@contextlib.contextmanager
def run_lock(target: str | os.PathLike | None, command: str | None = None) -> Iterator[RunLock | None]:
    """Hold `target`'s lock for the block (no-op when `target` is None)."""
    if target is None:
        yield None
        return
    lock = acquire(target, command)
    try:
        yield lock
    finally:
        lock.release()


@contextlib.contextmanager
def wait_lock(target: str | os.PathLike, poll: float = 5.0, command: str | None = None) -> Iterator[RunLock]:
    """Hold `target`'s lock for the block, waiting (polling every `poll` seconds) while another process holds
    it: for a step that several cooperating workers may reach at once, where the second one must wait for the
    first and then find the step done."""
    said = False
    while True:
        try:
            lock = acquire(target, command)
            break
        except RunLockedError as err:
            if not said:
                print(f"langlock: waiting: {err}", file=sys.stderr, flush=True)
                said = True
            time.sleep(poll)
    try:
        yield lock
    finally:
        lock.release()


def held_here(path: str | os.PathLike) -> bool:
    """Whether this process holds the lock of `path` or of a folder above it (so no other writer is live)."""
    p = Path(os.path.abspath(os.fspath(path)))
    with _REGISTRY_LOCK:
        return any(p == lock.target or lock.target in p.parents for lock in _HELD.values())


def resolve_run_dir(args, spec) -> str | None:
    """Where a parsed command writes, from its ``run_dir`` default.

    `spec` is a callable ``f(args) -> path | None`` or a string of alternatives separated by ``|``, the first
    non-empty one winning: ``ATTR`` is the argument `args.ATTR`; ``config.KEY`` is KEY of the YAML file named
    by `args.config` after its ``KEY=VALUE`` overrides (`args.overrides`, when the command has them).
    """
    if spec is None:
        return None
    if callable(spec):
        value = spec(args)
        return None if value in (None, "") else os.fspath(value)
    for alt in str(spec).split("|"):
        alt = alt.strip()
        if alt.startswith("config."):
            config = getattr(args, "config", None)
            if not config:
                continue
            from .config_io import apply_overrides, read_yaml

            data = apply_overrides(read_yaml(config), list(getattr(args, "overrides", None) or []))
            value = data.get(alt[len("config."):])
        else:
            value = getattr(args, alt, None)
        if value not in (None, "") and isinstance(value, str | os.PathLike):
            return os.fspath(value)
    return None
