"""Scoring and writing a `builtin-retention` run: exact-check accuracy, and KL from a reference model."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

from ..errors import UsageError
from ..io_utils import atomic_dir
from ..results import stamp


def compute_kl(cfg, gen) -> dict | None:
    """KL(model || reference) on the fixed English prompt set; needs the `hf` backend's loaded model."""
    if not cfg.reference_model:
        return None
    if cfg.backend != "hf":
        raise UsageError("--reference-model (KL) needs --backend hf")
    from ..models import load_model_and_tokenizer
    from ..suites.retention import retention_kl

    ref, ref_tok, _ = load_model_and_tokenizer(cfg.reference_model, dtype=cfg.dtype, device=cfg.device,
                                               cache_dir=cfg.cache_dir)
    if ref_tok.get_vocab() != gen.tokenizer.get_vocab():
        raise UsageError("--reference-model has a different tokenizer; KL needs the same vocabulary")
    result = retention_kl(gen.model, ref, gen.tokenizer)
    result["reference_model"] = cfg.reference_model
    return result


def write_retention(out: Path, pairs, meta: dict, cfg, gen) -> dict:
    from ..suites.retention import accuracy_rows

    rows = accuracy_rows([(p, e["completion"]) for p, e in pairs])
    kl = compute_kl(cfg, gen)
    summary = stamp("bench", {**meta, "retention": {"accuracy": rows, "kl": kl}})
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
        md = [f"# langlock bench: {meta['model']} on builtin-retention", "",
              "| task | language | n | correct | accuracy |", "|---|---|---:|---:|---:|"]
        md += [f"| {r['kind']} | {r['language']} | {r['n']} | {r['correct']} | {100 * r['accuracy']:.1f} |"
               for r in rows]
        if kl is not None:
            md += ["", f"KL(model ‖ {kl['reference_model']}) per answer token on the fixed English set: "
                   f"**{kl['kl_mean']:.4f}** nats over {kl['n_tokens']} tokens"]
        (tmp / "report.md").write_text("\n".join(md) + "\n", encoding="utf-8")
    overall = rows[-1]["accuracy"]
    print(f"langlock bench: retention accuracy {100 * overall:.1f}%"
          + (f", KL {kl['kl_mean']:.4f}" if kl else "") + f"; results in {out}/", file=sys.stderr)
    return summary
