"""`builtin-mc`: a log-likelihood multiple-choice retention suite (lm-eval style, no sampling noise).

Every item is a question with one correct choice and wrong ones; a model's answer is the choice with the highest
length-normalised log-likelihood after ``Question: ...\\nAnswer:`` (`langlock.suites.likelihood`). Items are
generated deterministically from `data/suites/retention_mc.json`, written by the project (facts, word lists,
templates), plus number words from `num2words`; each item names its ``source`` (the generator):

English (>= 400 items): ``capital`` (capital cities), ``antonym``, ``plural`` (irregular plurals), ``past``
(irregular past tenses), ``category`` (which of these is a fruit / a tool...), ``fact`` (units, everyday
science), ``arith`` (two-digit sums, near-miss distractors), ``bigger`` (the larger of two numbers),
``numword`` (a number in words, digit-swapped distractors), ``day`` / ``month`` (what comes next).
Target languages (de es fr ko ja zh): ``day``, ``month``, ``arith`` and ``bigger`` with the language's own
templates and names. Distractors are drawn with a fixed seed, so the suite is the same on every machine.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from .data import load_json

SOURCE_NOTE = ("written by the langlock project (data/suites/retention_mc.json: facts, word lists, templates), "
               "number words from num2words; generated with a fixed seed")
SEED = 13


@dataclass(frozen=True)
class MCItem:
    id: str
    language: str
    source: str  #: the generator (see the module docstring)
    question: str
    choices: tuple[str, ...]
    answer: int  #: index of the correct choice

    def context(self) -> str:
        q, a = _labels(self.language)
        return f"{q}: {self.question}\n{a}:"


def _labels(lang: str) -> tuple[str, str]:
    if lang == "en":
        return "Question", "Answer"
    f = load_json("retention_mc.json")["foreign"][lang]
    return f["question"], f["answer"]


def _item(rng: random.Random, lang: str, source: str, n: int, question: str, right: str, wrong: list[str]) -> MCItem:
    choices = [right, *wrong]
    rng.shuffle(choices)
    return MCItem(f"{lang}-{source}-{n}", lang, source, question, tuple(choices), choices.index(right))


def _others(rng: random.Random, pool: list[str], right: str, k: int = 3, avoid=()) -> list[str]:
    cands = sorted({p for p in pool if p != right and p not in avoid})
    return rng.sample(cands, min(k, len(cands)))


def _near(rng: random.Random, right: int) -> list[str]:
    """Three wrong sums close to `right` (off by one, by ten, digits swapped when that differs)."""
    cands = [right + 1, right - 1, right + 10, right - 10, int(str(right)[::-1]) if right > 9 else right + 2]
    cands = sorted({c for c in cands if c != right and c > 0})
    return [str(c) for c in rng.sample(cands, 3)]


def _english(rng: random.Random) -> list[MCItem]:
    from num2words import num2words

    d = load_json("retention_mc.json")
    out: list[MCItem] = []
    caps = d["capitals"]
    for n, (country, city) in enumerate(caps.items()):
        out.append(_item(rng, "en", "capital", n, f"What is the capital of {country}?", city,
                         _others(rng, list(caps.values()), city)))
    pairs = d["antonyms"]
    words = [w for p in pairs for w in p]
    for n, (a, b) in enumerate(pairs):
        partners = {y for x, y in pairs if x == a} | {x for x, y in pairs if y == a} | {a}  # "light": dark, heavy
        out.append(_item(rng, "en", "antonym", n, f"What is the opposite of \"{a}\"?", b,
                         _others(rng, words, b, avoid=partners)))
    for src, table, template in (("plural", d["plurals"], "What is the plural of \"{x}\"?"),
                                 ("past", d["past_tense"], "What is the past tense of \"{x}\"?")):
        for n, (x, y) in enumerate(table.items()):
            wrong = [x + "s", x + "es", x + "en"] if src == "plural" else [x + "ed", x + "s", x + "ing"]
            wrong = [w for w in wrong if w != y][:3]
            out.append(_item(rng, "en", src, n, template.format(x=x), y, wrong))
    cats = d["categories"]
    n = 0
    for cat, members in cats.items():
        rest = [m for c, ms in cats.items() if c != cat for m in ms]
        for m in members[:5]:
            art = "an" if cat[0] in "aeiou" else "a"
            out.append(_item(rng, "en", "category", n, f"Which of these is {art} {cat}?", m, _others(rng, rest, m)))
            n += 1
    for n, (q, right, wrong) in enumerate(d["facts"]):
        out.append(_item(rng, "en", "fact", n, q, right, list(wrong)))
    out += _numbers(rng, "en", "What is {a} plus {b}?", "Which number is larger, {a} or {b}?", 40, 30)
    for n in range(40):
        x = rng.randint(21, 99)
        while x % 10 == 0 or x // 10 == x % 10:
            x = rng.randint(21, 99)
        wrong = [num2words(v) for v in (int(str(x)[::-1]), x + 1, x + 10 if x < 90 else x - 10)]
        out.append(_item(rng, "en", "numword", n, f"How is the number {x} written in words?", num2words(x), wrong))
    out += _sequences(rng, "en", d["en"]["days"], d["en"]["months"], "Which day comes after {x}?",
                      "Which month comes after {x}?")
    return out


def _numbers(rng: random.Random, lang: str, add: str, bigger: str, n_add: int, n_big: int) -> list[MCItem]:
    out = []
    for n in range(n_add):
        a, b = rng.randint(11, 49), rng.randint(11, 49)
        out.append(_item(rng, lang, "arith", n, add.format(a=a, b=b), str(a + b), _near(rng, a + b)))
    for n in range(n_big):
        a, b = rng.sample(range(10, 100), 2)
        out.append(_item(rng, lang, "bigger", n, bigger.format(a=a, b=b), str(max(a, b)), [str(min(a, b))]))
    return out


def _sequences(rng: random.Random, lang: str, days: list[str], months: list[str], day_q: str,
               month_q: str) -> list[MCItem]:
    out = []
    for src, names, q in (("day", days, day_q), ("month", months, month_q)):
        for n, x in enumerate(names):
            right = names[(n + 1) % len(names)]
            out.append(_item(rng, lang, src, n, q.format(x=x), right, _others(rng, names, right, avoid=(x,))))
    return out


def mc_items(langs=None) -> list[MCItem]:
    """Every item (English first), optionally only `langs` (a collection of codes)."""
    rng = random.Random(SEED)
    d = load_json("retention_mc.json")
    items = _english(rng)
    for lang, f in d["foreign"].items():
        items += _sequences(rng, lang, f["days"], f["months"], f["day_after"], f["month_after"])
        items += _numbers(rng, lang, f["add"], f["bigger"], 15, 10)
    return [it for it in items if langs is None or it.language in langs]
