"""Write langlock's checksum manifest of the LCB test sets (`src/langlock/lcb/manifest.json`).

The project ships hashes, never the benchmark's data: one sha256 per test-set CSV (paths relative to the
`test_sets` folder), plus the public repository, commit and archive URL that `langlock lcb fetch` downloads
by default. Run it after checking a new upstream commit's files:

    python scripts/make_lcb_manifest.py ../shared/lcb/test_sets --commit 0cfdbb4
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from langlock.io_utils import write_json_atomic
from langlock.lcb.fetch import MANIFEST_PATH, REPOSITORY, file_sha256


def build_manifest(test_sets: Path, commit: str) -> dict:
    files = {p.relative_to(test_sets).as_posix(): file_sha256(p)
             for p in sorted(test_sets.rglob("*.csv")) if p.is_file()}
    if not files:
        raise SystemExit(f"{test_sets}: no CSV files (pass the benchmark's test_sets folder)")
    return {
        "name": "Language Confusion Benchmark test sets",
        "repository": REPOSITORY,
        "commit": commit,
        "url": f"https://github.com/{REPOSITORY}/archive/{commit}.zip",
        "license": "Apache-2.0",
        "files": files,
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("test_sets", type=Path, help="the benchmark's test_sets folder")
    ap.add_argument("--commit", required=True, help="the upstream commit these files come from")
    ap.add_argument("-o", "--output", type=Path, default=MANIFEST_PATH)
    args = ap.parse_args(argv)
    manifest = build_manifest(args.test_sets, args.commit)
    write_json_atomic(args.output, manifest)
    print(f"{args.output}: {len(manifest['files'])} files", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
