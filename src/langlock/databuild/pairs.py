"""Step 3: detector verdicts → preference pairs and SFT data (tlpo-and-lcb-spec §3.3), seeded.

For every prompt of a samples file, each completion is judged by the detector (profile ``tlpo`` by default, with
``ignore_english`` chosen per setting: True = English-neutral, False = English counts as confusion). A completion
is *confused* when the detector finds a confusion point (``first_confusion_char >= 0``) or fails it; completions
shorter than ``min_chars`` (after stripping) are unusable and ignored, and so are completions with nothing the
detector can judge (status ``skip``: e.g. an all-English answer in the English-neutral setting), unless
``skip_as_clean`` is set — TLPO's own script counted those as clean (no confusion point), which can make an
English answer the *chosen* one for a Korean prompt. With ``validity`` ("cheap" or "full", `langlock.quality`) a
completion the detector passes is clean only when it is also a valid answer: no echo of the prompt, no loop, not
near-empty, and with "full" fluent under the judge model (word salad in the right language fails); an invalid one
counts as confused (a rejected answer, never an SFT target). A samples row sampled after in-context examples
(``examples``: their answers, `databuild.sample` with shots) has its clean completions checked for copying one
of them (the judge's ``copy`` signal, with or without ``validity``): a copied demonstration is no target either
(counted in ``copies``). A row sampled from another prompt than its own (``sample_prompt``, in-language
distillation) is judged for echo against the prompt the model was shown; its pairs and SFT rows keep the row's
own prompt. Prompts whose usable completions are all
confused or all clean carry no preference and are dropped. Otherwise ``chosen`` is a clean completion and
``rejected`` a confused one, each drawn with `random.Random(f"{seed}:{id}")` — seeded per prompt, so the choice
does not depend on file order (the original used an unseeded `random.sample`).

Outputs (TRL dataset formats, conversational, so TRL applies the model's chat template), written atomically:

- ``pairs.jsonl``: ``{"prompt": [user], "chosen": [assistant], "rejected": [assistant], "id", "language"}``
  for DPO, ORPO and TBPO;
- ``sft.jsonl``: ``{"prompt": [user], "completion": [assistant], "id", "language"}``; the completion is the
  pool's reference answer where it has one and ``sft_source`` allows it, otherwise a clean sample (seeded). SFT
  uses every prompt with a usable target (not only the paired ones);
- ``prompts.jsonl``: ``{"prompt": [user], "language", "id"}``: every prompt of the samples file (GRPO/TLPO
  prompt-only data; like TLPO's own training set, it keeps prompts the base model always or never confuses);
- ``stats.json``: counts per outcome and the confusion rate of the samples.
"""

from __future__ import annotations

import random
from pathlib import Path

from ..errors import InputError, UsageError
from ..io_utils import atomic_dir, write_json_atomic, write_jsonl_atomic
from ..languages import check_language
from .jsonl import as_messages, read_rows, user_text

SFT_SOURCES = ("auto", "reference", "clean")


def judge(detector, text: str, min_chars: int = 1, skip_as_clean: bool = False) -> bool | None:
    """True = confused, False = clean, None = unusable (shorter than `min_chars`, or nothing judgeable)."""
    if len(text.strip()) < min_chars:
        return None
    det = detector.detect(text)
    if det.first_confusion_char >= 0 or det.status == "fail":
        return True
    if det.status == "skip" and not skip_as_clean:
        return None
    return False


def invalid_clean(rows: list[tuple[str, str]], language: str, validity: str, judge_model: str | None = None) -> list[bool]:
    """For (prompt, completion) rows the detector passed: is the completion an invalid answer? `validity` "cheap"
    (echo, loops, near-empty; no model) or "full" (plus the fluency judge model, `langlock.quality`)."""
    if not rows:
        return []
    from ..quality.fluency import DEFAULT_JUDGE, FluencyJudge
    from ..quality.verdict import judge_records

    if validity not in ("cheap", "full"):
        raise UsageError(f"unknown validity {validity!r}; choose cheap or full")
    judge = FluencyJudge.load(judge_model or DEFAULT_JUDGE) if validity == "full" else None
    records = [{"prompt": q, "completion": c, "language": language} for q, c in rows]
    return [v.valid is False for v in judge_records(records, None, judge)]


def build_pairs(
    samples: str | Path,
    language: str,
    out_dir: str | Path,
    *,
    profile: str = "tlpo",
    ignore_english: bool = True,
    seed: int = 0,
    min_chars: int = 1,
    sft_source: str = "auto",
    skip_as_clean: bool = False,
    validity: str | None = None,
    judge_model: str | None = None,
) -> dict:
    """Read a samples file, write pairs/sft/prompts/stats into `out_dir` atomically; return the stats.

    Raises `InputError` (nothing written) for a malformed samples file or when no prompt yields a pair or an SFT
    row.
    """
    if sft_source not in SFT_SOURCES:
        raise UsageError(f"unknown sft source {sft_source!r}; choose one of {', '.join(SFT_SOURCES)}")
    language = check_language(language)
    from ..detect import get_detector

    opts = {"ignore_english": ignore_english} if profile == "tlpo" else {}
    detector = get_detector(profile, language, **opts)
    rows = read_rows(samples, "samples")
    pairs, sft, prompt_rows = [], [], []
    stats = {"prompts": len(rows), "pairs": 0, "all_clean": 0, "all_confused": 0, "no_usable": 0, "sft": 0,
             "sft_from_reference": 0, "completions": 0, "confused": 0, "clean": 0, "unusable": 0, "invalid": 0,
             "copies": 0}
    checked = []  # (row, prompt, id, completions, detector verdicts)
    for n, row in enumerate(rows, 1):
        where = f"{samples} row {n}"
        comps = row.get("completions")
        if "prompt" not in row or not isinstance(comps, list) or not all(isinstance(c, str) for c in comps):
            raise InputError(f"{where}: expected a samples row with prompt and completions (a list of strings)")
        if row.get("language") not in (None, language):
            raise InputError(f"{where}: language {row.get('language')!r} differs from --lang {language}")
        examples = row.get("examples") or []
        if not isinstance(examples, list) or not all(isinstance(e, str) for e in examples):
            raise InputError(f"{where}: examples must be a list of strings")
        q = user_text(row["prompt"])
        checked.append((row, q, str(row.get("id") or n), comps,
                        [judge(detector, c, min_chars, skip_as_clean) for c in comps]))
    # a clean completion must not copy an in-context example (cheap; always checked when there were examples)
    from ..quality.signals import is_copy

    for row, _, _, comps, verdicts in checked:
        for k, c in enumerate(comps):
            if verdicts[k] is False and row.get("examples") and is_copy(c, row["examples"]):
                verdicts[k] = True
                stats["copies"] += 1
    if validity is not None:  # a clean completion must also be a valid answer (judged in one batch)
        todo = [(i, k) for i, (_, _, _, _, verdicts) in enumerate(checked) for k, v in enumerate(verdicts)
                if v is False]
        shown = [checked[i][0].get("sample_prompt") or checked[i][1] for i, _ in todo]  # the prompt the model saw
        bad = invalid_clean([(q, checked[i][3][k]) for q, (i, k) in zip(shown, todo)], language, validity,
                            judge_model)
        for (i, k), invalid in zip(todo, bad):
            if invalid:
                checked[i][4][k] = True
                stats["invalid"] += 1
    for row, q, pid, comps, verdicts in checked:
        clean = [c for c, v in zip(comps, verdicts) if v is False]
        confused = [c for c, v in zip(comps, verdicts) if v is True]
        stats["completions"] += len(comps)
        stats["clean"] += len(clean)
        stats["confused"] += len(confused)
        stats["unusable"] += len(comps) - len(clean) - len(confused)
        rng = random.Random(f"{seed}:{pid}")
        meta = {"id": pid, "language": language}
        prompt_rows.append({"prompt": as_messages(q, "user"), **meta})
        if clean and confused:
            pairs.append({"prompt": as_messages(q, "user"), "chosen": as_messages(rng.choice(clean), "assistant"),
                          "rejected": as_messages(rng.choice(confused), "assistant"), **meta})
        elif clean:
            stats["all_clean"] += 1
        elif confused:
            stats["all_confused"] += 1
        else:
            stats["no_usable"] += 1
        ref = row.get("reference") if isinstance(row.get("reference"), str) and row["reference"].strip() else None
        if ref is not None and sft_source in ("auto", "reference"):
            sft.append({"prompt": as_messages(q, "user"), "completion": as_messages(ref, "assistant"), **meta})
            stats["sft_from_reference"] += 1
        elif clean and sft_source in ("auto", "clean"):
            sft.append({"prompt": as_messages(q, "user"), "completion": as_messages(rng.choice(clean), "assistant"),
                        **meta})
    stats["pairs"] = len(pairs)
    stats["sft"] = len(sft)
    stats["confusion_rate"] = stats["confused"] / max(1, stats["clean"] + stats["confused"])
    stats["settings"] = {"profile": profile, "ignore_english": ignore_english, "seed": seed, "min_chars": min_chars,
                         "sft_source": sft_source, "skip_as_clean": skip_as_clean, "language": language,
                         "validity": validity, "judge_model": judge_model}
    if not pairs and not sft:  # SFT alone can train on rows without a pair (an empty pairs.jsonl is written)
        raise InputError(
            f"{samples}: no preference pairs and no SFT rows — of {len(rows)} prompt(s), {stats['all_confused']} had "
            f"only confused completions, {stats['all_clean']} only clean ones, {stats['no_usable']} none usable"
        )
    with atomic_dir(out_dir) as tmp:
        write_jsonl_atomic(tmp / "pairs.jsonl", pairs)
        write_jsonl_atomic(tmp / "sft.jsonl", sft)
        write_jsonl_atomic(tmp / "prompts.jsonl", prompt_rows)
        write_json_atomic(tmp / "stats.json", stats)
    return stats
