"""Write the lm-evaluation-harness task YAMLs of the LCB (`src/langlock/lmeval/tasks/`).

One task per (task, language) file set the checksum manifest lists (`src/langlock/lcb/manifest.json`), the
two per-task groups and the overall group. WPR is listed only for the languages it applies to (ar, hi, ja,
ko, ru, zh). Rerun after the manifest changes:

    python scripts/make_lmeval_tasks.py
"""

from __future__ import annotations

import sys

from langlock.languages import WPR_LANGUAGES
from langlock.lcb import load_manifest
from langlock.lmeval import TASKS_DIR

TEMPLATE = """\
# Language Confusion Benchmark (Marchisio et al., EMNLP 2024) through lm-evaluation-harness; written by
# scripts/make_lmeval_tasks.py. "lcb" is the Language Confusion Benchmark here, not LiveCodeBench.
# The prompts come from the test sets `langlock lcb fetch` cached; the metric is langlock's `lcb` detector.
output_type: generate_until
test_split: test
custom_dataset: !function utils.load_test_set
doc_to_text: "{{prompt}}"
doc_to_target: ""
process_results: !function utils.process_results
generation_kwargs:
  until: ["</s>", "<|end_of_text|>", "<|endoftext|>", "<|im_end|>"]
  do_sample: false
  max_gen_toks: 100
metadata:
  version: 1.0
"""


def task_yaml(task: str, lang: str) -> str:
    metrics = ["lpr", "wpr", "lcpr"] if lang in WPR_LANGUAGES else ["lpr", "lcpr"]
    lines = ["include: _lcb_template_yaml", f"task: lcb_{task}_{lang}", "dataset_kwargs:", f"  task: {task}",
             f"  language: {lang}", "metric_list:"]
    for m in metrics:
        lines += [f"  - metric: {m}", f"    aggregation: !function utils.{m}", "    higher_is_better: true"]
    return "\n".join(lines) + "\n"


def group_yaml(name: str, tasks: list[str], metrics=("lpr", "wpr", "lcpr")) -> str:
    lines = [f"group: {name}", "task:", *[f"  - {t}" for t in tasks]]
    if metrics:
        lines.append("aggregate_metric_list:")
        for m in metrics:
            lines += [f"  - metric: {m}", "    aggregation: mean", "    weight_by_size: false"]
    lines += ["metadata:", "  version: 1.0"]
    return "\n".join(lines) + "\n"


def main() -> int:
    files = load_manifest()["files"]
    langs: dict[str, set[str]] = {}
    for rel in files:
        task, _source, name = rel.split("/")
        langs.setdefault(task, set()).add(name.removesuffix(".csv"))
    for old in TASKS_DIR.glob("*.yaml"):
        old.unlink()
    (TASKS_DIR / "_lcb_template_yaml").write_text(TEMPLATE, encoding="utf-8")
    groups = []
    for task in sorted(langs):
        names = []
        for lang in sorted(langs[task]):
            (TASKS_DIR / f"lcb_{task}_{lang}.yaml").write_text(task_yaml(task, lang), encoding="utf-8")
            names.append(f"lcb_{task}_{lang}")
        group = f"lcb_language_confusion_{task}"
        (TASKS_DIR / f"{group}.yaml").write_text(group_yaml(group, names), encoding="utf-8")
        groups.append(group)
    (TASKS_DIR / "lcb_language_confusion.yaml").write_text(group_yaml("lcb_language_confusion", groups, ()),
                                                           encoding="utf-8")
    print(f"{TASKS_DIR}: {sum(map(len, langs.values()))} tasks, {len(groups) + 1} groups", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
