"""Scoring and writing a `builtin-retention` run: exact-check accuracy; with the hf backend the likelihood checks
(`langlock.suites.likelihood`: multiple-choice accuracy and NLL on genuine text); and, with a reference model (the
base), KL(model ‖ reference) plus the likelihood checks paired by item and document against it.

The reference's likelihood scores are computed once per process and reused (`REFERENCE_SCORES`): a compare or the
demo evaluates every method against the same base, which used to be re-scored for each. A run of the reference
model itself (the ``base`` and ``lock`` methods: same weights, only the decoding may differ) reuses them as its own
scores, and its KL is against its own loaded weights (no second load)."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

from ..errors import UsageError
from ..io_utils import atomic_dir
from ..results import stamp

#: (reference model, dtype, device, cache dir, likelihood inputs) -> its `LikelihoodScores`, for this process
REFERENCE_SCORES: dict = {}


def is_reference_itself(cfg) -> bool:
    """Whether the evaluated model is the reference with the same forward pass (no steering, no routed adapters;
    a LanguageLock changes only the decoding)."""
    return bool(cfg.reference_model) and str(cfg.model) == str(cfg.reference_model) and not cfg.steer \
        and not cfg.adapters


def load_reference(cfg, gen):
    """The reference model (None without one); needs the `hf` backend's loaded model and the same vocabulary."""
    if not cfg.reference_model:
        return None
    if cfg.backend != "hf":
        raise UsageError("--reference-model (KL) needs --backend hf")
    if is_reference_itself(cfg):
        return gen.model
    from ..models import load_model_and_tokenizer

    ref, ref_tok, _ = load_model_and_tokenizer(cfg.reference_model, dtype=cfg.dtype, device=cfg.device,
                                               cache_dir=cfg.cache_dir)
    if ref_tok.get_vocab() != gen.tokenizer.get_vocab():
        raise UsageError("--reference-model has a different tokenizer; KL needs the same vocabulary")
    return ref


def compute_kl(cfg, gen, ref) -> dict | None:
    """KL(model || reference) on the fixed English prompt set."""
    if ref is None:
        return None
    from ..suites.retention import retention_kl

    result = retention_kl(gen.model, ref, gen.tokenizer)
    result["reference_model"] = cfg.reference_model
    return result


def compute_likelihood(cfg, gen, ref) -> dict | None:
    """Multiple-choice accuracy and genuine-text NLL (English and the run's languages), paired against `ref`
    (whose scores are computed once per process, `REFERENCE_SCORES`); None for a backend without a local model.
    `--limit N` keeps the first N items and documents per language."""
    if cfg.backend != "hf":
        return None
    from ..bench.prompts import parse_langs
    from ..suites.likelihood import likelihood_inputs, likelihood_scores, likelihood_summary

    inputs = likelihood_inputs(parse_langs(cfg.langs), cfg.limit)
    base = None
    if ref is not None:
        key = (str(cfg.reference_model), cfg.dtype, cfg.device, cfg.cache_dir, inputs.key())
        base = REFERENCE_SCORES.get(key)
        if base is None:
            base = REFERENCE_SCORES[key] = likelihood_scores(ref, gen.tokenizer, inputs)
    mine = base if base is not None and is_reference_itself(cfg) else likelihood_scores(gen.model, gen.tokenizer,
                                                                                         inputs)
    result = likelihood_summary(inputs, mine, base)
    result["reference_model"] = cfg.reference_model
    return result


def likelihood_lines(lk: dict) -> list[str]:
    """Markdown of the likelihood checks (accuracy ± SE; changes against the base with 95 % intervals)."""
    paired = lk.get("reference_model")
    md = ["", "## Multiple choice (log-likelihood, `builtin-mc`)", "",
          f"Items: {lk['mc']['source']}. Accuracy ± standard error"
          + (f"; change against {paired} paired by item (95 % interval) and McNemar's exact p." if paired else "."),
          "", "| language | n | accuracy | " + ("base | change | p |" if paired else ""),
          "|---|---:|---:|" + ("---:|---:|---:|" if paired else "")]
    for lang, r in lk["mc"]["by_language"].items():
        line = f"| {lang} | {r['n']} | {100 * r['accuracy']:.1f} ± {100 * (r['se'] or 0):.1f} |"
        if paired:
            d = r["delta"]
            ci = f" [{100 * d['ci95'][0]:+.1f}, {100 * d['ci95'][1]:+.1f}]" if d["ci95"] else ""
            line += f" {100 * r['base_accuracy']:.1f} | {100 * d['mean']:+.1f}{ci} | {r['mcnemar']['p_value']:.3g} |"
        md.append(line)
    md += ["", "## NLL on genuine text (nats per byte)", "", f"Text: {lk['nll']['source']}.", "",
           "| language | documents | NLL/byte | " + ("base | drift [95 % CI] |" if paired else ""),
           "|---|---:|---:|" + ("---:|---:|" if paired else "")]
    for lang, r in lk["nll"]["by_language"].items():
        line = f"| {lang} | {r['n']} | {r['nll_per_byte']:.4f} |"
        if paired:
            d = r["drift"]
            ci = f" [{d['ci95'][0]:+.4f}, {d['ci95'][1]:+.4f}]" if d["ci95"] else ""
            line += f" {r['base_nll_per_byte']:.4f} | {d['mean']:+.4f}{ci} |"
        md.append(line)
    return md


def write_retention(out: Path, pairs, meta: dict, cfg, gen) -> dict:
    from ..suites.retention import accuracy_rows

    rows = accuracy_rows([(p, e["completion"]) for p, e in pairs])
    ref = load_reference(cfg, gen)
    kl = compute_kl(cfg, gen, ref)
    lk = compute_likelihood(cfg, gen, ref)
    summary = stamp("bench", {**meta, "retention": {"accuracy": rows, "kl": kl, "likelihood": lk}})
    with atomic_dir(out) as tmp:
        (tmp / "results.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2) + "\n",
                                          encoding="utf-8")
        with open(tmp / "metrics.csv", "w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["suite", "kind", "language", "metric", "value", "n"])
            for r in rows:
                w.writerow(["builtin-retention", r["kind"], r["language"], "accuracy", f"{r['accuracy']:.6f}", r["n"]])
            if kl is not None:
                w.writerow(["builtin-retention", "kl", "en", "kl_mean", f"{kl['kl_mean']:.6f}", kl["n_tokens"]])
            for lang, r in ((lk or {}).get("mc") or {}).get("by_language", {}).items():
                w.writerow(["builtin-mc", "mc", lang, "accuracy", f"{r['accuracy']:.6f}", r["n"]])
                if "delta" in r:
                    w.writerow(["builtin-mc", "mc", lang, "accuracy_change", f"{r['delta']['mean']:.6f}", r["n"]])
            for lang, r in ((lk or {}).get("nll") or {}).get("by_language", {}).items():
                w.writerow(["genuine-text", "nll", lang, "nll_per_byte", f"{r['nll_per_byte']:.6f}", r["n"]])
                if "drift" in r:
                    w.writerow(["genuine-text", "nll", lang, "nll_drift", f"{r['drift']['mean']:.6f}", r["n"]])
        md = [f"# langlock bench: {meta['model']} on builtin-retention", "",
              "| task | language | n | correct | accuracy |", "|---|---|---:|---:|---:|"]
        md += [f"| {r['kind']} | {r['language']} | {r['n']} | {r['correct']} | {100 * r['accuracy']:.1f} |"
               for r in rows]
        if kl is not None:
            md += ["", f"KL(model ‖ {kl['reference_model']}) per answer token on the fixed English set: "
                   f"**{kl['kl_mean']:.4f}** nats over {kl['n_tokens']} tokens"]
        if lk is not None:
            md += likelihood_lines(lk)
        (tmp / "report.md").write_text("\n".join(md) + "\n", encoding="utf-8")
    overall = rows[-1]["accuracy"]
    print(f"langlock bench: retention accuracy {100 * overall:.1f}%"
          + (f", KL {kl['kl_mean']:.4f}" if kl else "") + f"; results in {out}/", file=sys.stderr)
    return summary
