"""One writer per run directory: the lock module, the CLI's central locking, two real processes, stale locks."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

import pytest

from _lock_fixtures import ENV, REPO, start_holder, stop  # noqa: E402
from langlock.cli.main import build_parser, main
from langlock.errors import UsageError
from langlock.runlock import RunLockedError, acquire, lock_path, resolve_run_dir, run_lock


def langlock(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "langlock", *args], env=ENV, capture_output=True, text=True,
                          timeout=timeout, cwd=REPO)


def test_lock_is_reentrant_and_removed_on_release(tmp_path):
    run = tmp_path / "run"
    with run_lock(run) as outer:
        assert lock_path(run).is_file()
        assert not run.exists()  # the lock lives next to the target, which is not created
        owner = json.loads(lock_path(run).read_text())
        assert owner["pid"] == os.getpid() and owner["host"] == socket.gethostname()
        with run_lock(run) as inner:  # same process: fine
            assert inner is outer
        assert lock_path(run).is_file()  # still held by the outer block
    assert not lock_path(run).exists()
    with run_lock(None) as nothing:
        assert nothing is None


def test_second_process_is_refused_at_once_naming_the_holder(tmp_path):
    run = tmp_path / "run"
    holder = start_holder(run)
    try:
        t0 = time.time()
        # a model that does not exist: had the lock not been taken first, the error would be about the model
        res = langlock("bench", "--model", str(tmp_path / "no-such-model"), "--suite", "builtin-confusion",
                       "--limit", "1", "--no-progress", "--output-dir", str(run))
        elapsed = time.time() - t0
        assert res.returncode == 2, res.stderr
        lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
        assert len(lines) == 1, res.stderr
        assert f"pid {holder.pid}" in lines[0] and "holder-script" in lines[0] and "in use" in lines[0]
        assert elapsed < 30
        assert not run.exists()
        with pytest.raises(RunLockedError, match=f"pid {holder.pid}"):  # and in-process, as a library call
            acquire(run)
    finally:
        stop(holder)


def test_stale_lock_of_a_killed_process_is_taken_over_with_a_warning(tmp_path):
    src = tmp_path / "c.jsonl"
    src.write_text(json.dumps({"task": "monolingual", "model": "m", "source": "s", "language": "en",
                               "completion": "Hello there, how are you?"}) + "\n", encoding="utf-8")
    out = tmp_path / "scored"
    holder = start_holder(out)
    dead_pid = holder.pid
    stop(holder)  # SIGKILL: the OS drops the flock, the lock file with the dead pid stays
    assert json.loads(lock_path(out).read_text())["pid"] == dead_pid
    res = langlock("score", str(src), "--profile", "tlpo", "-o", str(out))
    assert res.returncode == 0, res.stderr
    assert "taking over the stale lock" in res.stderr and f"pid {dead_pid}" in res.stderr
    assert (out / "results.json").is_file()
    assert not lock_path(out).exists()  # released on exit


def test_leftover_lock_from_another_host_is_refused(tmp_path, capsys):
    run = tmp_path / "run"
    lock_path(run).write_text(json.dumps({"pid": 1, "host": "elsewhere.example", "command": "langlock bench"}))
    with pytest.raises(RunLockedError, match="another host"):
        acquire(run)
    assert main(["score", str(tmp_path / "x.jsonl"), "-o", str(run)]) == 2
    err = capsys.readouterr().err
    assert "another host" in err and "no such file" not in err  # refused before reading the input


def test_lock_error_is_a_usage_error():
    assert issubclass(RunLockedError, UsageError) and RunLockedError.exit_code == 2


@pytest.mark.parametrize("argv, expected", [
    (["bench", "--suite", "builtin-confusion", "-o", "R"], "R"),
    (["score", "f.jsonl"], None),
    (["score", "f.jsonl", "-o", "R"], "R"),
    (["data", "sample", "--prompts", "p", "--model", "m", "-o", "R/s.jsonl"], "R/s.jsonl"),
    (["data", "prompts", "--pool", "p", "--lang", "ko", "-o", "R/p.jsonl"], "R/p.jsonl"),
    (["data", "pairs", "--samples", "s", "--lang", "ko", "-o", "R"], "R"),
    (["merge", "layer-swap", "R"], "R"),
    (["merge", "soup", "--models", "a", "b", "-o", "R"], "R"),
    (["merge", "apply-adapter", "b", "a", "R"], "R"),
    (["merge", "analyze", "b", "e", "--out", "R"], "R"),
    (["sweep", "--model", "m", "--suite", "builtin-confusion", "-o", "R"], "R"),
    (["analyze", "--model", "m", "--suite", "builtin-confusion", "-o", "R"], "R"),
    (["demo", "-o", "R"], "R"),
    (["report", "a", "-o", "R.html"], "R.html"),
    (["compare", "--config", "C", "-o", "R"], "R"),
])
def test_every_writing_command_declares_its_run_dir(argv, expected):
    args = build_parser().parse_args(argv)
    assert resolve_run_dir(args, getattr(args, "run_dir", None)) == expected


def test_run_dir_from_a_yaml_config_and_its_overrides(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("model: m\noutput_dir: runs/a\n", encoding="utf-8")
    parser = build_parser()
    for argv, expected in ((["train", "tlpo", "--config", str(cfg)], "runs/a"),
                           (["train", "tlpo", "--config", str(cfg), "output_dir=runs/b"], "runs/b"),
                           (["train", "dpo", "--config", str(cfg)], "runs/a"),
                           (["compare", "--config", str(cfg)], "runs/a")):
        args = parser.parse_args(argv)
        assert resolve_run_dir(args, args.run_dir) == expected
    merge_cfg = tmp_path / "m.yaml"
    merge_cfg.write_text("method: soup\noutput: merged\n", encoding="utf-8")
    args = parser.parse_args(["merge", "soup", "--config", str(merge_cfg)])
    assert resolve_run_dir(args, args.run_dir) == "merged"
    args = parser.parse_args(["detect", "--lang", "ko"])
    assert resolve_run_dir(args, getattr(args, "run_dir", None)) is None


def test_training_run_is_locked_from_its_yaml_output_dir(tmp_path):
    out = tmp_path / "train-run"
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"model: no-such-model\noutput_dir: {out}\n", encoding="utf-8")
    holder = start_holder(out)
    try:
        res = langlock("train", "tlpo", "--config", str(cfg), "max_steps=1")
        assert res.returncode == 2 and f"pid {holder.pid}" in res.stderr, res.stderr
    finally:
        stop(holder)


def test_wait_lock_waits_for_the_holder_then_takes_it(tmp_path, capsys):
    import threading

    from langlock.runlock import wait_lock

    target = tmp_path / "shared-step"
    holder = start_holder(target)
    threading.Timer(1.0, stop, args=(holder,)).start()
    t0 = time.monotonic()
    with wait_lock(target, poll=0.1) as lock:
        waited = time.monotonic() - t0
        assert lock.target == target and holder.poll() is not None  # only after the holder is gone
    assert waited >= 0.9
    err = capsys.readouterr().err
    assert err.count("langlock: waiting:") == 1 and "holder-script" in err  # said once, naming the holder
    assert not lock_path(target).exists()


def test_adapters_study_takes_no_folder_lock_its_workers_lock_cells():
    args = build_parser().parse_args(["adapters", "study", "--config", "C"])
    assert resolve_run_dir(args, getattr(args, "run_dir", None)) is None
