"""The dev-set builder and its report run end to end on a tiny LCB-shaped folder (cheap signals)."""

from __future__ import annotations

import csv
import importlib.util
import json
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"
ANSWER = {"ko": "서울은 한국의 수도이며 인구가 가장 많은 도시입니다. 한강이 도시 한가운데를 흐르고 있습니다. 주말에는 공원에서 산책합니다.",
          "ja": "東京は日本の首都で、世界でも有数の大都市です。多くの観光客が毎年訪れます。春には桜が咲きます。",
          "zh": "北京是中国的首都，有很多名胜古迹。每年都有很多游客来参观故宫和长城。秋天的天气最好。",
          "de": "Berlin ist die Hauptstadt Deutschlands und hat viele Museen. Im Sommer sitzen die Leute gern im Park.",
          "es": "Madrid es la capital de España y tiene muchos museos. En verano la gente pasea por los parques.",
          "fr": "Paris est la capitale de la France et compte de nombreux musées. En été, on se promène dans les parcs."}
PROMPT = {"ko": "한국의 수도에 대해 설명해 주세요.", "ja": "日本の首都について説明してください。", "zh": "请介绍一下中国的首都。",
          "de": "Beschreiben Sie die Hauptstadt Deutschlands.", "es": "Describe la capital de España por favor.",
          "fr": "Décrivez la capitale de la France, s'il vous plaît."}


def _load(name):
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _lcb(root: Path, n: int = 8) -> Path:
    out = root / "outputs"
    out.mkdir(parents=True)
    with open(out / "command-r.csv", "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "model", "completion", "task", "source", "language"])
        for lang in ANSWER:
            for i in range(n):
                w.writerow([i, "command-r", f"{ANSWER[lang]} ({i})", "monolingual", "native_prompts", lang])
    for lang in ANSWER:
        d = root / "test_sets" / "monolingual" / "native"
        d.mkdir(parents=True, exist_ok=True)
        with open(d / f"{lang}.csv", "w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["prompt", "source", "language"])
            for i in range(n):
                w.writerow([f"{PROMPT[lang]} {i}", "native_prompts", lang])
    return root


def test_build_and_report_cheap(tmp_path, capsys):
    lcb = _lcb(tmp_path / "lcb")
    build = _load("build_quality_devset")
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    assert build.main(["--lcb", str(lcb), "--out", str(a), "--per-kind", "3"]) == 0
    assert build.main(["--lcb", str(lcb), "--out", str(b), "--per-kind", "3"]) == 0
    assert a.read_bytes() == b.read_bytes()  # deterministic
    rows = [json.loads(x) for x in a.read_text(encoding="utf-8").splitlines()]
    kinds = {(r["language"], r["kind"]) for r in rows}
    assert len(kinds) == 6 * 5 and all(r["expected_valid"] == (r["kind"] == "genuine") for r in rows)
    salad = next(r for r in rows if r["kind"] == "salad" and r["language"] == "de")
    words = salad["completion"].split()
    assert any(sorted(words) == sorted(f"{ANSWER['de']} ({i})".split()) for i in range(8))  # same words
    assert words not in [f"{ANSWER['de']} ({i})".split() for i in range(8)]  # in another order
    capsys.readouterr()
    assert _load("quality_devset_report").main([str(a), "--cheap"]) == 0
    table = capsys.readouterr().out
    assert table.count("\n| ") >= 6 and "| ko | 100.0 (3/3) | 0.0 (0/3) | 0.0 (0/3) |" in table


@pytest.mark.parametrize("lang", ["ja", "zh", "ko", "de"])
def test_generators_keep_the_script(lang):
    import random

    from langlock.quality import corrupt as build

    rng = random.Random(0)
    text = ANSWER[lang]
    letters = {c for c in text if c.isalpha()}
    for fn in (build.make_noise, build.make_salad):
        out = fn(text, lang, rng)
        assert out != text and {c for c in out if c.isalpha()} <= letters
    assert len(build.make_loop(text, lang, rng)) >= 8
