"""The LCB test sets on a fresh machine: `langlock lcb fetch` downloads (or copies) them into langlock's cache,
verified against the checksum manifest the project ships (`fetch`); `cached_test_sets()` finds them.

The benchmark's files are never part of langlock's tree: only their sha256 hashes are (`manifest.json`).
"""

from __future__ import annotations

from .fetch import FETCH_HINT, cached_test_sets, fetch, lcb_cache_dir, load_manifest

__all__ = ["FETCH_HINT", "cached_test_sets", "fetch", "lcb_cache_dir", "load_manifest"]
