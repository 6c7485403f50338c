"""LanguageLock in vLLM: both runner adapters equal the `transformers` processor on the same inputs (masks,
blocked-token counts, logits), the request arguments, and the lock inside the running engine (greedy
vLLM under the lock = greedy hf under the lock)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from _vllm_support import vllm_run
from transformers import AutoTokenizer

from langlock.generate import GenerationSettings, PromptItem
from langlock.inference import lock_args
from langlock.inference.lock import LanguageLock
from langlock.inference.vllm_lock import LanguageLockV1, LanguageLockV2, processor_fqcn, uses_v2_runner
from langlock.inference.vocab import off_target_mask

pytestmark = pytest.mark.vllm

LANGS = ("ko", "ru", "en")


@pytest.fixture(scope="module")
def tokenizer(model_dir):
    return AutoTokenizer.from_pretrained(model_dir)


def fake_config(model_dir, vocab):
    """The two fields of a VllmConfig the processor reads."""
    return SimpleNamespace(model_config=SimpleNamespace(tokenizer=model_dir, tokenizer_revision=None,
                                                        get_vocab_size=lambda: vocab))


def params(language=None, **opts):
    return SimpleNamespace(extra_args=lock_args.request_args(language, **opts) if language else None)


def reference(tokenizer, logits, specs):
    """Row by row through the transformers processor; rows without a spec unchanged."""
    out = logits.clone()
    for row, (lang, opts) in specs.items():
        out[row] = LanguageLock(tokenizer, lang, **opts)(None, logits[row:row + 1].clone())[0]
    return out


SPECS = {0: ("ko", {}), 2: ("ru", {"mode": "penalize", "penalty": 3.0}), 3: ("ko", {}),
         4: ("en", {"entropy_threshold": 0.5})}


def test_v2_adapter_equals_transformers_lock(tokenizer, model_dir):
    vocab = len(tokenizer)
    proc = LanguageLockV2(fake_config(model_dir, vocab), SimpleNamespace(vocab_size=vocab, device="cpu"))
    # request slots != rows: row r holds slot slots[r]
    slots = [5, 1, 7, 0, 3, 2]
    for row, slot in enumerate(slots):
        lang, opts = SPECS.get(row, (None, {}))
        assert proc.add_request(slot, params(lang, **opts)) is (lang is not None)
    torch.manual_seed(0)
    logits = torch.randn(len(slots), vocab) * 4
    want = reference(tokenizer, logits, SPECS)
    got = proc.apply(logits.clone(), SimpleNamespace(expanded_idx_mapping=torch.tensor(slots)))
    assert torch.equal(got, want)
    # a recycled slot without a lock is cleared
    proc.add_request(5, params(None))
    again = proc.apply(logits.clone(), SimpleNamespace(expanded_idx_mapping=torch.tensor(slots)))
    assert torch.equal(again[0], logits[0]) and torch.equal(again[3], want[3])


def test_v1_adapter_follows_batch_updates(tokenizer, model_dir):
    from vllm.v1.sample.logits_processor import BatchUpdate, MoveDirectionality

    vocab = len(tokenizer)
    proc = LanguageLockV1(fake_config(model_dir, vocab), "cpu", False)
    assert proc.is_argmax_invariant() is False
    added = [(row, params(*((SPECS[row][0],) if row in SPECS else ()), **SPECS.get(row, (None, {}))[1]), [], [])
             for row in range(6)]
    proc.update_state(BatchUpdate(batch_size=6, removed=[], added=added, moved=[]))
    torch.manual_seed(1)
    logits = torch.randn(6, vocab) * 4
    assert torch.equal(proc.apply(logits.clone()), reference(tokenizer, logits, SPECS))
    # swap rows 0 and 1, move 4 -> 5, remove 2
    proc.update_state(BatchUpdate(batch_size=5, removed=[2], added=[], moved=[
        (0, 1, MoveDirectionality.SWAP), (4, 5, MoveDirectionality.UNIDIRECTIONAL)]))
    moved = {1: SPECS[0], 3: SPECS[3], 5: SPECS[4]}
    assert torch.equal(proc.apply(logits.clone()), reference(tokenizer, logits, moved))
    proc.update_state(None)  # no change
    assert torch.equal(proc.apply(logits.clone()), reference(tokenizer, logits, moved))


@pytest.mark.parametrize("language", LANGS)
def test_same_masks_and_blocked_counts(tokenizer, model_dir, language):
    vocab = len(tokenizer)
    proc = LanguageLockV2(fake_config(model_dir, vocab), SimpleNamespace(vocab_size=vocab, device="cpu"))
    hf = LanguageLock(tokenizer, language)
    assert proc.table.blocked_tokens(language) == hf.n_blocked > 0
    assert torch.equal(proc.table.mask(language), torch.from_numpy(off_target_mask(tokenizer, language).copy()))
    # a wider output layer: padding ids never blocked, as in the transformers processor
    wide = torch.zeros(2, vocab + 64)
    assert torch.equal(proc.table.mask(language, size=vocab + 64), hf._mask_for(wide))


def test_request_args_checked():
    assert lock_args.parse_args(None) is None and lock_args.parse_args({"other": 1}) is None
    spec = lock_args.parse_args(lock_args.request_args("ko", mode="penalize", penalty=2, entropy_threshold=1.0))
    assert spec == lock_args.LockSpec("ko", "penalize", 2.0, 1.0, False)
    # what an OpenAI request's vllm_xargs carries: strings and numbers
    assert lock_args.parse_args({"langlock_lock": "zh", "langlock_lock_allow_latin": "1"}).allow_latin
    for bad in ({"langlock_lock": "xx"}, {"langlock_lock": "sw"}, {"langlock_lock": "ko", "langlock_lock_mode": "x"},
                {"langlock_lock": "ko", "langlock_lock_penalty": "-1"}):
        with pytest.raises(ValueError):
            lock_args.parse_args(bad)


def test_processor_fits_the_runner():
    assert processor_fqcn().endswith("LanguageLockV2" if uses_v2_runner() else "LanguageLockV1")
    assert processor_fqcn(v2=False) == "langlock.inference.vllm_lock:LanguageLockV1"


def test_lock_in_engine_equals_hf_lock(engine, hf_reference):
    """Greedy decoding under the ko lock: vLLM's tokens = hf's tokens under LanguageLock, and no generated
    token is off-target; unlocked rows in the same batch are untouched (equal to an unlocked run)."""
    items = [PromptItem("ko-1", "Explain in one short paragraph why the sky is blue.", language="ko"),
             PromptItem("ko-2", "Write two sentences about the sea.", language="ko"),
             PromptItem("en-1", "Write two sentences about the sea.", language="en")]
    settings = GenerationSettings(max_new_tokens=32, temperature=0)
    locks = {"ko": {"mode": "suppress"}}
    ours = vllm_run(engine, items, settings, locks=locks)
    ref = hf_reference(items, settings, locks)
    same = sum(ours[k].token_ids == ref[k]["token_ids"] for k in ref)
    assert same >= 2, {k: (ours[k].text, ref[k]["text"]) for k in ref}
    mask = off_target_mask(engine.tokenizer, "ko")
    for k in ("ko-1", "ko-2"):
        assert not any(mask[t] for t in ours[k].token_ids)
    plain = vllm_run(engine, items, settings, locks={})
    assert plain["en-1"].token_ids == ours["en-1"].token_ids
    assert plain["ko-1"].token_ids != ours["ko-1"].token_ids  # English answers: the lock had work to do
