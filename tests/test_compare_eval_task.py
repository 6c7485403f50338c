"""`CompareConfig.eval_task`: which LCB tasks a comparison evaluates (the guarded TLPO measurement uses the
cross-lingual prompts only), carried into the evaluation plan; the shipped guard config loads."""

from __future__ import annotations

from pathlib import Path

import pytest

from langlock.compare import CompareConfig
from langlock.compare.evaluate import plan_for
from langlock.errors import UsageError

ROOT = Path(__file__).resolve().parents[1]


def test_eval_task_reaches_the_plan_and_is_checked():
    cfg = CompareConfig(model="m", language="ko", output_dir="o", eval_suite=None, eval_lcb_dir="lcb",
                        eval_task="crosslingual")
    assert plan_for(cfg, "tlpo", 1).confusion.task == "crosslingual"
    default = CompareConfig(model="m", language="ko", output_dir="o")
    assert plan_for(default, "base", 0).confusion.task == "all"
    with pytest.raises(UsageError, match="eval_task"):
        CompareConfig(model="m", language="ko", output_dir="o", eval_task="cross")


def test_guard_config_selects_the_cross_lingual_ko_prompts():
    cfg = CompareConfig.from_yaml(ROOT / "configs/compare/smollm2-ko-tlpo-guard.yaml")
    assert cfg.methods == ["base", "tlpo"] and cfg.eval_task == "crosslingual" and cfg.threads == 1
    assert "guard" in cfg.checkpoints["tlpo"]
    lcb = (ROOT / cfg.eval_lcb_dir)
    if not lcb.is_dir():
        pytest.skip(f"no LCB test sets at {lcb}")
    from langlock.bench.prompts import load_lcb

    spec = plan_for(cfg, "base", 0).confusion
    prompts = load_lcb(lcb, task=spec.task, langs=spec.langs, limit=spec.limit)
    assert len(prompts) == 36 and {p.task for p in prompts} == {"crosslingual"}
    assert {p.language for p in prompts} == {"ko"}


def test_data_stage_options_are_checked(tmp_path, monkeypatch):
    """sample_shots and sample_in_language are validated; in-language sampling needs the cross-lingual
    builtin-train pool and a language the project wrote the requests in; its prompt rows carry them."""
    import json

    from langlock.compare.data import build_data

    with pytest.raises(UsageError, match="sample_shots"):
        CompareConfig(model="m", language="ko", output_dir="o", sample_shots=-1)
    with pytest.raises(UsageError, match="sample_in_language"):
        CompareConfig(model="m", language="ko", output_dir="o", sample_in_language=True)
    de = CompareConfig(model="m", language="de", output_dir=str(tmp_path / "de"), pool_task="crosslingual",
                       sample_in_language=True, pool_rules={"banned_substrings": []})
    with pytest.raises(UsageError, match="no de version"):
        build_data(de)

    class Stop(Exception):
        pass

    import langlock.databuild.sample as sample

    def no_model(*a, **k):  # the prompts stage runs; sampling would need a model: stop there
        raise Stop

    ko = CompareConfig(model="m", language="ko", output_dir=str(tmp_path / "ko"), pool_task="crosslingual",
                       sample_in_language=True, pool_rules={"banned_substrings": []}, pool_limit=5)
    monkeypatch.setattr(sample, "sample_completions", no_model)
    with pytest.raises(Stop):
        build_data(ko)
    rows = [json.loads(x) for x in (tmp_path / "ko" / "data" / "prompts-inlang.jsonl").read_text().splitlines()]
    assert len(rows) == 5 and rows[0]["sample_prompt"] == "맛있는 커피 한 주전자를 내리는 방법을 알려 주세요."
    assert "Korean" in rows[0]["prompt"]


def test_in_language_subject_config_loads():
    cfg = CompareConfig.from_yaml(ROOT / "configs/subjects/gemma-it-ko-inlang.yaml")
    assert cfg.sample_in_language and cfg.pool_task == "crosslingual" and cfg.language == "ko"
    assert cfg.methods == ["base", "sft"] and cfg.eval_quality == "full" and cfg.pair_validity == "full"


def test_in_language_replay_subject_config_loads():
    cfg = CompareConfig.from_yaml(ROOT / "configs/subjects/gemma-it-ko-inlang-replay.yaml")
    assert cfg.sample_in_language and cfg.replay_english == 24 and cfg.seeds == [0, 1, 2]
    assert cfg.train["max_steps"] == 12


def test_in_language_pairs_pair_in_language_answers_with_own_answers(tmp_path, monkeypatch):
    """in_language_pairs: each request is also sampled as written; the in-language answer (clean) is chosen and
    the model's own English answer to the request (confused) rejected, for the request as written."""
    import json

    import langlock.databuild.sample as sample
    from langlock.compare.data import build_data

    korean = "커피를 맛있게 내리려면 신선한 원두를 곱게 갈아서 뜨거운 물을 천천히 부어 주세요. 그러면 향이 좋습니다."
    english = "To brew good coffee, grind fresh beans finely and pour hot water over them slowly for a rich aroma."
    seen = []

    def fake_generator(settings, dtype="float32", device="cpu"):
        def generate(requests):
            seen.extend(prompt for prompt, _, _ in requests)
            return [[korean if any("\uac00" <= ch <= "\ud7a3" for ch in prompt) else english] * n
                    for prompt, n, _ in requests]
        return generate

    monkeypatch.setattr(sample, "hf_generator", fake_generator)
    with pytest.raises(UsageError, match="in_language_pairs"):
        CompareConfig(model="m", language="ko", output_dir="o", in_language_pairs=True)
    cfg = CompareConfig(model="m", language="ko", output_dir=str(tmp_path / "ko"), pool_task="crosslingual",
                        sample_in_language=True, in_language_pairs=True, pool_rules={"banned_substrings": []},
                        pool_limit=3, samples_per_prompt=1, pair_ignore_english=False)
    pairs_dir = build_data(cfg)
    assert pairs_dir.name.endswith("-inlang+own")
    data = tmp_path / "ko" / "data"
    prompts = [json.loads(x) for x in (data / "prompts-inlang.jsonl").read_text().splitlines()]
    assert sorted(seen) == sorted([p["sample_prompt"] for p in prompts] + [p["prompt"] for p in prompts])
    pairs = [json.loads(x) for x in (pairs_dir / "pairs.jsonl").read_text().splitlines()]
    assert len(pairs) == 3
    for pair, p in zip(pairs, prompts):
        text = json.dumps(pair, ensure_ascii=False)
        assert p["prompt"] in text and korean in json.dumps(pair["chosen"], ensure_ascii=False)
        assert english in json.dumps(pair["rejected"], ensure_ascii=False)
    # a rerun reuses every file: nothing is sampled again
    seen.clear()
    assert build_data(cfg) == pairs_dir and seen == []


def test_gemma_it1200_subject_configs_load():
    joint = CompareConfig.from_yaml(ROOT / "configs/subjects/gemma-it1200-ko-joint.yaml")
    assert joint.pooled_languages() == ["ko", "ja"] and joint.replay_english == 24
    assert joint.methods == ["base", "sft", "joint-sft"] and joint.model == "runs/gemma3-270m-it-1200/merged"
    # the first subject (Japanese): every method; the second (Korean): base, lock, the best baseline, TLPO
    first = CompareConfig.from_yaml(ROOT / "configs/subjects/gemma-it1200-ja-head-to-head.yaml")
    second = CompareConfig.from_yaml(ROOT / "configs/subjects/gemma-it1200-ko-head-to-head.yaml")
    for h2h in (first, second):
        assert h2h.in_language_pairs and h2h.sample_in_language and h2h.pool_limit is None and h2h.eval_limit is None
        assert h2h.model == "gemma3-270m-it" and h2h.seeds == [0, 1, 2] and h2h.eval_lcb_dir
    assert first.language == "ja" and second.language == "ko"
    assert {"base", "dpo", "orpo", "grpo", "tbpo-q", "tlpo", "site", "fewshot", "lock", "sft"} <= set(first.methods)
    assert {"base", "lock", "tlpo"} <= set(second.methods)
    # the held-out half evaluates the first subject's trained models on builtin-confusion, training nothing
    held = CompareConfig.from_yaml(ROOT / "configs/subjects/gemma-it1200-ja-head-to-head-heldout.yaml")
    assert held.eval_suite == "builtin-confusion" and not held.needs_data() and held.methods == first.methods
    assert all(first.output_dir in str(path) for path in held.checkpoints.values())


def test_answer_prefixes_prime_the_target_languages_samples_only(tmp_path, monkeypatch):
    """sample_answer_prefixes: the target language's samples are primed with its openers (a ``-primed`` data
    folder); the English replay is sampled unprimed; bad values and the clash with in_language_pairs are usage
    errors."""
    import json

    import langlock.databuild.sample as sample
    from langlock.compare.data import build_data

    seen = []

    def fake_generator(settings, dtype="float32", device="cpu"):
        def generate(requests):
            seen.append(settings.answer_prefixes)
            return [[settings.prefix(seed, i) + " 커피는 신선한 원두를 곱게 갈아 뜨거운 물로 천천히 내리면 향이 좋아요."
                     if settings.answer_prefixes else "Brew fresh coffee slowly with hot water for a rich aroma."
                     for i in range(n)] for _, n, seed in requests]
        return generate

    monkeypatch.setattr(sample, "hf_generator", fake_generator)
    for bad in ({"ko": []}, {"ko": "좋아요"}, {"xx": ["a"]}, ["좋아요"]):
        with pytest.raises(UsageError):
            CompareConfig(model="m", language="ko", output_dir="o", sample_answer_prefixes=bad)
    with pytest.raises(UsageError, match="one of the two"):
        CompareConfig(model="m", language="ko", output_dir="o", pool_task="crosslingual", sample_in_language=True,
                      in_language_pairs=True, sample_answer_prefixes={"ko": ["좋아요."]})
    cfg = CompareConfig(model="m", language="ko", output_dir=str(tmp_path / "ko"), pool_task="crosslingual",
                        pool_rules={"banned_substrings": []}, pool_limit=2, samples_per_prompt=1,
                        pair_ignore_english=False, sample_answer_prefixes={"ko": ["좋은 질문이에요."]},
                        replay_english=2)
    pairs_dir = build_data(cfg)
    assert "-primed" in pairs_dir.name and pairs_dir.name.endswith("+replay2")
    assert seen == [("좋은 질문이에요.",), ()]  # the Korean data primed, the English replay not
    sft = [json.loads(x) for x in (pairs_dir / "sft.jsonl").read_text().splitlines()]
    assert [r["completion"][0]["content"].startswith("좋은 질문이에요.") for r in sft if r["language"] == "ko"] == [True] * 2
