"""Where a killed training run resumes: its last *complete* checkpoint.

transformers' `get_last_checkpoint` takes the highest-numbered ``checkpoint-N`` folder even when a kill cut its
writing short, and `resume_from_checkpoint=True` fails when there is none yet. A checkpoint is complete when
its ``trainer_state.json`` (which the Trainer writes last, after the weights, optimizer, scheduler and RNG
states) parses; `last_complete_checkpoint` returns the newest such folder, or None (start from scratch).
"Never loses finished work" therefore means, for training: nothing before the last finished checkpoint.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")


def is_complete_checkpoint(path: Path) -> bool:
    state = path / "trainer_state.json"
    try:
        return isinstance(json.loads(state.read_text(encoding="utf-8")), dict)
    except (OSError, ValueError):
        return False


def last_complete_checkpoint(output_dir: str | os.PathLike) -> str | None:
    root = Path(output_dir)
    if not root.is_dir():
        return None
    found = sorted(((int(m.group(1)), p) for p in root.iterdir()
                    if p.is_dir() and (m := _CHECKPOINT.match(p.name))), reverse=True)
    return next((str(p) for _, p in found if is_complete_checkpoint(p)), None)


def resolve_resume(resume, output_dir: str | os.PathLike) -> str | None:
    """A ``resume_from_checkpoint`` setting -> what `Trainer.train` gets. Unset, True, "true", "auto" or "yes":
    the last complete checkpoint of `output_dir` (None when there is none yet: start from scratch); False,
    "false", "no" or "none": None; a path: that checkpoint (`InputError` when it is no directory)."""
    if resume is None or resume is True or (isinstance(resume, str) and resume.lower() in ("true", "auto", "yes")):
        return last_complete_checkpoint(output_dir)
    if resume is False or (isinstance(resume, str) and resume.lower() in ("false", "no", "none", "")):
        return None
    if not Path(str(resume)).is_dir():
        from ..errors import InputError

        raise InputError(f"resume_from_checkpoint: {resume}: no such checkpoint directory")
    return str(resume)
