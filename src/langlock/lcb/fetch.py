"""`fetch`: put the LCB test sets into langlock's cache, verified against the checksum manifest we ship.

The benchmark's data stays in its public repository (`REPOSITORY`); langlock ships only `manifest.json`
(sha256 of every test-set CSV, the upstream commit and its archive URL; written by
`scripts/make_lcb_manifest.py`). `fetch(source)` takes the test sets from

- an ``http(s)://`` or ``file://`` URL of a ``.zip`` / ``.tar.gz`` archive (default: the manifest's URL, the
  repository's archive at the pinned commit),
- a local archive file, or
- a local folder: the repository checkout (holding ``test_sets/``) or the ``test_sets`` folder itself,

copies exactly the files the manifest lists into ``<cache>/<commit>/test_sets/`` and records the version in
``<cache>/<commit>/fetch.json``. The cache is `cache_dir` if given, else ``$LANGLOCK_CACHE/lcb``, else
``~/.cache/langlock/lcb``. Everything is built in a temporary folder next to the target and moved into place
only when every file is present and its checksum matches, so a failed fetch (server unreachable, a tampered
or missing file, a bad folder) changes nothing and raises `InputError` with one line (exit 2).

`cached_test_sets()` is what `langlock bench --suite lcb` and the lm-eval tasks read; a missing or outdated
cache raises one line saying to run `langlock lcb fetch`.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import json
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path, PurePosixPath

from ..errors import InputError

REPOSITORY = "for-ai/language-confusion"
MANIFEST_PATH = Path(__file__).with_name("manifest.json")
INFO_NAME = "fetch.json"
#: An archive larger than this is not the benchmark (the repository's archive is a few MB).
MAX_DOWNLOAD_BYTES = 512 * 1024 * 1024
FETCH_HINT = "run `langlock lcb fetch` (or `langlock lcb fetch --from DIR` with a copy of the benchmark)"


def file_sha256(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def load_manifest(path: str | os.PathLike | None = None) -> dict:
    path = Path(path or MANIFEST_PATH)
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise InputError(f"LCB manifest {path} is unreadable: {err}") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict) or not manifest["files"]:
        raise InputError(f"LCB manifest {path} has no 'files' table")
    return manifest


def manifest_digest(manifest: dict) -> str:
    """Identity of a manifest's file table (what a cached copy must have been verified against)."""
    table = json.dumps(sorted(manifest["files"].items()), separators=(",", ":"))
    return hashlib.sha256(table.encode()).hexdigest()[:16]


def lcb_cache_dir(cache_dir: str | os.PathLike | None = None) -> Path:
    if cache_dir:
        return Path(cache_dir).expanduser()
    env = os.environ.get("LANGLOCK_CACHE")
    if env:
        return Path(env).expanduser() / "lcb"
    return Path.home() / ".cache" / "langlock" / "lcb"


def cached_test_sets(cache_dir: str | os.PathLike | None = None, manifest: dict | None = None) -> Path:
    """The cached, verified ``test_sets`` folder; `InputError` (one line, says how to fetch) if absent."""
    manifest = manifest or load_manifest()
    root = lcb_cache_dir(cache_dir) / manifest["commit"]
    try:
        info = json.loads((root / INFO_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise InputError(f"the LCB test sets are not in the cache {lcb_cache_dir(cache_dir)}: {FETCH_HINT}") from None
    if not isinstance(info, dict) or info.get("manifest") != manifest_digest(manifest):
        raise InputError(f"the cached LCB test sets in {root} are from another version: {FETCH_HINT}")
    return root / "test_sets"


def _is_url(source: str) -> bool:
    return source.split("://", 1)[0].lower() in ("http", "https", "file") and "://" in source


def _download(url: str, dest: Path, timeout: float) -> None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp, open(dest, "wb") as out:  # noqa: S310
            total = 0
            while chunk := resp.read(1 << 20):
                total += len(chunk)
                if total > MAX_DOWNLOAD_BYTES:
                    raise InputError(f"{url}: larger than {MAX_DOWNLOAD_BYTES >> 20} MB, not the LCB archive")
                out.write(chunk)
    except urllib.error.HTTPError as err:
        raise InputError(f"cannot download {url}: HTTP {err.code} {err.reason}") from None
    except urllib.error.URLError as err:
        raise InputError(f"cannot download {url}: server unreachable ({err.reason})") from None
    except (TimeoutError, OSError) as err:
        raise InputError(f"cannot download {url}: {err}") from None


def _relative(name: str) -> str | None:
    """Path of an archive member below its first ``test_sets`` component, or None."""
    parts = PurePosixPath(name.replace("\\", "/")).parts
    if "test_sets" not in parts:
        return None
    rest = parts[parts.index("test_sets") + 1:]
    return "/".join(rest) if rest else None


def _members(archive: Path, label: str):
    """(relative path, reader) of every regular file under ``test_sets/`` in a zip or tar archive."""
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                rel = None if info.is_dir() else _relative(info.filename)
                if rel:
                    yield rel, (lambda i=info: zf.open(i))
        return
    try:
        tf = tarfile.open(archive)  # any compression tarfile knows
    except (tarfile.TarError, OSError):
        raise InputError(f"{label}: not a .zip or .tar.gz archive") from None
    with tf:
        for member in tf:
            rel = _relative(member.name) if member.isfile() else None
            if rel:
                yield rel, (lambda m=member: tf.extractfile(m))


def _folder_files(folder: Path):
    root = folder / "test_sets" if (folder / "test_sets").is_dir() else folder
    if not any((root / t).is_dir() for t in ("monolingual", "crosslingual")):
        raise InputError(f"{folder}: not the benchmark's test sets (no test_sets/, monolingual/ or crosslingual/ "
                         "folder)")
    for p in sorted(root.rglob("*")):
        if p.is_file() and not p.is_symlink():
            yield p.relative_to(root).as_posix(), (lambda p=p: open(p, "rb"))


def _copy_verified(files, expected: dict, staging: Path, label: str) -> None:
    """Write the manifest's files from `files` (rel path, opener) into `staging`, checking every hash."""
    seen: set[str] = set()
    for rel, opener in files:
        if rel not in expected or rel in seen:
            continue
        target = staging / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        h = hashlib.sha256()
        with opener() as src, open(target, "wb") as out:
            while block := src.read(1 << 20):
                h.update(block)
                out.write(block)
        if h.hexdigest() != expected[rel]:
            raise InputError(f"{label}: checksum mismatch for test_sets/{rel} (expected sha256 "
                             f"{expected[rel][:12]}…, got {h.hexdigest()[:12]}…): not the benchmark's files")
        seen.add(rel)
    missing = sorted(set(expected) - seen)
    if missing:
        raise InputError(f"{label}: {len(missing)} of {len(expected)} test-set files missing "
                         f"(first: test_sets/{missing[0]})")


def fetch(source: str | os.PathLike | None = None, cache_dir: str | os.PathLike | None = None,
          manifest: dict | None = None, timeout: float = 60.0) -> dict:
    """Fetch, verify and install the test sets; returns the recorded info (with ``test_sets``: its path)."""
    manifest = manifest or load_manifest()
    src = os.fspath(source) if source is not None else manifest["url"]
    cache = lcb_cache_dir(cache_dir)
    final = cache / manifest["commit"]
    if not _is_url(src):
        path = Path(src).expanduser()
        if not path.exists():
            raise InputError(f"--from {src}: no such folder or archive (pass a folder, an archive or an "
                             "http(s) URL)")
        src = str(path.resolve())
    cache.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=cache))
    trash = None
    try:
        if _is_url(src):
            archive = staging / "download"
            _download(src, archive, timeout)
            files = _members(archive, src)
        elif Path(src).is_dir():
            archive, files = None, _folder_files(Path(src))
        else:
            archive, files = None, _members(Path(src), src)
        _copy_verified(files, manifest["files"], staging / "test_sets", src)
        if archive is not None:
            archive.unlink()
        info = {"version": manifest["commit"], "repository": manifest.get("repository"),
                "manifest": manifest_digest(manifest), "files": len(manifest["files"]), "source": src,
                "fetched": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")}
        (staging / INFO_NAME).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
        if final.exists():
            trash = Path(tempfile.mkdtemp(prefix=f".{final.name}.old.", suffix=".tmp", dir=cache))
            os.replace(final, trash / "old")
        os.replace(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if trash is not None and (trash / "old").exists() and not final.exists():
            os.replace(trash / "old", final)  # put the previous copy back
        raise
    finally:
        if trash is not None:
            with contextlib.suppress(OSError):
                shutil.rmtree(trash)
    return {**info, "test_sets": str(final / "test_sets")}
