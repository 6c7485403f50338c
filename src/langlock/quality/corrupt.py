"""Corruptions of genuine answers for the validity dev set and the fluency tuning split (seeded, pure).

echo (a prompt restated), loop (a word or phrase of the answer repeated), noise (characters drawn from the
answer's own character frequencies), salad (the answer's words shuffled; ja/zh: script runs / 2-character
pieces, as they have no spaces). Each takes the text, its language and a `random.Random`.
"""

from __future__ import annotations

import random
import re
from collections import Counter

NO_SPACE = ("ja", "zh")


def words(text: str, lang: str, rng: random.Random | None = None) -> list[str]:
    if lang == "zh":
        chars = re.sub(r"\s+", "", text)
        return [chars[i : i + 2] for i in range(0, len(chars), 2)]
    if lang == "ja":
        return re.findall(r"[\u4e00-\u9fff]+|[\u3040-\u309f]+|[\u30a0-\u30ff]+|[^\s\u3040-\u30ff\u4e00-\u9fff]+", text)
    return text.split()


def join(ws: list[str], lang: str) -> str:
    return "".join(ws) if lang in NO_SPACE else " ".join(ws)


def make_echo(prompt: str, rng: random.Random) -> str:
    p = prompt.strip()
    variant = rng.randrange(4)
    if variant == 0:
        return p
    if variant == 1:
        return p + "\n" + p
    if variant == 2:
        return p + " " + p[: max(1, len(p) // 4)]
    return p[: max(1, int(len(p) * 0.8))]


def make_loop(answer: str, lang: str, rng: random.Random) -> str:
    ws = [w for w in words(answer, lang, rng) if w.strip()] or [answer[:4]]
    k = rng.randint(1, min(3, len(ws)))
    start = rng.randrange(len(ws) - k + 1)
    unit = join(ws[start : start + k], lang) + ("" if lang in NO_SPACE else " ")
    if rng.random() < 0.3:  # a short syllable loop such as "동안동안동안"
        unit = unit.strip()[:2]
    reps = max(4, len(answer) // max(1, len(unit)) // (2 if rng.random() < 0.5 else 1))
    body = unit * reps
    if rng.random() < 0.5:
        return answer[: len(answer) // 4] + body
    return body


def make_noise(answer: str, lang: str, rng: random.Random) -> str:
    chars = Counter(ch for ch in answer if ch.isalpha())
    pool, weights = list(chars), list(chars.values())
    lengths = [len(w) for w in answer.split() if any(c.isalpha() for c in w)] or [3]
    out, total = [], 0
    while total < len([c for c in answer if c.isalpha()]):
        n = rng.choice(lengths) if lang not in NO_SPACE else rng.randint(5, 30)
        out.append("".join(rng.choices(pool, weights, k=n)))
        total += n
    return ("。" if lang in NO_SPACE else " ").join(out)


def make_salad(answer: str, lang: str, rng: random.Random) -> str:
    ws = words(answer, lang, rng)
    rng.shuffle(ws)
    return join(ws, lang)
