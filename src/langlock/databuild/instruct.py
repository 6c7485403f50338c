"""Instruction data for turning a *base* model into a small instruct model (a test subject, docs/subjects.md),
built from the benchmark's own files and disjoint from every prompt a later evaluation uses.

Source: a strong model's answers in the benchmark's outputs (`<lcb>/outputs/<model>.csv`, command-r-plus by
default; several models, comma-separated, give each prompt one row per model) to the **monolingual** test-set
prompts (joined by `id` from `<lcb>/test_sets`, `quality.join`). An answer becomes an SFT row (TRL's
conversational prompt-completion form) when it is in its prompt's language (the LCB detector), a valid answer
(`langlock.quality`'s cheap signals: no echo, loop or near-empty text) and at most ``max_answer_chars`` long (a
small model on a CPU budget learns from short answers).

Held out, so the subject can be evaluated on them afterwards:

- every cross-lingual prompt (the confusion the subject is measured on: never a training prompt);
- every prompt of ``holdout_langs`` (the evaluation languages; e.g. ko, ja), in both tasks;
- every prompt of ``holdout_sources`` (default ``okapi``: its monolingual prompts are translations of the set
  its cross-lingual English prompts come from).

Disjointness is checked, not assumed: a training prompt sharing ``max_overlap`` or more of its normalised
character n-grams (``overlap_ngram``) with the held-out prompts' n-grams is dropped, and ``stats.json`` reports
the largest overlap kept and how many rows were dropped. Outputs (atomic): ``sft.jsonl`` and ``stats.json``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

from ..errors import InputError, UsageError
from ..io_utils import atomic_dir, write_json_atomic, write_jsonl_atomic
from .jsonl import as_messages


@dataclass(frozen=True)
class InstructSettings:
    lcb_dir: str  #: the benchmark folder: outputs/ and test_sets/
    outputs_model: str = "command-r-plus"  #: whose answers (outputs/<model>.csv); comma-separated for several
    holdout_langs: tuple[str, ...] = ("ko", "ja")
    holdout_sources: tuple[str, ...] = ("okapi",)
    max_answer_chars: int = 1200
    overlap_ngram: int = 8
    max_overlap: float = 0.3
    seed: int = 0  #: order of the rows (shuffled, so a limit or an interrupted epoch mixes languages)

    @property
    def teachers(self) -> tuple[str, ...]:
        return tuple(m.strip() for m in self.outputs_model.split(",") if m.strip())

    def check(self) -> None:
        if not self.teachers:
            raise UsageError("outputs_model names no model")
        if len(set(self.teachers)) != len(self.teachers):
            raise UsageError(f"outputs_model names a model twice: {self.outputs_model!r}")
        if self.max_answer_chars < 1:
            raise UsageError(f"max_answer_chars must be >= 1, got {self.max_answer_chars}")
        if not 0 < self.max_overlap <= 1:
            raise UsageError(f"max_overlap must be in (0, 1], got {self.max_overlap}")
        if self.overlap_ngram < 3:
            raise UsageError(f"overlap_ngram must be >= 3, got {self.overlap_ngram}")


def _source_key(source: str) -> str:
    """Folder-name form of a source (`aya_human_annotated` -> `aya`), as `bench.prompts.load_lcb` accepts both."""
    return source.split("_")[0]


def overlap_share(prompt_norm: str, grams: set[str], n: int) -> float:
    """Share of a normalised prompt's character n-grams that occur in `grams` (0 for a prompt shorter than n)."""
    from ..quality.signals import char_ngrams

    own = char_ngrams(prompt_norm, n) if len(prompt_norm) >= n else []
    return sum(g in grams for g in own) / len(own) if own else 0.0


def build_instruct(settings: InstructSettings, out_dir: str | Path) -> dict:
    """Write ``sft.jsonl`` + ``stats.json`` into `out_dir` (atomically); return the stats."""
    import random

    from ..bench.prompts import load_lcb
    from ..detect import get_detector
    from ..quality.join import attach_prompts
    from ..quality.signals import char_ngrams, normalise
    from ..quality.verdict import judge_records
    from ..score.records import read_csv

    settings.check()
    lcb = Path(settings.lcb_dir)
    outputs = [lcb / "outputs" / f"{m}.csv" for m in settings.teachers]
    tests = lcb / "test_sets"
    for path in outputs:
        if not path.is_file():
            raise InputError(f"{path}: no such outputs file (the benchmark folder has outputs/<model>.csv)")
    if not tests.is_dir():
        raise InputError(f"{tests}: no test_sets folder in {lcb}")
    held_langs, held_sources = set(settings.holdout_langs), {_source_key(s) for s in settings.holdout_sources}

    def held_out(task: str, source: str, language: str) -> bool:
        return task != "monolingual" or language in held_langs or _source_key(source) in held_sources

    grams: set[str] = set()
    n_held = 0
    for p in load_lcb(tests):
        if held_out(p.task, p.source, p.language):
            grams.update(char_ngrams(normalise(p.prompt), settings.overlap_ngram))
            n_held += 1
    records, teachers = [], []
    for model, path in zip(settings.teachers, outputs):
        kept = [r for r in read_csv(path) if not held_out(r.task, r.source, r.language)]
        records += kept
        teachers += [model] * len(kept)
    if not records:
        raise InputError(f"{settings.outputs_model}: no monolingual answers outside the held-out languages and "
                         "sources")
    prompts = attach_prompts(records, tests)
    verdicts = judge_records(records, prompts)
    detectors: dict = {}
    stats: Counter = Counter()
    kept_overlap = 0.0
    rows = []
    several = len(settings.teachers) > 1
    for rec, teacher, prompt, verdict in zip(records, teachers, prompts, verdicts):
        stats["answers"] += 1
        if prompt is None:
            stats["no_prompt"] += 1
            continue
        share = overlap_share(normalise(prompt), grams, settings.overlap_ngram)
        if share >= settings.max_overlap:
            stats["overlaps_held_out"] += 1
            continue
        if len(rec.completion) > settings.max_answer_chars:
            stats["too_long"] += 1
            continue
        det = detectors.setdefault(rec.language, get_detector("lcb", rec.language))
        if det.detect(rec.completion).status != "pass":
            stats["wrong_language"] += 1
            continue
        if verdict.valid is False:
            stats["invalid"] += 1
            continue
        kept_overlap = max(kept_overlap, share)
        row_id = f"{rec.source}/{rec.language}/{rec.id}"
        rows.append({"prompt": as_messages(prompt, "user"), "completion": as_messages(rec.completion, "assistant"),
                     "id": f"{teacher}:{row_id}" if several else row_id, "language": rec.language,
                     "source": rec.source, "teacher": teacher})
    if not rows:
        raise InputError(f"{settings.outputs_model}: no answer survived the filters ({dict(stats)})")
    random.Random(settings.seed).shuffle(rows)
    result = {"settings": {**asdict(settings), "holdout_langs": list(settings.holdout_langs),
                           "holdout_sources": list(settings.holdout_sources)},
              "rows": len(rows), "held_out_prompts": n_held, "max_overlap_kept": round(kept_overlap, 4),
              "dropped": dict(stats), "per_language": dict(sorted(Counter(r["language"] for r in rows).items())),
              "per_source": dict(sorted(Counter(r["source"] for r in rows).items())),
              "per_teacher": dict(sorted(Counter(r["teacher"] for r in rows).items()))}
    with atomic_dir(out_dir) as tmp:
        write_jsonl_atomic(tmp / "sft.jsonl", rows)
        write_json_atomic(tmp / "stats.json", result)
    return result
