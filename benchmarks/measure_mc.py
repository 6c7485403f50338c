"""Measure builtin-mc accuracy (± SE per language and English generator) and genuine-text NLL per byte of one
model, default SmolLM2-135M-Instruct (docs/quality.md):
    PYTHONPATH=src OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 python benchmarks/measure_mc.py [MODEL]"""

from __future__ import annotations

import sys
import time

import torch

from langlock.models import load_model_and_tokenizer
from langlock.suites.likelihood import genuine_nlls, genuine_texts, mc_correct
from langlock.suites.retention_mc import mc_items
from langlock.suites.retention_stats import accuracy_se


def main(model_name: str = "smollm2-135m-instruct") -> None:
    torch.set_num_threads(1)
    t = time.time()
    model, tok, _ = load_model_and_tokenizer(model_name)
    items = mc_items()
    by: dict[str, list[bool]] = {}
    for it, ok in zip(items, mc_correct(model, tok, items)):
        by.setdefault(it.language, []).append(ok)
        if it.language == "en":
            by.setdefault("en/" + it.source, []).append(ok)
    for k, v in by.items():
        acc, se = accuracy_se(v)
        print(f"{k:14s} n={len(v):4d} acc={100 * acc:5.1f} se={100 * se:4.1f}")
    nll = {}
    for lang, docs in genuine_texts().items():
        n = genuine_nlls(model, tok, docs)
        nll[lang] = round(sum(n) / len(n), 4)
        print(lang, "nll/byte", nll[lang])
    seconds = round(time.time() - t, 1)
    print("seconds", seconds)
    acc_en, se_en = accuracy_se(by["en"])
    print(f"RESULT mc_acc_en={100 * acc_en:.1f} mc_se_en={100 * se_en:.1f} n_en={len(by['en'])} "
          + " ".join(f"nll_per_byte_{k}={v}" for k, v in nll.items()) + f" seconds={seconds}")


if __name__ == "__main__":
    main(*sys.argv[1:])
