"""Fluency: per-byte negative log-likelihood of an answer under a judge model, against a per-language limit.

Word salad and syllable noise keep the right script, so the cheap signals pass them; a language model finds
them improbable. `FluencyJudge` scores each answer alone (BOS + the answer's first `max_tokens` tokens) and
divides the summed NLL (nats) by the UTF-8 bytes scored, so scripts and tokenizers compare on one scale
within a language. The limit per language comes from a calibration on genuine text of that language
(`calibrate`: a quantile of the genuine NLLs plus a margin; or `choose_limit`: the limit that best separates
genuine text from word salad made of other genuine text, weighted by the targets), computed once per judge
model and shipped as JSON (src/langlock/data/quality_calibration.json for the default judge, built by
scripts/calibrate_fluency.py). torch and transformers are imported only when a judge is loaded.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path

from ..errors import InputError, UsageError

DEFAULT_JUDGE = "gemma3-270m"
CALIBRATION_FILE = "quality_calibration.json"


def quantile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated quantile (numpy's default method), pure Python."""
    xs = sorted(values)
    if not xs:
        raise ValueError("quantile of no values")
    pos = (len(xs) - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def calibrate(nlls_by_lang: Mapping[str, Sequence[float]], q: float, margin: float) -> dict[str, dict]:
    """Per language: n, median and limit = quantile `q` of the genuine NLLs + `margin` (nats/byte)."""
    return {lang: {"n": len(v), "median": round(quantile(v, 0.5), 4),
                   "limit": round(quantile(v, q) + margin, 4)} for lang, v in sorted(nlls_by_lang.items()) if v}


def choose_limit(genuine: Sequence[float], bad: Sequence[float], w_genuine: float = 1 / 0.05,
                 w_bad: float = 1 / 0.15) -> float:
    """The NLL limit (fluent when <= limit) minimising w_genuine x share of `genuine` rejected + w_bad x share
    of `bad` accepted — the weights are the inverse targets (5 % genuine rejected, 15 % word salad accepted),
    so either error costs the same at its target. Ties go to the highest limit (kinder to genuine text), and
    the limit sits midway to the next observed value, the middle of the gap the data leaves."""
    if not genuine or not bad:
        raise ValueError("choose_limit needs genuine and bad values")
    cands = sorted(set(genuine) | set(bad))
    best, best_cost = 0, math.inf
    for k, cand in enumerate(cands):
        cost = (w_genuine * sum(v > cand for v in genuine) / len(genuine)
                + w_bad * sum(v <= cand for v in bad) / len(bad))
        if cost <= best_cost:
            best, best_cost = k, cost
    nxt = cands[best + 1] if best + 1 < len(cands) else cands[best]
    return float((cands[best] + nxt) / 2)


def load_calibration(path: str | Path | None = None) -> dict:
    """A calibration JSON (`{"judge": ..., "languages": {lang: {"limit": ...}}}`); the shipped one by default."""
    try:
        text = (Path(path).read_text(encoding="utf-8") if path is not None
                else resources.files("langlock.data").joinpath(CALIBRATION_FILE).read_text(encoding="utf-8"))
        cal = json.loads(text)
    except (OSError, json.JSONDecodeError) as err:
        raise InputError(f"fluency calibration {path or CALIBRATION_FILE}: cannot read ({err})") from None
    if not isinstance(cal, dict) or not isinstance(cal.get("languages"), dict):
        raise InputError(f"fluency calibration {path or CALIBRATION_FILE}: no 'languages' table")
    return cal


class FluencyJudge:
    """Per-byte NLL of texts under a causal LM, and the calibrated limit per language."""

    def __init__(self, model=None, tokenizer=None, calibration: dict | None = None, *, max_tokens: int = 32,
                 token_budget: int = 512, name: str = ""):
        self.model, self.tokenizer = model, tokenizer
        self.calibration = calibration or {"languages": {}}
        self.max_tokens, self.token_budget, self.name = max_tokens, token_budget, name

    @classmethod
    def load(cls, spec: str = DEFAULT_JUDGE, calibration: str | Path | None = None, **kw) -> FluencyJudge:
        """Load judge model `spec` (anything `langlock.models` resolves). Its calibration is `calibration`,
        or the shipped one when it was made for `spec`; any other model needs its own (UsageError)."""
        from ..models import load_model_and_tokenizer, resolve_model

        cal = load_calibration(calibration)
        resolve_model(spec)  # a missing model or package: one clear InputError before anything else
        if calibration is None and cal.get("judge") != spec:
            raise UsageError(f"no fluency calibration for judge model {spec!r} (the shipped one is for "
                             f"{cal.get('judge')!r}); make one with scripts/calibrate_fluency.py --judge-model "
                             f"{spec} and pass it with --judge-calibration")
        model, tok, _ = load_model_and_tokenizer(spec)
        kw.setdefault("max_tokens", int(cal.get("max_tokens", 32)))  # score as the calibration did
        return cls(model, tok, cal, name=spec, **kw)

    def limit(self, language: str | None) -> float | None:
        entry = self.calibration["languages"].get(language or "")
        return None if entry is None else float(entry["limit"])

    def _encode(self, text: str) -> tuple[list[int], int]:
        ids = self.tokenizer(text, add_special_tokens=False)["input_ids"][: self.max_tokens]
        nbytes = len(self.tokenizer.decode(ids).encode("utf-8")) if len(ids) == self.max_tokens else \
            len(text.encode("utf-8"))
        return ids, nbytes

    def nll_per_byte(self, texts: Sequence[str]) -> list[float | None]:
        """Summed token NLL / UTF-8 bytes for each text (None for an empty one), batched by length."""
        import torch

        bos = self.tokenizer.bos_token_id
        if bos is None:
            bos = self.tokenizer.eos_token_id
        enc = [self._encode(t) for t in texts]
        out: list[float | None] = [None] * len(texts)
        order = sorted((i for i, (ids, nb) in enumerate(enc) if ids and nb), key=lambda i: len(enc[i][0]))
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else bos
        start = 0
        while start < len(order):
            width = len(enc[order[start]][0]) + 1
            stop = start + 1
            while stop < len(order) and (len(enc[order[stop]][0]) + 1) * (stop - start + 1) <= self.token_budget:
                stop += 1
            batch = order[start:stop]
            width = max(len(enc[i][0]) for i in batch) + 1
            ids = torch.full((len(batch), width), pad, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for row, i in enumerate(batch):
                seq = [bos, *enc[i][0]]
                ids[row, : len(seq)] = torch.tensor(seq)
                mask[row, : len(seq)] = 1
            with torch.inference_mode():
                logits = self.model(input_ids=ids, attention_mask=mask).logits[:, :-1].float()
            nll = torch.nn.functional.cross_entropy(logits.transpose(1, 2), ids[:, 1:], reduction="none")
            nll = (nll * mask[:, 1:]).sum(dim=1)
            for row, i in enumerate(batch):
                out[i] = float(nll[row]) / enc[i][1]
            start = stop
        return out
