"""Confusion-point analysis (the LCB paper's Table 7): is the model uncertain where it switches language?

For every prompt the model generates a completion (seeded nucleus sampling, the benchmark's settings by
default) while the raw next-token logits of every step are kept. Each step gets its entropy (nats) and
nucleus size (number of tokens holding `top_p` = 0.75 of the probability). The detector marks the
completion's first confusion character; the step whose token produced it is the confusion point (CP). Then:

- `table7`: average nucleus size and entropy at CP steps, at all other steps, at the other steps of responses
  that have a CP, and at the steps of responses without one (with counts);
- `finding`: whether CPs sit at higher-uncertainty steps, with the rank statistic AUC = P(entropy at a CP >
  entropy at a random non-CP step), ties counted half (0.5 = no difference).

Outputs (`write_analysis`): `results.json` (kind `analyze` of `langlock.results`), `steps.jsonl` (per response: text, tokens, per-step entropy and
nucleus, CP step) and `distributions.png`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import UsageError
from ..io_utils import atomic_dir
from ..results import RESULTS_NAME, stamp
from . import StudyConfig, check_detectors

log = logging.getLogger(__name__)


@dataclass
class StepTrace:
    """One generated response with its per-step statistics."""

    key: str
    language: str
    task: str
    prompt: str
    text: str
    token_ids: list[int]
    entropy: list[float]
    nucleus: list[int]
    cp_char: int = -1
    cp_step: int = -1
    status: str = "skip"
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"key": self.key, "language": self.language, "task": self.task, "prompt": self.prompt,
                "completion": self.text, "token_ids": self.token_ids,
                "entropy": [round(e, 4) for e in self.entropy], "nucleus": self.nucleus,
                "cp_char": self.cp_char, "cp_step": self.cp_step, "status": self.status}


# -------------------------------------------------------------------------------------------- pure maths


def char_to_step(token_texts_len: Sequence[int], char: int) -> int:
    """Index of the token whose text covers character `char`, given the cumulative decoded length after each
    token (non-decreasing). -1 if `char` < 0 or beyond the text."""
    if char < 0:
        return -1
    for i, end in enumerate(token_texts_len):
        if end > char:
            return i
    return -1


def mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def auc(pos: Sequence[float], neg: Sequence[float]) -> float | None:
    """P(a random `pos` value > a random `neg` value), ties counted half (Mann-Whitney U / (n·m))."""
    if not pos or not neg:
        return None
    import numpy as np

    neg_sorted = np.sort(np.asarray(neg, dtype=float))
    p = np.asarray(pos, dtype=float)
    below = np.searchsorted(neg_sorted, p, side="left")
    not_above = np.searchsorted(neg_sorted, p, side="right")
    return float((below + 0.5 * (not_above - below)).sum() / (len(p) * len(neg_sorted)))


def table7(traces: Sequence[StepTrace]) -> dict:
    """The Table 7 rows and the CP-vs-elsewhere distributions from traced responses."""
    groups: dict[str, tuple[list[float], list[float]]] = {
        "CP": ([], []), "non-CP (all)": ([], []), "non-CP in responses with CP": ([], []),
        "responses without CP": ([], []),
    }
    n_with = n_without = 0
    for t in traces:
        has_cp = t.cp_step >= 0
        n_with += has_cp
        n_without += not has_cp
        for i, (e, k) in enumerate(zip(t.entropy, t.nucleus)):
            names = ["CP"] if i == t.cp_step else (
                ["non-CP (all)", "non-CP in responses with CP"] if has_cp else
                ["non-CP (all)", "responses without CP"])
            for name in names:
                groups[name][0].append(e)
                groups[name][1].append(k)
    rows = {name: {"n": len(es), "nucleus": mean(ks), "entropy": mean(es)} for name, (es, ks) in groups.items()}
    return {
        "rows": rows,
        "responses_with_cp": n_with,
        "responses_without_cp": n_without,
        "auc_entropy": auc(groups["CP"][0], groups["non-CP (all)"][0]),
        "auc_nucleus": auc(groups["CP"][1], groups["non-CP (all)"][1]),
        "distributions": {"entropy": {"cp": groups["CP"][0], "other": groups["non-CP (all)"][0]},
                          "nucleus": {"cp": groups["CP"][1], "other": groups["non-CP (all)"][1]}},
    }


def finding(t7: dict) -> str:
    """One sentence: does the paper's "CPs sit at high-entropy steps" hold here?"""
    cp, other = t7["rows"]["CP"], t7["rows"]["non-CP (all)"]
    if not cp["n"] or not other["n"]:
        return "Not enough data: the analysis needs both confusion points and other steps."
    holds = cp["entropy"] > other["entropy"] and (t7["auc_entropy"] or 0) > 0.5
    verdict = "holds" if holds else "does not hold"
    return (f"The paper's finding that confusion points sit at high-entropy steps {verdict} here: at {cp['n']} "
            f"CPs the mean entropy is {cp['entropy']:.3f} nats and the mean nucleus {cp['nucleus']:.2f} tokens, "
            f"versus {other['entropy']:.3f} nats and {other['nucleus']:.2f} tokens at {other['n']} other steps "
            f"(AUC of CP entropy vs other steps: {t7['auc_entropy']:.3f}).")


# ----------------------------------------------------------------------------------------------- tracing


def _cumulative_lengths(tokenizer, ids: list[int]) -> list[int]:
    """Decoded length of the text after each token. Byte-level tokenizers: exact from token bytes (a token
    ending inside a character covers it); otherwise by decoding prefixes."""
    from ..inference.vocab import token_bytes

    table = _BYTES_CACHE.get(id(tokenizer))
    if table is None:
        table = _BYTES_CACHE[id(tokenizer)] = token_bytes(tokenizer)
    if all(i < len(table) and table[i] is not None for i in ids):
        out, buf = [], b""
        for i in ids:
            buf += table[i]
            out.append(len(buf.decode("utf-8", errors="ignore")) + (1 if _incomplete_tail(buf) else 0))
        return out
    return [len(tokenizer.decode(ids[: k + 1], skip_special_tokens=True)) for k in range(len(ids))]


_BYTES_CACHE: dict[int, list] = {}


def _incomplete_tail(buf: bytes) -> bool:
    """Whether `buf` ends inside a multi-byte UTF-8 character."""
    for back in range(1, min(4, len(buf)) + 1):
        b = buf[-back]
        if b < 0x80:
            return False
        if b >= 0xC0:
            need = 2 if b < 0xE0 else 3 if b < 0xF0 else 4
            return back < need
    return False


def trace(gen, prompts, language_of, *, settings, top_p_stat: float = 0.75, processors=None) -> list[StepTrace]:
    """Generate every prompt (a list of `BenchPrompt`) with the generation core `gen` (an `HFGenerator`: its
    renderer, per-prompt seeded sampling, length-bucketed batches) keeping the raw logits of every step, and
    reduce them to per-step entropy and nucleus size. `processors` (`language -> logits processors`, e.g. a
    `LockFactory`) run before sampling; the statistics are of the model's own distribution. Traces come back
    in prompt order."""
    from ..generate.base import PromptItem
    from ..generate.hf import DecodeOptions
    from ..inference.stats import entropy, nucleus_size

    by_key = {p.key: p for p in prompts}
    done: dict[str, StepTrace] = {}

    def on_done(c):
        p = by_key[c.key]
        done[c.key] = StepTrace(p.key, language_of(p), p.task, p.prompt, c.text, c.token_ids,
                                entropy(c.logits).tolist(), nucleus_size(c.logits, top_p_stat).tolist())
        if len(done) % 50 == 0 or len(done) == len(prompts):
            log.info("analyze: %d/%d responses", len(done), len(prompts))

    items = [PromptItem(p.key, p.prompt, language_of(p)) for p in prompts]
    gen.generate(items, settings, on_done, DecodeOptions(processors=processors, keep_logits=True))
    return [done[p.key] for p in prompts]


def mark_confusion(traces: Sequence[StepTrace], tokenizer, profile: str = "tlpo", **detector_options) -> None:
    """Set `status`, `cp_char` and `cp_step` of each trace with the detector of its language."""
    from ..detect import get_detector

    for t in traces:
        det = get_detector(profile, t.language, **detector_options).detect(t.text)
        t.status = det.status
        t.cp_char = det.first_confusion_char if det.status == "fail" else -1
        if t.cp_char >= 0 and t.token_ids:
            t.cp_step = char_to_step(_cumulative_lengths(tokenizer, t.token_ids), t.cp_char)


def write_analysis(out_dir, traces: Sequence[StepTrace], settings: dict) -> dict:
    """Write results.json, steps.jsonl and distributions.png atomically; return the analysis dict."""
    import json

    from ..report.plots import analysis_plot_file

    t7 = table7(traces)
    per_lang = {}
    for lang in dict.fromkeys(t.language for t in traces):
        sub = table7([t for t in traces if t.language == lang])
        per_lang[lang] = {"rows": sub["rows"], "responses_with_cp": sub["responses_with_cp"],
                          "responses_without_cp": sub["responses_without_cp"], "auc_entropy": sub["auc_entropy"]}
    data = {
        "kind": "analyze", "profile": settings.get("profile"), "top_p": settings.get("top_p_stat", 0.75),
        "settings": settings, "table7": t7["rows"], "responses_with_cp": t7["responses_with_cp"],
        "responses_without_cp": t7["responses_without_cp"], "auc_entropy": t7["auc_entropy"],
        "auc_nucleus": t7["auc_nucleus"], "finding": finding(t7), "per_language": per_lang,
        "distributions": {k: {g: [round(float(v), 4) for v in vals] for g, vals in d.items()}
                          for k, d in t7["distributions"].items()},
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    with atomic_dir(Path(out_dir)) as tmp:
        data = stamp("analyze", data)
        (tmp / RESULTS_NAME).write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        with open(tmp / "steps.jsonl", "w", encoding="utf-8") as fh:
            for t in traces:
                fh.write(json.dumps(t.to_dict(), ensure_ascii=False) + "\n")
        (tmp / "distributions.png").write_bytes(analysis_plot_file(data["distributions"]))
    return data


def check_top_p(value: float) -> float:
    if not 0 < value <= 1:
        raise UsageError(f"--stat-top-p must be in (0, 1], got {value}")
    return value


@dataclass(kw_only=True)
class AnalyzeConfig(StudyConfig):
    """`langlock analyze`: decoding, the detector marking confusion points, the optional lock (CLI flags)."""

    profile: str = "tlpo"
    ignore_english: bool = False
    max_new_tokens: int = 100
    temperature: float = 0.3
    top_p: float = 0.75
    seed: int = 0
    stat_top_p: float = 0.75
    lock: str | None = None


def analyze(cfg: AnalyzeConfig) -> dict:
    """Check the inputs, load the model, trace, mark confusion points and write the outputs; returns the
    analysis dict (`write_analysis`)."""
    from ..generate import GenerationSettings
    from ..inference.lock import LockFactory

    cfg.check()
    check_top_p(cfg.stat_top_p)
    settings = GenerationSettings(max_new_tokens=cfg.max_new_tokens, temperature=cfg.temperature,
                                  top_p=cfg.top_p, seed=cfg.seed)
    prompts = cfg.prompts()
    options = {"ignore_english": cfg.ignore_english} if cfg.profile == "tlpo" else {}
    check_detectors(cfg.profile, prompts, options)
    lock = None
    if cfg.lock:
        from ..languages import check_language

        lock = check_language(cfg.lock)
    gen = cfg.generator()
    locks = None
    if lock:  # one lock for LANG on every row, whatever the prompt's language
        factory = LockFactory(gen.tokenizer)
        locks = lambda _language: factory(lock)  # noqa: E731
    traces = trace(gen, prompts, lambda p: p.language, settings=settings, top_p_stat=cfg.stat_top_p,
                   processors=locks)
    mark_confusion(traces, gen.tokenizer, cfg.profile, **options)
    meta = {"model": str(cfg.model), "model_path": gen.model_path, "profile": cfg.profile, **options,
            "prompt_set": cfg.prompt_set(), "task": cfg.task, "langs": cfg.langs, "limit": cfg.limit,
            "top_p_stat": cfg.stat_top_p, "lock": cfg.lock, **settings.to_dict()}
    return write_analysis(cfg.output_dir, traces, meta)


def table7_text(data: dict) -> str:
    """The printed summary of `langlock analyze`: Table 7, the CP counts and the finding."""
    lines = [f"{'steps':30s} {'n':>6s} {'nucleus':>8s} {'entropy':>8s}"]
    for name, row in data["table7"].items():
        nuc = "–" if row["nucleus"] is None else f"{row['nucleus']:.2f}"
        ent = "–" if row["entropy"] is None else f"{row['entropy']:.3f}"
        lines.append(f"{name:30s} {row['n']:6d} {nuc:>8s} {ent:>8s}")
    lines.append(f"responses with CP: {data['responses_with_cp']}, without: {data['responses_without_cp']}")
    lines.append(data["finding"])
    return "\n".join(lines)
