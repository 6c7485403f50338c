"""Error types shared by the library and the CLI.

`LanglockError` and its subclasses carry the process exit code the CLI uses, so library code can raise a
precise error and the command line prints one clear line and exits with the right status.
"""

from __future__ import annotations


class LanglockError(Exception):
    """Base class for errors the CLI reports as one line (exit code 1: a runtime failure).

    The message is always one line: control characters that came from the input (a newline inside a quoted
    CSV header, a NUL byte) are shown escaped, as Python writes them.
    """

    exit_code = 1

    def __str__(self) -> str:
        text = super().__str__()
        if text.isprintable():
            return text
        return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


class UsageError(LanglockError):
    """Bad arguments or configuration (exit code 2, argparse's convention)."""

    exit_code = 2


class InputError(LanglockError):
    """Unreadable, malformed or unsupported input data (exit code 2)."""

    exit_code = 2
