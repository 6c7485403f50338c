"""The per-request arguments that switch LanguageLock on inside vLLM (`inference.vllm_lock`).

They travel in `SamplingParams.extra_args` (offline) or in an OpenAI request's `vllm_xargs`, which takes only
strings and numbers, so they are flat: `langlock_lock` (target language), `langlock_lock_mode`,
`langlock_lock_penalty`, `langlock_lock_entropy`, `langlock_lock_allow_latin` (0/1). Pure Python: the
`openai` client builds them without torch or vLLM.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import UsageError

MODES = ("suppress", "penalize")  #: the lock's modes (`inference.lock.LanguageLock`)

ARG_LANGUAGE = "langlock_lock"
ARG_MODE = "langlock_lock_mode"
ARG_PENALTY = "langlock_lock_penalty"
ARG_ENTROPY = "langlock_lock_entropy"
ARG_ALLOW_LATIN = "langlock_lock_allow_latin"
ARGS = (ARG_LANGUAGE, ARG_MODE, ARG_PENALTY, ARG_ENTROPY, ARG_ALLOW_LATIN)


@dataclass(frozen=True)
class LockSpec:
    """One request's lock: the `LanguageLock` options."""

    language: str
    mode: str = "suppress"
    penalty: float = 5.0
    entropy_threshold: float | None = None
    allow_latin: bool = False


def request_args(language: str, *, mode: str = "suppress", penalty: float = 5.0,
                 entropy_threshold: float | None = None, allow_latin: bool = False) -> dict:
    """The extra arguments that switch the lock on for one request (`SamplingParams.extra_args` or an OpenAI
    request's `vllm_xargs`), checked as the engine checks them; bad ones raise `UsageError`."""
    args = {ARG_LANGUAGE: language, ARG_MODE: mode, ARG_PENALTY: float(penalty), ARG_ALLOW_LATIN: int(allow_latin)}
    if entropy_threshold is not None:
        args[ARG_ENTROPY] = float(entropy_threshold)
    try:
        parse_args(args)
    except ValueError as err:
        raise UsageError(str(err)) from None
    return args


def parse_args(extra: dict | None) -> LockSpec | None:
    """A request's `LockSpec`, or None when it asks for no lock. Raises `ValueError` (vLLM turns it into an
    HTTP 400) for an unknown language, mode or a bad number."""
    from ..languages import check_language
    from .vocab import supported_languages

    if not extra or extra.get(ARG_LANGUAGE) in (None, ""):
        return None
    try:
        language = check_language(str(extra[ARG_LANGUAGE]))
        mode = str(extra.get(ARG_MODE, "suppress"))
        penalty = float(extra.get(ARG_PENALTY, 5.0))
        entropy = extra.get(ARG_ENTROPY)
        entropy = None if entropy in (None, "") else float(entropy)
        allow = extra.get(ARG_ALLOW_LATIN, 0)
        allow_latin = allow in (1, True) or str(allow).lower() in ("1", "true")
    except (UsageError, TypeError, ValueError) as err:
        raise ValueError(f"langlock lock: {err}") from None
    if language not in supported_languages():
        raise ValueError(f"langlock lock: no script rule for {language!r}; supported: "
                         f"{', '.join(supported_languages())}")
    if mode not in MODES:
        raise ValueError(f"langlock lock: unknown mode {mode!r}; choose one of {', '.join(MODES)}")
    if penalty < 0 or (entropy is not None and entropy < 0):
        raise ValueError("langlock lock: penalty and entropy threshold must be >= 0")
    return LockSpec(language, mode, penalty, entropy, allow_latin)


