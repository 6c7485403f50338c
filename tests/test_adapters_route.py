"""Routing: the request-language parser on every prompt of the benchmark, and PEFT mixed-batch routed
generation in the generation core equal, row for row, to generating each row alone with its adapter."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest

from langlock.adapters.route import instructed_language, requested_language, route_languages, routing_report

from tiny_models import make_adapter_dir, make_model_dir


def _rows(lcb_dir: Path, task: str):
    for f in sorted((lcb_dir / "test_sets").glob(f"{task}/*/*.csv")):
        with open(f, encoding="utf-8", newline="") as fh:
            for r in csv.DictReader(fh):
                yield f.parent.name, r


def test_route_parser_on_every_crosslingual_prompt_of_the_benchmark(lcb_dir):
    total, right, phrasings = Counter(), Counter(), Counter()
    for source, r in _rows(lcb_dir, "crosslingual"):
        key = (source, r["language"])
        total[key] += 1
        phrasings[r["phrasing"]] += 1
        right[key] += requested_language(r["prompt"]) == r["language"]
    assert sum(total.values()) > 4000 and len(phrasings) >= 8  # every phrasing pattern of the benchmark
    worst = min((right[k] / total[k], k) for k in total)
    assert worst[0] >= 0.98, worst


def test_route_parser_falls_back_to_the_prompt_language_on_monolingual_prompts(lcb_dir):
    total = right = 0
    for _, r in _rows(lcb_dir, "monolingual"):
        total += 1
        right += requested_language(r["prompt"]) == r["language"]
    assert total > 2000 and right / total >= 0.98, right / total


@pytest.mark.parametrize("text,lang", [
    ("Reply in Korean. Explain the Gini index.", "ko"),
    ("Explain in German how the Gini index is calculated.", "de"),
    ("Explain how the Gini index is calculated. Respond in Arabic.", "ar"),
    ("Use Spanish. What is a prime?", "es"),
    ("Write a poem using Hindi.", "hi"),
    ("A short text written in Turkish, please, about cats.", "tr"),
    ("Fluent in English and Mandarin. Please answer in Japanese.", "ja"),
    ("What happened in the French Revolution?", None),
    ("Tell me about cats.", None),
])
def test_route_instruction_phrasings(text, lang):
    assert instructed_language(text) == lang


def test_route_fallback_and_detected_router():
    assert requested_language("¿Cuál es la capital de Francia y por qué es tan famosa?") == "es"
    assert requested_language("如何选择钓鱼装备？") == "zh"  # Han without kana is Chinese
    texts = ["Reply in Korean. What is rain?", "Was ist der Unterschied zwischen Wetter und Klima?"]
    assert route_languages(texts, ["ko", "de"], "requested") == ["ko", "de"]
    assert route_languages(texts, ["ko", "de"], "detected") == ["en", "de"]
    assert route_languages(texts, ["ko", "de"], "oracle") == ["ko", "de"]


def test_route_report_counts_language_and_adapter_accuracy():
    rep = routing_report("detected", ["ko", "de", "fr", "fr"], ["en", "de", "fr", "es"], {"ko": "ko", "de": "de"},
                         ["crosslingual", "monolingual", "monolingual", "monolingual"])
    assert rep["overall"] == {"n": 4, "language_accuracy": 0.5, "adapter_accuracy": 0.75}  # fr->es: base either way
    assert rep["per_task"]["crosslingual"]["adapter_accuracy"] == 0.0
    assert rep["misrouted"] == {"ko->en": 1, "fr->es": 1}


@pytest.fixture(scope="module")
def routed(tmp_path_factory):
    from langlock.models import load_model_and_tokenizer
    from langlock.models.adapter import load_adapters

    root = tmp_path_factory.mktemp("route")
    base = make_model_dir(root / "base")
    dirs = {}
    for i, name in enumerate(("ko", "ja", "de")):
        dirs[name] = root / name
        make_adapter_dir(base, dirs[name], seed=10 + i)
    model, tok, _ = load_model_and_tokenizer(base)
    return load_adapters(model, dirs, base), tok


def test_route_mixed_batch_equals_each_row_alone_with_its_adapter(routed):
    from langlock.generate import GenerationSettings, PromptItem
    from langlock.generate.hf import HFGenerator

    model, tok = routed
    gen = HFGenerator(model_obj=model, tokenizer=tok, batch_size=8)
    assert gen.adapters == ["de", "ja", "ko"] and gen.describe()["adapters"] == ["de", "ja", "ko"]
    settings = GenerationSettings(max_new_tokens=12, temperature=0)
    names = ["ko", "ja", None, "de", "ko", "de", None, "ja"]
    items = [PromptItem(f"p{i}", "hello " * (i % 3 + 1) + f"question {i}", adapter=n) for i, n in enumerate(names)]
    batched: dict = {}
    gen.generate(items, settings, lambda c: batched.__setitem__(c.key, c.token_ids))
    assert len(gen.batches([(p, gen.render(p.text, settings)) for p in items])) == 1  # one mixed batch
    alone = {}
    for item in items:
        if item.adapter is None:
            with model.disable_adapter():
                plain = HFGenerator(model_obj=model, tokenizer=tok)
                plain.adapters = []
                plain.generate([PromptItem(item.key, item.text)], settings,
                               lambda c: alone.__setitem__(c.key, c.token_ids))
        else:
            model.set_adapter(item.adapter)
            single = HFGenerator(model_obj=model, tokenizer=tok)
            single.adapters = []  # the active adapter alone, no per-row names
            single.generate([PromptItem(item.key, item.text)], settings,
                            lambda c: alone.__setitem__(c.key, c.token_ids))
    assert batched == alone
    # the adapters matter: the same prompt under two adapters and the base gives different tokens
    outs = {}
    for n in ("ko", "ja", None):
        gen.generate([PromptItem("x", "hello question", adapter=n)], settings,
                     lambda c, n=n: outs.__setitem__(n, c.token_ids))
    assert len({tuple(v) for v in outs.values()}) == 3


def test_route_unknown_adapter_is_a_usage_error(routed):
    from langlock.errors import UsageError
    from langlock.generate import GenerationSettings, PromptItem
    from langlock.generate.hf import HFGenerator

    model, tok = routed
    gen = HFGenerator(model_obj=model, tokenizer=tok)
    with pytest.raises(UsageError, match="unknown adapter"):
        gen.generate([PromptItem("a", "hi", adapter="fr")], GenerationSettings(max_new_tokens=2, temperature=0),
                     lambda c: None)


def test_bench_route_writes_routing_accuracy_and_per_row_adapters(tmp_path, lcb_dir, capsys):
    import json

    from langlock.cli.main import main

    base = make_model_dir(tmp_path / "base")
    lib = tmp_path / "lib"
    for i, lang in enumerate(("ko", "de")):
        make_adapter_dir(base, tmp_path / lang, seed=20 + i)
        assert main(["adapters", "add", str(lib), str(tmp_path / lang), "--language", lang]) == 0
    common = ["bench", "--adapters", str(lib), "--lcb-dir", str(lcb_dir / "test_sets"), "--langs", "ko,de,fr",
              "--sources", "okapi", "--limit", "2", "--max-new-tokens", "3", "--temperature", "0", "--no-progress"]
    runs = {}
    for route in ("requested", "detected"):
        out = tmp_path / route
        assert main([*common, "--route", route, "-o", str(out)]) == 0
        results = json.loads((out / "results.json").read_text("utf-8"))
        gens = [json.loads(x) for x in (out / "generations.jsonl").read_text("utf-8").splitlines()]
        runs[route] = results, gens
    results, gens = runs["requested"]
    routing = results["routing"]
    assert routing["table"] == {"de": "de", "ko": "ko"} and results["generator"]["adapters"] == ["de", "ko"]
    assert routing["overall"]["language_accuracy"] == 1.0 and routing["overall"]["n"] == len(gens) == 10
    assert {(g["language"], g["adapter"]) for g in gens} == {("ko", "ko"), ("de", "de"), ("fr", "__base__")}
    results, gens = runs["detected"]  # cross-lingual prompts are English: they go to the base
    cross = [g for g in gens if g["task"] == "crosslingual"]
    assert cross and all(g["adapter"] == "__base__" for g in cross)
    assert results["routing"]["per_task"]["crosslingual"]["language_accuracy"] == 0.0
    assert results["routing"]["per_task"]["monolingual"]["language_accuracy"] == 1.0
    same = {g["key"]: g["completion"] for g in runs["requested"][1] if g["task"] == "monolingual"}
    assert same == {g["key"]: g["completion"] for g in gens if g["task"] == "monolingual"}
    capsys.readouterr()
    assert main([*common, "--backend", "openai", "--base-url", "http://127.0.0.1:9", "--model", "m",
                 "-o", str(tmp_path / "x")]) == 2
    assert "--adapters works with --backend hf (PEFT mixed batches) or vllm" in capsys.readouterr().err
