"""One verdict per answer: `valid` (True / False / None) and the reasons when not.

`judge_answer` combines the signals judged for one answer: the cheap ones of `signals` (echo, degenerate, and
copy when the answer was generated after in-context examples)
and, when a fluency judge is given, the per-byte NLL compared with the calibrated limit of the answer's
language (`fluency`). `valid` is False when any judged signal fails, True when every judged signal passes,
and None when no signal could be judged (an empty set; in practice the degenerate check always judges).
Signals that could not be judged (echo without a prompt, fluency for an uncalibrated language) are listed
in `not_judged`, never counted as a failure.

`judge_records(records, prompts=None, judge=None)` is the one call bench/compare/report need: a list of
`Verdict`s in record order. `records` are objects with `completion`, `language` and optionally `prompt` and
`examples` (the answers of the in-context examples the model saw; langlock's `Record`, `BenchPrompt`-joined
generations, or anything with those attributes/keys).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from .signals import (
    DEFAULT_THRESHOLDS,
    Thresholds,
    degenerate_reasons,
    echo_rule,
    echo_stats_normalised,
    is_copy_normalised,
    normalise,
)

#: Reasons an answer can be invalid, in the order they are reported.
REASONS = ("empty", "repetitive", "repeated_ngrams", "echo", "copy", "disfluent")


@dataclass(frozen=True)
class Verdict:
    valid: bool | None
    invalid_reasons: tuple[str, ...] = ()
    not_judged: tuple[str, ...] = ()
    scores: dict = field(default_factory=dict, compare=False)

    def to_dict(self) -> dict:
        return {"valid": self.valid, "invalid_reasons": list(self.invalid_reasons),
                "not_judged": list(self.not_judged), "quality_scores": self.scores}


def judge_answer(answer: str, prompt: str | None = None, *, th: Thresholds = DEFAULT_THRESHOLDS,
                 nll_per_byte: float | None = None, nll_limit: float | None = None,
                 fluency: bool = False, examples: Sequence[str] = ()) -> Verdict:
    """Verdict for one answer. `fluency=True` asks for the fluency signal: judged when both `nll_per_byte`
    and the language's `nll_limit` are known, else listed as not judged. `examples`: the answers of the
    in-context examples shown before the prompt (none: the copy signal does not apply)."""
    a = normalise(answer)
    p = normalise(prompt) if prompt is not None else ""
    reasons = degenerate_reasons(answer, th, norm=a)
    not_judged: list[str] = []
    scores: dict = {}
    if prompt is not None and len(p) >= th.echo_min_prompt:
        e = echo_stats_normalised(a, p, th.echo_ngram, th.echo_long_run, cov_from=th.echo_share)
        scores.update(echo_share=round(e.share, 4), echo_copies=round(e.copies, 4))
        if e.prompt_cov is not None:
            scores["echo_prompt_cov"] = round(e.prompt_cov, 4)
        if "empty" not in reasons and echo_rule(e, th):
            reasons.append("echo")
    else:
        not_judged.append("echo")
    if examples and "empty" not in reasons and is_copy_normalised(a, [normalise(e) for e in examples], th):
        reasons.append("copy")
    if fluency:
        if nll_per_byte is None or nll_limit is None:
            not_judged.append("fluency")
        else:
            scores.update(nll_per_byte=round(nll_per_byte, 4), nll_limit=round(nll_limit, 4))
            if "empty" not in reasons and nll_per_byte > nll_limit:
                reasons.append("disfluent")
    return Verdict(False if reasons else True, tuple(r for r in REASONS if r in reasons), tuple(not_judged),
                   scores)


def _get(obj, name):
    return obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)


def judge_records(records: Sequence, prompts: Sequence[str | None] | None = None, judge=None,
                  th: Thresholds = DEFAULT_THRESHOLDS, llm=None,
                  examples: Sequence[Sequence[str]] | None = None) -> list[Verdict]:
    """Verdicts for `records` in order. `prompts` (same length) overrides each record's own `prompt`, and
    `examples` (same length) each record's in-context example answers;
    `judge` (a `FluencyJudge`) adds the fluency signal, None runs only the cheap signals; the judge model
    reads only answers that the cheap signals pass and whose language it has a limit for. `llm` (an
    `LLMJudge`) asks a chat model about every answer the other signals pass."""
    if prompts is not None and len(prompts) != len(records):
        raise ValueError(f"{len(prompts)} prompts for {len(records)} records")
    if examples is not None and len(examples) != len(records):
        raise ValueError(f"{len(examples)} example lists for {len(records)} records")
    texts = [_get(r, "completion") or "" for r in records]
    langs = [_get(r, "language") for r in records]
    prompt_of = [prompts[i] if prompts is not None else _get(r, "prompt") for i, r in enumerate(records)]
    shown = [tuple((examples[i] if examples is not None else _get(r, "examples")) or ())
             for i, r in enumerate(records)]
    out = [judge_answer(t, p, th=th, examples=e) for t, p, e in zip(texts, prompt_of, shown)]
    if judge is not None:
        # the judge model only reads answers the cheap signals pass (the costly part; a failed one stays invalid)
        todo = [i for i, v in enumerate(out) if v.valid is not False and judge.limit(langs[i]) is not None]
        nlls = dict(zip(todo, judge.nll_per_byte([texts[i] for i in todo]))) if todo else {}
        out = [judge_answer(texts[i], prompt_of[i], th=th, nll_per_byte=nlls.get(i), nll_limit=judge.limit(langs[i]),
                            fluency=True, examples=shown[i]) if out[i].valid is not False else out[i]
               for i in range(len(texts))]
    if llm is not None:
        todo = [i for i, v in enumerate(out) if v.valid is not False]
        asked = dict(zip(todo, llm.verdicts([texts[i] for i in todo], [prompt_of[i] for i in todo],
                                            [langs[i] for i in todo]))) if todo else {}
        out = [Verdict(*_with_llm(out[i], asked[i])) if i in asked else out[i] for i in range(len(texts))]
    return out


def _with_llm(v: Verdict, answer: tuple[bool, str] | None) -> tuple:
    """`v` (valid so far) extended with an LLM judge's verdict; its failure reason reads `llm:<reason>`."""
    if answer is None:
        return v.valid, v.invalid_reasons, (*v.not_judged, "llm"), v.scores
    scores = {**v.scores, "llm_reason": answer[1]}
    if answer[0]:
        return v.valid, v.invalid_reasons, v.not_judged, scores
    return False, (*v.invalid_reasons, f"llm:{answer[1]}"), v.not_judged, scores
