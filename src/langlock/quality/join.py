"""Prompts for scored records: the benchmark's outputs CSV has an `id` column (row index in the test-set
file of its task/source/language) but no prompt, so the prompt is joined from the LCB `test_sets` folder.

`find_test_sets(files)` looks for the folder the LCB layout puts next to `outputs/` (`<lcb>/test_sets`);
`attach_prompts(records, test_dir)` returns one prompt per record (its own `prompt` first, else the joined
one, else None = echo not judged).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..bench.prompts import load_lcb


def find_test_sets(files: Sequence[str | Path]) -> Path | None:
    """`<dir>/test_sets` for the first file under `<dir>/outputs/`, when it exists."""
    for f in files:
        cand = Path(f).resolve().parent.parent / "test_sets"
        if Path(f).resolve().parent.name == "outputs" and cand.is_dir():
            return cand
    return None


def prompt_index(test_dir: str | Path) -> dict[tuple[str, str, str, str], str]:
    """(task, source, language, id) -> prompt for every prompt of the test sets."""
    return {(p.task, p.source, p.language, p.id): p.prompt for p in load_lcb(test_dir)}


def attach_prompts(records: Sequence, test_dir: str | Path | None) -> list[str | None]:
    """One prompt per record: the record's own, else the test set's row `id`, else None."""
    index = prompt_index(test_dir) if test_dir is not None else {}
    out = []
    for r in records:
        if r.prompt:
            out.append(r.prompt)
        elif r.id is not None:
            out.append(index.get((r.task, r.source, r.language, str(r.id).strip())))
        else:
            out.append(None)
    return out
