"""Step 3: detector verdicts → preference pairs and SFT data (tlpo-and-lcb-spec §3.3), seeded.

For every prompt of a samples file, each completion is judged by the detector (profile ``tlpo`` by default, with
``ignore_english`` chosen per setting: True = English-neutral, False = English counts as confusion). A completion
is *confused* when the detector finds a confusion point (``first_confusion_char >= 0``) or fails it; completions
shorter than ``min_chars`` (after stripping) are unusable and ignored, and so are completions with nothing the
detector can judge (status ``skip``: e.g. an all-English answer in the English-neutral setting), unless
``skip_as_clean`` is set — TLPO's own script counted those as clean (no confusion point), which can make an
English answer the *chosen* one for a Korean prompt. With ``require_valid`` a completion the detector passes is
clean only when it is also a valid answer under the cheap signals of `langlock.quality` (no echo of the prompt,
no loop, not near-empty); an invalid one counts as confused (a rejected answer, never an SFT target). Prompts
whose usable completions are all
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


def judge(detector, text: str, min_chars: int = 1, skip_as_clean: bool = False,
          valid_for: str | None = None) -> bool | None:
    """True = confused, False = clean, None = unusable (shorter than `min_chars`, or nothing judgeable).
    `valid_for`: the prompt; a clean text must also be a valid answer to it (cheap signals), else it is confused."""
    if len(text.strip()) < min_chars:
        return None
    det = detector.detect(text)
    if det.first_confusion_char >= 0 or det.status == "fail":
        return True
    if det.status == "skip" and not skip_as_clean:
        return None
    if valid_for is not None:
        from ..quality.verdict import judge_answer

        return judge_answer(text, valid_for).valid is False
    return False


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
    require_valid: bool = False,
) -> dict:
    """Read a samples file, write pairs/sft/prompts/stats into `out_dir` atomically; return the stats.

    Raises `InputError` (nothing written) for a malformed samples file or when no prompt yields a pair.
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
             "sft_from_reference": 0, "completions": 0, "confused": 0, "clean": 0, "unusable": 0}
    for n, row in enumerate(rows, 1):
        where = f"{samples} row {n}"
        comps = row.get("completions")
        if "prompt" not in row or not isinstance(comps, list) or not all(isinstance(c, str) for c in comps):
            raise InputError(f"{where}: expected a samples row with prompt and completions (a list of strings)")
        if row.get("language") not in (None, language):
            raise InputError(f"{where}: language {row.get('language')!r} differs from --lang {language}")
        q = user_text(row["prompt"])
        pid = str(row.get("id") or n)
        verdicts = [judge(detector, c, min_chars, skip_as_clean, q if require_valid else None) for c in comps]
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
                         "require_valid": require_valid}
    if not pairs:
        raise InputError(
            f"{samples}: no preference pairs — of {len(rows)} prompt(s), {stats['all_confused']} had only confused "
            f"completions, {stats['all_clean']} only clean ones, {stats['no_usable']} none usable"
        )
    with atomic_dir(out_dir) as tmp:
        write_jsonl_atomic(tmp / "pairs.jsonl", pairs)
        write_jsonl_atomic(tmp / "sft.jsonl", sft)
        write_jsonl_atomic(tmp / "prompts.jsonl", prompt_rows)
        write_json_atomic(tmp / "stats.json", stats)
    return stats
