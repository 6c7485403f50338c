"""`langlock lcb fetch`: from a folder, from a local HTTP server serving an archive of ../shared/lcb, the
checksum check (a tampered file), nothing half-written, and `bench --suite lcb` reading the cache."""

from __future__ import annotations

import functools
import http.server
import json
import shutil
import socket
import sys
import tarfile
import threading
import zipfile
from pathlib import Path

import pytest

from langlock.bench.prompts import load_lcb
from langlock.bench.runner import BenchConfig, collect_prompts
from langlock.cli.main import main
from langlock.errors import InputError
from langlock.lcb import cached_test_sets, fetch, load_manifest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LANGLOCK_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "lcb"


def _zip_of(test_sets: Path, dest: Path, prefix="language-confusion-0cfdbb4", tamper=None) -> Path:
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(f"{prefix}/README.md", "the benchmark\n")
        for p in sorted(test_sets.rglob("*.csv")):
            rel = p.relative_to(test_sets).as_posix()
            data = p.read_bytes()
            if rel == tamper:
                data = data.replace(b"a", b"b", 1)
            zf.writestr(f"{prefix}/test_sets/{rel}", data)
    return dest


@pytest.fixture
def server(tmp_path):
    """A loopback HTTP server over tmp_path/www, in a thread."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def _assert_same_files(cached: Path, test_sets: Path):
    files = sorted(p.relative_to(cached).as_posix() for p in cached.rglob("*") if p.is_file())
    assert files == sorted(load_manifest()["files"])
    for rel in files:
        assert (cached / rel).read_bytes() == (test_sets / rel).read_bytes()


def _no_leftovers(cache: Path):
    return [p.name for p in cache.iterdir() if p.name.startswith(".") and not p.name.endswith("-lock")] \
        if cache.exists() else []


def test_manifest_is_the_hashes_of_the_shared_test_sets(lcb_dir):
    sys.path.insert(0, str(REPO / "scripts"))
    try:
        from make_lcb_manifest import build_manifest
    finally:
        sys.path.remove(str(REPO / "scripts"))
    shipped = load_manifest()
    assert build_manifest(lcb_dir / "test_sets", shipped["commit"]) == shipped
    assert len(shipped["files"]) == 66 and shipped["repository"] == "for-ai/language-confusion"
    assert shipped["url"].startswith("https://github.com/for-ai/language-confusion/archive/")


def test_fetch_from_folder_then_bench_suite_lcb_reads_the_cache(lcb_dir, cache):
    with pytest.raises(InputError, match="langlock lcb fetch"):
        cached_test_sets()
    info = fetch(lcb_dir)  # the repository checkout (holds test_sets/)
    assert info["version"] == "0cfdbb4" and info["files"] == 66
    cached = cached_test_sets()
    assert cached == cache / "0cfdbb4" / "test_sets" and str(cached) == info["test_sets"]
    _assert_same_files(cached, lcb_dir / "test_sets")
    recorded = json.loads((cache / "0cfdbb4" / "fetch.json").read_text())
    assert recorded["source"] == str(lcb_dir.resolve()) and recorded["version"] == "0cfdbb4"
    fetch(lcb_dir / "test_sets")  # the test_sets folder itself; a refetch replaces the copy
    _assert_same_files(cached_test_sets(), lcb_dir / "test_sets")
    assert _no_leftovers(cache) == []
    got = collect_prompts(BenchConfig(output_dir="x", suite="lcb", langs="ko", limit=2))
    assert got == load_lcb(lcb_dir / "test_sets", langs="ko", limit=2) and len(got) == 2 * 4


def test_fetch_downloads_an_archive_from_a_local_http_server(lcb_dir, cache, server):
    root, url = server
    _zip_of(lcb_dir / "test_sets", root / "lcb.zip")
    info = fetch(f"{url}/lcb.zip")
    assert info["source"] == f"{url}/lcb.zip"
    _assert_same_files(cached_test_sets(), lcb_dir / "test_sets")
    assert _no_leftovers(cache) == []
    # the same through the command line, a .tar.gz this time
    with tarfile.open(root / "lcb.tar.gz", "w:gz") as tf:
        tf.add(lcb_dir / "test_sets", arcname="language-confusion-main/test_sets")
    assert main(["lcb", "fetch", "--from", f"{url}/lcb.tar.gz"]) == 0
    _assert_same_files(cached_test_sets(), lcb_dir / "test_sets")


def test_tampered_file_is_a_checksum_error_and_changes_nothing(lcb_dir, cache, server, tmp_path, capsys):
    root, url = server
    fetch(lcb_dir)
    before = (cached_test_sets() / "crosslingual/okapi/ko.csv").read_bytes()
    _zip_of(lcb_dir / "test_sets", root / "bad.zip", tamper="crosslingual/okapi/ko.csv")
    with pytest.raises(InputError, match=r"checksum mismatch for test_sets/crosslingual/okapi/ko\.csv"):
        fetch(f"{url}/bad.zip")
    folder = tmp_path / "copy"
    shutil.copytree(lcb_dir / "test_sets", folder / "test_sets")
    (folder / "test_sets/monolingual/aya/ar.csv").write_text("prompt,source,language\nhi,aya,ar\n")
    assert main(["lcb", "fetch", "--from", str(folder)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "checksum mismatch for test_sets/monolingual/aya/ar.csv" in err
    (folder / "test_sets/monolingual/aya/ar.csv").unlink()
    with pytest.raises(InputError, match="1 of 66 test-set files missing"):
        fetch(folder)
    assert (cached_test_sets() / "crosslingual/okapi/ko.csv").read_bytes() == before  # the good copy survived
    assert _no_leftovers(cache) == []


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("make_args, expect", [
    (lambda url, tmp: ["--from", f"http://127.0.0.1:{_closed_port()}/lcb.zip"], "server unreachable"),
    (lambda url, tmp: ["--from", f"{url}/missing.zip"], "HTTP 404"),
    (lambda url, tmp: ["--from", f"{url}/notzip.zip"], "not a .zip or .tar.gz archive"),
    (lambda url, tmp: ["--from", str(tmp / "nope")], "no such folder or archive"),
    (lambda url, tmp: ["--from", str(tmp / "www")], "not the benchmark's test sets"),
])
def test_bad_sources_are_one_line_exit_2(cache, server, tmp_path, capsys, make_args, expect):
    root, url = server
    (root / "notzip.zip").write_bytes(b"<html>not an archive</html>")
    assert main(["lcb", "fetch", *make_args(url, tmp_path), "--timeout", "5"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and expect in err and err.startswith("langlock lcb: error:")
    assert not (cache / "0cfdbb4").exists() and _no_leftovers(cache) == []


def test_bench_suite_lcb_without_cache_says_to_fetch(cache, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["bench", "--backend", "file", "--completions", str(tmp_path / "c.jsonl"), "--suite", "lcb",
                 "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "run `langlock lcb fetch`" in err
    assert not out.exists()
    assert main(["lcb", "path"]) == 2 and "langlock lcb fetch" in capsys.readouterr().err


def test_lcb_path_prints_the_cached_folder(lcb_dir, cache, capsys):
    fetch(lcb_dir)
    assert main(["lcb", "path"]) == 0
    assert capsys.readouterr().out.strip() == str(cache / "0cfdbb4" / "test_sets")
