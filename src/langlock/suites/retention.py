"""`builtin-retention`: does a fixed model keep its abilities?

Two parts:
- procedurally generated, exactly checkable tasks in several languages (seeded): arithmetic word problems
  whose operands are written as words with `num2words`, copy-a-sentence, and count-from-a-to-b; `check()`
  judges a completion;
- a fixed English prompt set with fixed answers, on which `retention_kl()` measures the mean per-token
  KL(fixed || original) of the next-token distributions over the answer tokens (teacher forcing, exact over
  the whole vocabulary, no sampling).
"""

from __future__ import annotations

import random
import re
from collections import defaultdict

from ..bench.prompts import BenchPrompt
from .data import load_json

TASK = "retention"
KINDS = ("arith", "copy", "count")


def retention_prompts(langs=None, seed: int = 0, per_kind: int = 3) -> list[BenchPrompt]:
    """`per_kind` items of each kind per language (copy: at most the shipped sentences)."""
    from num2words import num2words

    data = load_json("retention.json")
    rng = random.Random(seed)
    out: list[BenchPrompt] = []
    for lang in data["languages"]:
        if langs and lang not in langs:
            continue
        for i in range(per_kind):
            a, b = rng.randint(3, 19), rng.randint(2, 12)
            text = data["arith"][lang].format(a=num2words(a, lang=lang), b=num2words(b, lang=lang))
            out.append(BenchPrompt(TASK, "arith", lang, str(i), text, {"kind": "arith", "answer": a + b}))
        for i, sentence in enumerate(data["copy_sentences"][lang][:per_kind]):
            text = data["copy"][lang].format(text=sentence)
            out.append(BenchPrompt(TASK, "copy", lang, str(i), text, {"kind": "copy", "answer": sentence}))
        for i in range(per_kind):
            a = rng.randint(1, 30)
            b = a + rng.randint(3, 6)
            text = data["count"][lang].format(a=a, b=b)
            out.append(BenchPrompt(TASK, "count", lang, str(i), text,
                                   {"kind": "count", "answer": list(range(a, b + 1))}))
    return out


def _norm(text: str) -> str:
    return " ".join(text.replace("«", " ").replace("»", " ").split())


def check(prompt: BenchPrompt, completion: str) -> bool:
    """Whether `completion` solves `prompt` exactly (numbers as digits or as num2words words)."""
    kind, answer = prompt.meta["kind"], prompt.meta["answer"]
    if kind == "arith":
        if str(answer) in re.findall(r"\d+", completion):
            return True
        from num2words import num2words

        return num2words(answer, lang=prompt.language).lower() in completion.lower()
    if kind == "copy":
        return _norm(answer) in _norm(completion)
    if kind == "count":
        nums = [int(x) for x in re.findall(r"\d+", completion)]
        n = len(answer)
        # the run a..b, not continued past b (counting on to b+1 is not following the instruction)
        return any(nums[i:i + n] == answer and (i + n == len(nums) or nums[i + n] != answer[-1] + 1)
                   for i in range(len(nums) - n + 1))
    raise ValueError(f"unknown retention task kind {kind!r}")


def accuracy_rows(pairs) -> list[dict]:
    """`pairs` of (BenchPrompt, completion) -> rows {kind, language, n, correct, accuracy}, plus per-kind,
    per-language and overall rows (macro averages over the groups below them)."""
    groups: dict[tuple[str, str], list[bool]] = defaultdict(list)
    for p, text in pairs:
        groups[(p.meta["kind"], p.language)].append(check(p, text))
    rows = [{"kind": k, "language": lang, "n": len(v), "correct": sum(v), "accuracy": sum(v) / len(v)}
            for (k, lang), v in sorted(groups.items())]

    def macro(sel):
        accs = [r["accuracy"] for r in sel]
        return sum(accs) / len(accs) if accs else None

    for k in sorted({r["kind"] for r in rows}):
        mine = [r for r in rows if r["kind"] == k]
        rows.append({"kind": k, "language": "all", "n": sum(r["n"] for r in mine),
                     "correct": sum(r["correct"] for r in mine), "accuracy": macro(mine)})
    base = [r for r in rows if r["language"] != "all"]
    for lang in sorted({r["language"] for r in base}):
        mine = [r for r in base if r["language"] == lang]
        rows.append({"kind": "all", "language": lang, "n": sum(r["n"] for r in mine),
                     "correct": sum(r["correct"] for r in mine), "accuracy": macro(mine)})
    rows.append({"kind": "all", "language": "all", "n": sum(r["n"] for r in base),
                 "correct": sum(r["correct"] for r in base), "accuracy": macro(base)})
    return rows


def kl_items() -> list[dict]:
    return list(load_json("retention.json")["kl_prompts"])


def kl_divergence(logits_p, logits_q):
    """Per-position KL(p || q) of the softmax distributions of two logit tensors (..., vocab)."""
    import torch

    logp = torch.log_softmax(logits_p.float(), dim=-1)
    logq = torch.log_softmax(logits_q.float(), dim=-1)
    return (logp.exp() * (logp - logq)).sum(dim=-1)


def retention_kl(model, reference, tokenizer, items=None, use_chat_template: bool = True) -> dict:
    """Mean per-token KL(model || reference) over the answer tokens of the fixed English prompt set.

    Both models must share `tokenizer`. Returns {"kl_mean", "n_tokens", "per_prompt": [...]}.
    """
    import torch

    items = kl_items() if items is None else items
    total, count, per = 0.0, 0, []
    for item in items:
        if use_chat_template and getattr(tokenizer, "chat_template", None):
            rendered = tokenizer.apply_chat_template([{"role": "user", "content": item["prompt"]}],
                                                     tokenize=False, add_generation_prompt=True)
            prompt_ids = tokenizer(rendered, add_special_tokens=False)["input_ids"]
        else:
            prompt_ids = tokenizer(item["prompt"] + "\n")["input_ids"]
        answer_ids = tokenizer(item["answer"], add_special_tokens=False)["input_ids"]
        ids = torch.tensor([prompt_ids + answer_ids])
        with torch.inference_mode():
            lp = model(input_ids=ids.to(model.device)).logits[0].float().cpu()
            lq = reference(input_ids=ids.to(reference.device)).logits[0].float().cpu()
        start = len(prompt_ids) - 1
        kl = kl_divergence(lp[start:start + len(answer_ids)], lq[start:start + len(answer_ids)])
        per.append({"prompt": item["prompt"], "kl_mean": float(kl.mean()), "n_tokens": len(answer_ids)})
        total += float(kl.sum())
        count += len(answer_ids)
    return {"kl_mean": total / count if count else None, "n_tokens": count, "per_prompt": per}
