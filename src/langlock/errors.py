"""Error types shared by the library and the CLI.

`LanglockError` and its subclasses carry the process exit code the CLI uses, so library code can raise a
precise error and the command line prints one clear line and exits with the right status.
"""

from __future__ import annotations


class LanglockError(Exception):
    """Base class for errors the CLI reports as one line (exit code 1: a runtime failure)."""

    exit_code = 1


class UsageError(LanglockError):
    """Bad arguments or configuration (exit code 2, argparse's convention)."""

    exit_code = 2


class InputError(LanglockError):
    """Unreadable, malformed or unsupported input data (exit code 2)."""

    exit_code = 2
