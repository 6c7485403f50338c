"""Likelihood retention checks, which see small changes because nothing is sampled:

- **multiple choice** (`builtin-mc`, `retention_mc`): a model's answer to an item is the choice whose
  continuation (" " + choice after the item's context) has the highest log-likelihood per UTF-8 byte (lm-eval's
  length-normalised accuracy, normalised by bytes so scripts compare); accuracy with its standard error, and
  against a base model paired by item (difference with its 95 % interval, exact McNemar test);
- **NLL drift on genuine text** (`data/suites/genuine_text.json`, short everyday paragraphs written by the
  project, the same content in every language, never a prompt): the model's mean NLL per byte on each language's
  documents (`langlock.quality.fluency.FluencyJudge`, BOS + the first 256 tokens), and the change against the base
  paired by document. A model that forgets how to write a language shows here first.

`likelihood_retention(model, tokenizer, reference=None, langs=None)` runs both; statistics in `retention_stats`. The
costly part, a model's raw scores (`likelihood_scores` on `likelihood_inputs`), is separate from the report
(`likelihood_summary`), so a caller can score the base once and pair every model against it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .data import load_json
from .retention_mc import SOURCE_NOTE, MCItem, mc_items
from .retention_stats import accuracy_se, mcnemar, paired_difference

GENUINE_FILE = "genuine_text.json"
NLL_MAX_TOKENS = 256


def continuation_logliks(model, tokenizer, pairs: Sequence[tuple[str, str]], batch_size: int = 32) -> list[float]:
    """Summed log-probability (nats) of each continuation given its context (teacher forcing, one pass)."""
    import torch

    enc = []
    for ctx, cont in pairs:
        c = tokenizer(ctx)["input_ids"]
        t = tokenizer(cont, add_special_tokens=False)["input_ids"]
        if not t:
            raise ValueError(f"empty continuation {cont!r}")
        enc.append((c, t))
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (tokenizer.eos_token_id or 0)
    order = sorted(range(len(enc)), key=lambda i: len(enc[i][0]) + len(enc[i][1]))
    out = [0.0] * len(enc)
    device = getattr(model, "device", "cpu")
    for s in range(0, len(order), batch_size):
        batch = order[s : s + batch_size]
        seqs = [enc[i][0] + enc[i][1] for i in batch]
        width = max(map(len, seqs))
        ids = torch.full((len(batch), width), pad, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, seq in enumerate(seqs):
            ids[row, : len(seq)] = torch.tensor(seq)
            mask[row, : len(seq)] = 1
        with torch.inference_mode():
            logp = torch.log_softmax(model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits.float(),
                                     dim=-1).cpu()
        for row, i in enumerate(batch):
            c, t = enc[i]
            pos = torch.arange(len(c) - 1, len(c) + len(t) - 1)
            out[i] = float(logp[row, pos, torch.tensor(t)].sum())
    return out


def mc_correct(model, tokenizer, items: Sequence[MCItem], batch_size: int = 32) -> list[bool]:
    """Per item: is the choice with the highest log-likelihood per byte the correct one?"""
    pairs = [(it.context(), " " + ch) for it in items for ch in it.choices]
    ll = iter(continuation_logliks(model, tokenizer, pairs, batch_size))
    out = []
    for it in items:
        scores = [next(ll) / len((" " + ch).encode("utf-8")) for ch in it.choices]
        out.append(max(range(len(scores)), key=scores.__getitem__) == it.answer)
    return out


def genuine_texts(langs=None) -> dict[str, list[str]]:
    """language -> the genuine documents (English always included)."""
    data = load_json(GENUINE_FILE)["languages"]
    return {lang: docs for lang, docs in data.items() if langs is None or lang in langs or lang == "en"}


def genuine_nlls(model, tokenizer, texts: Sequence[str]) -> list[float]:
    """Mean NLL per byte of every text (BOS + its first `NLL_MAX_TOKENS` tokens)."""
    from ..quality.fluency import FluencyJudge

    return FluencyJudge(model, tokenizer, max_tokens=NLL_MAX_TOKENS).nll_per_byte(list(texts))


def _mc_summary(correct: list[bool], base: list[bool] | None) -> dict:
    acc, se = accuracy_se(correct)
    row = {"n": len(correct), "accuracy": acc, "se": se}
    if base is not None:
        row["base_accuracy"], row["base_se"] = accuracy_se(base)
        row["delta"] = paired_difference([float(c) for c in correct], [float(b) for b in base])
        row["mcnemar"] = mcnemar(correct, base)
    return row


@dataclass(frozen=True)
class LikelihoodInputs:
    """What the likelihood checks score: the multiple-choice items and the genuine documents per language."""

    items: tuple[MCItem, ...]
    docs: dict[str, tuple[str, ...]]

    def key(self) -> tuple:
        """Identifies the inputs (for reusing a model's scores on them)."""
        return (tuple(it.id for it in self.items), tuple((lang, len(d)) for lang, d in self.docs.items()))


@dataclass(frozen=True)
class LikelihoodScores:
    """One model's raw scores on `LikelihoodInputs`: per item, whether it chose the right answer; per language,
    the NLL per byte of every document."""

    correct: tuple[bool, ...]
    nlls: dict[str, tuple[float, ...]]


def likelihood_inputs(langs=None, limit: int | None = None) -> LikelihoodInputs:
    """The items and documents for `langs` (English always); `limit`: the first N per language (None: all)."""
    wanted = None if langs is None else set(langs) | {"en"}
    items = mc_items(wanted)
    if limit is not None:
        seen: dict[str, int] = {}
        items = [it for it in items if seen.setdefault(it.language, 0) < limit and not seen.update(
            {it.language: seen[it.language] + 1})]
    docs = {lang: tuple(d[:limit] if limit is not None else d) for lang, d in genuine_texts(wanted).items()}
    return LikelihoodInputs(tuple(items), docs)


def likelihood_scores(model, tokenizer, inputs: LikelihoodInputs, batch_size: int = 32) -> LikelihoodScores:
    """Score `model` on the inputs (the costly part: one forward pass per item choice and per document)."""
    correct = mc_correct(model, tokenizer, inputs.items, batch_size)
    return LikelihoodScores(tuple(correct), {lang: tuple(genuine_nlls(model, tokenizer, docs))
                                             for lang, docs in inputs.docs.items()})


def likelihood_summary(inputs: LikelihoodInputs, mine: LikelihoodScores, base: LikelihoodScores | None = None) -> dict:
    """The report of the likelihood checks from raw scores, paired by item and document against `base`."""
    items, correct = inputs.items, mine.correct
    mc: dict = {"source": SOURCE_NOTE, "by_language": {}}
    for lang in dict.fromkeys(it.language for it in items):
        sel = [k for k, it in enumerate(items) if it.language == lang]
        mc["by_language"][lang] = _mc_summary([correct[k] for k in sel],
                                              [base.correct[k] for k in sel] if base is not None else None)
    mc["items"] = [{"id": it.id, "correct": c, **({"base_correct": base.correct[k]} if base is not None else {})}
                   for k, (it, c) in enumerate(zip(items, correct))]
    nll: dict = {"source": load_json(GENUINE_FILE)["source"], "max_tokens": NLL_MAX_TOKENS, "by_language": {}}
    for lang, docs in inputs.docs.items():
        ours = list(mine.nlls[lang])
        row = {"n": len(docs), "nll_per_byte": sum(ours) / len(ours)}
        if base is not None:
            theirs = list(base.nlls[lang])
            row["base_nll_per_byte"] = sum(theirs) / len(theirs)
            row["drift"] = paired_difference(ours, theirs)
        nll["by_language"][lang] = row
    return {"mc": mc, "nll": nll}


def likelihood_retention(model, tokenizer, reference=None, langs=None, batch_size: int = 32,
                         limit: int | None = None) -> dict:
    """Multiple-choice accuracy and genuine-text NLL per language (English always), against `reference` (the
    base; same tokenizer) paired by item and by document when given. `limit`: first N items and documents per
    language (tests; None: all)."""
    inputs = likelihood_inputs(langs, limit)
    mine = likelihood_scores(model, tokenizer, inputs, batch_size)
    base = likelihood_scores(reference, tokenizer, inputs, batch_size) if reference is not None else None
    return likelihood_summary(inputs, mine, base)
