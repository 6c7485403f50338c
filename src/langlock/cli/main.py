"""`langlock` console script: argparse with one module per subcommand.

Each module in `COMMAND_MODULES` defines `register(subparsers)` (adds its parser and sets
`func=run`) and must stay cheap to import: heavy libraries are imported inside the command's `run`.
Errors derived from `LanglockError` print one line and exit with their code (2 for usage and input errors).

A command that writes a run directory (or an output file) declares where with `set_defaults(run_dir=SPEC)`
(see `langlock.runlock.resolve_run_dir`); `main` takes that directory's exclusive lock before the command
runs (before any model is loaded) and releases it when it ends, so two processes never write one run.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

from .. import __version__
from ..errors import LanglockError
from ..runlock import resolve_run_dir, run_lock

#: Subcommand modules, in the order `langlock --help` lists them.
COMMAND_MODULES = (
    "langlock.cli.detect_cmd",
    "langlock.cli.score_cmd",
    "langlock.cli.bench_cmd",
    "langlock.cli.merge_cmd",
    "langlock.cli.demo_cmd",
    "langlock.cli.data_cmd",
    "langlock.cli.compare_cmd",
    "langlock.cli.train_cmd",
    "langlock.cli.report_cmd",
    "langlock.cli.analyze_cmd",
    "langlock.cli.sweep_cmd",
    "langlock.cli.steer_cmd",
    "langlock.cli.adapters_cmd",
    "langlock.cli.lcb_cmd",
    "langlock.cli.models_cmd",
    "langlock.cli.lmeval_cmd",
    "langlock.cli.serve_cmd",
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2, like every other usage error
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="langlock",
        description="Find and fix language confusion in large language models.",
    )
    parser.add_argument("--version", action="version", version=f"langlock {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        target = resolve_run_dir(args, getattr(args, "run_dir", None))
        with run_lock(target, command=" ".join(["langlock", *map(str, sys.argv[1:] if argv is None else argv)])):
            return int(args.func(args) or 0)
    except LanglockError as err:
        print(f"langlock {args.command}: error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print(f"langlock {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
