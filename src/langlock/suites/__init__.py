"""Built-in prompt suites written by the project: `builtin-confusion` (evaluation), `builtin-retention`
(downstream abilities + KL), `builtin-train` (training prompts, disjoint from every evaluation prompt)."""

from __future__ import annotations

from ..bench.prompts import BenchPrompt, parse_langs, parse_tasks
from ..errors import UsageError

SUITES = ("builtin-confusion", "builtin-retention", "builtin-train")


def load_suite(name: str, task: str = "all", langs=None, limit: int | None = None, seed: int = 0) -> list[BenchPrompt]:
    """Prompts of suite `name`, filtered by task and languages; `limit` keeps the first N per
    (task, source, language) group."""
    if name == "builtin-confusion":
        from .confusion import confusion_prompts

        prompts = confusion_prompts()
    elif name == "builtin-train":
        from .train import train_prompts

        prompts = train_prompts()
    elif name == "builtin-retention":
        from .retention import retention_prompts

        prompts = retention_prompts(seed=seed)
    else:
        raise UsageError(f"unknown suite {name!r}; choose one of {', '.join(SUITES)}")
    wanted = parse_langs(langs)
    tasks = parse_tasks(task) if name != "builtin-retention" else ("retention",)
    if limit is not None and limit < 1:
        raise UsageError(f"--limit must be >= 1, got {limit}")
    out, seen = [], {}
    for p in prompts:
        if p.task not in tasks or (wanted is not None and p.language not in wanted):
            continue
        k = (p.task, p.source, p.language)
        seen[k] = seen.get(k, 0) + 1
        if limit is None or seen[k] <= limit:
            out.append(p)
    if not out:
        raise UsageError(f"suite {name} has no prompts for --task {task} --langs {langs or 'all'}")
    return out


__all__ = ["SUITES", "load_suite"]
