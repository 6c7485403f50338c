"""`langlock lcb fetch [--from URL|DIR|ARCHIVE]` and `langlock lcb path`: the benchmark's test sets in the cache.

`fetch` downloads the public LCB test sets (default: the archive of github.com/for-ai/language-confusion at
the commit langlock's checksum manifest pins) or copies them from a local folder or archive, verifies every
file's sha256 against the manifest and installs them into the cache ($LANGLOCK_CACHE/lcb or
~/.cache/langlock/lcb, or --cache-dir) in one step: a failed fetch leaves the cache as it was.
Then `langlock bench --suite lcb ...` needs no --lcb-dir. `path` prints the cached test_sets folder.

Examples:
    langlock lcb fetch
    langlock lcb fetch --from ../shared/lcb
    langlock bench --model smollm2-135m-instruct --suite lcb --langs ko --limit 2 -o runs/smol-ko
"""

from __future__ import annotations

import argparse


def _cache(args):
    from ..lcb import lcb_cache_dir

    return lcb_cache_dir(args.cache_dir)


def register(sub) -> None:
    p = sub.add_parser("lcb", help="fetch the benchmark's test sets into the cache", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = p.add_subparsers(dest="lcb_action", metavar="ACTION")
    actions.required = True
    f = actions.add_parser("fetch", help="download or copy the test sets and verify their checksums",
                           description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    f.add_argument("--from", dest="source", metavar="URL|DIR",
                   help="archive URL, local archive or folder (default: the benchmark repository's archive)")
    f.add_argument("--cache-dir", help="where to install (default: $LANGLOCK_CACHE/lcb or ~/.cache/langlock/lcb)")
    f.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the server (default 60)")
    f.set_defaults(func=run_fetch, run_dir=_cache)
    q = actions.add_parser("path", help="print the cached test_sets folder")
    q.add_argument("--cache-dir", help="the cache (default: $LANGLOCK_CACHE/lcb or ~/.cache/langlock/lcb)")
    q.set_defaults(func=run_path)


def run_fetch(args) -> int:
    from ..lcb import fetch

    info = fetch(args.source, args.cache_dir, timeout=args.timeout)
    print(f"LCB test sets {info['version']} ({info['files']} files, checksums verified) -> {info['test_sets']}")
    return 0


def run_path(args) -> int:
    from ..lcb import cached_test_sets

    print(cached_test_sets(args.cache_dir))
    return 0
