"""LanguageLock: the off-target vocabulary mask on a tiny byte-level BPE trained here on en/ko/zh text, the
entropy gate, both modes, and use inside `model.generate`."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from langlock.errors import UsageError  # noqa: E402
from langlock.inference import stats  # noqa: E402
from langlock.inference.vocab import FAIL, bytes_verdict, off_target_mask, token_bytes  # noqa: E402

LINES = [
    "Hello world, the language model answers in English 123.",
    "The weather is nice today. Please reply in Korean!",
    "안녕하세요, 오늘 날씨가 좋습니다. 한국어로 대답해 주세요.",
    "한국어 모델은 질문에 한국어로 답합니다 2024년.",
    "你好，今天天气很好。请用中文回答这个问题。",
    "语言模型应该用中文回答 42 个问题。",
    "def main(x2): return x2 + 1  # code_piece",
]


@pytest.fixture(scope="module")
def tok():
    """A byte-level BPE (all 256 byte tokens + merges learnt from the lines above), as a transformers
    tokenizer."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tk = Tokenizer(models.BPE())
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tk.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=600, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tk.train_from_iterator(LINES * 3, trainer=trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tk, eos_token="<|endoftext|>", pad_token="<|endoftext|>",
                                   name_or_path="tiny-bpe-en-ko-zh")


def _ids(tok, text):
    return tok(text, add_special_tokens=False)["input_ids"]


def test_digits_punctuation_whitespace_never_blocked(tok):
    pieces = token_bytes(tok)
    for lang in ("ko", "zh", "ru", "en"):
        mask = off_target_mask(tok, lang)
        checked = 0
        for i, data in enumerate(pieces):
            if data is None:
                assert not mask[i]  # special tokens
                continue
            text = data.decode("utf-8", errors="ignore")
            if text and len(text) == len(data) and all(c.isdigit() or c.isspace() or not c.isalnum() for c in text):
                assert not mask[i], (lang, text)
                checked += 1
        assert checked > 20
    for text in ["123", " ", "\n", ".", ",", "2024", "!", "  "]:
        for i in _ids(tok, text):
            assert not off_target_mask(tok, "ko")[i]


def test_latin_word_piece_blocked_for_korean_not_for_english(tok):
    ko, en, zh = off_target_mask(tok, "ko"), off_target_mask(tok, "ko", allow_latin=True), off_target_mask(tok, "zh")
    english_ids = _ids(tok, "Hello world language")
    assert any(len(tok.decode([i]).strip()) > 2 for i in english_ids)  # real word pieces, not single bytes
    assert all(ko[i] for i in english_ids)
    assert all(zh[i] for i in english_ids)
    assert not any(en[i] for i in english_ids)  # allow_latin: English passes for ko
    assert not any(off_target_mask(tok, "en")[i] for i in english_ids)
    korean_ids = _ids(tok, "안녕하세요 한국어")
    assert not any(ko[i] for i in korean_ids)
    assert all(off_target_mask(tok, "en")[i] or not tok.decode([i]).strip() for i in korean_ids)
    chinese_ids = _ids(tok, "你好 中文")
    assert not any(zh[i] for i in chinese_ids)
    assert any(ko[i] for i in chinese_ids)  # Hanzi are another script for ko


def test_partial_utf8_pieces():
    # A Hangul lead byte can still become a Hangul syllable: never blocked for ko; blocked for ru.
    assert bytes_verdict(b"\xea", "ko") != FAIL
    assert bytes_verdict("한".encode()[:2], "ko") != FAIL
    assert bytes_verdict(b"\xed", "ru") == FAIL  # U+D000-U+D7FF: Hangul only (0xEA also holds Cyrillic Ext-B)
    # A Cyrillic lead byte only becomes Cyrillic letters: blocked for ko, fine for ru.
    assert bytes_verdict(b"\xd0", "ko") == FAIL
    assert bytes_verdict(b"\xd0", "ru") != FAIL
    # Continuation bytes finish an earlier character: never blocked; letters after them still count.
    assert bytes_verdict(b"\x95\x9c", "ko") != FAIL
    assert bytes_verdict(b"\x95\x9cabc", "ko") == FAIL
    # Code and numbers are never blocked, plain Latin words are.
    for code in (b"x2", b"_init", b" print(", b"{x}", b"3rd"):
        assert bytes_verdict(code, "ko") != FAIL, code
    assert bytes_verdict(b" hello", "ko") == FAIL
    assert bytes_verdict(" 서울".encode(), "ko") != FAIL
    assert bytes_verdict("ñandú".encode(), "es") != FAIL
    assert bytes_verdict("서울".encode(), "es") == FAIL


def test_byte_tokens_in_vocabulary(tok):
    """The tokenizer's single-byte tokens get the partial-sequence verdicts above."""
    ko = off_target_mask(tok, "ko")
    by_bytes = {data: i for i, data in enumerate(token_bytes(tok)) if data is not None}
    assert not ko[by_bytes[b"\xea"]] and not ko[by_bytes[b"\xed"]]  # Hangul leads
    assert ko[by_bytes[b"\xd0"]]  # Cyrillic lead
    assert not ko[by_bytes[b"\x80"]]  # continuation byte
    assert ko[by_bytes[b"a"]] and not ko[by_bytes[b"7"]]


def test_mask_is_cached_per_tokenizer_and_language(tok):
    assert off_target_mask(tok, "ko") is off_target_mask(tok, "ko")
    assert off_target_mask(tok, "ko") is not off_target_mask(tok, "zh")
    with pytest.raises(UsageError):
        off_target_mask(tok, "xx")


def _lock(tok, **kw):
    from langlock.inference.lock import LanguageLock

    return LanguageLock(tok, "ko", **kw)


def test_entropy_gate_no_effect_below_threshold(tok):
    lock = _lock(tok, entropy_threshold=1.0)
    v = len(tok)
    peaked = torch.full((1, v), -20.0)
    peaked[0, _ids(tok, "hello")[0]] = 10.0  # a blocked token, but the model is sure: entropy ~ 0
    flat = torch.zeros((1, v))  # entropy log(v) > 1
    scores = torch.cat([peaked, flat])
    out = lock(None, scores.clone())
    assert torch.equal(out[0], peaked[0])
    blocked = torch.from_numpy(off_target_mask(tok, "ko").copy())
    assert torch.isinf(out[1][blocked]).all() and torch.equal(out[1][~blocked], flat[0][~blocked])
    assert lock.steps == 2 and lock.active_steps == 1


def test_always_and_penalize_modes(tok):
    blocked = torch.from_numpy(off_target_mask(tok, "ko").copy())
    scores = torch.randn(3, len(tok) + 5)  # output layer larger than the tokenizer: padding never blocked
    out = _lock(tok)(None, scores.clone())
    assert torch.isinf(out[:, : len(tok)][:, blocked]).all()
    assert torch.equal(out[:, len(tok):], scores[:, len(tok):])
    pen = _lock(tok, mode="penalize", penalty=3.0)(None, scores.clone())
    assert torch.allclose(pen[:, : len(tok)][:, blocked], scores[:, : len(tok)][:, blocked] - 3.0)
    assert torch.equal(pen[:, : len(tok)][:, ~blocked], scores[:, : len(tok)][:, ~blocked])
    with pytest.raises(UsageError):
        _lock(tok, mode="ban")


def test_row_with_only_blocked_candidates_is_left_alone(tok):
    blocked = torch.from_numpy(off_target_mask(tok, "ko").copy())
    scores = torch.full((1, len(tok)), float("-inf"))
    scores[0, blocked.nonzero()[0, 0]] = 1.0
    assert torch.equal(_lock(tok)(None, scores.clone()), scores)


def test_stats_entropy_and_nucleus():
    uniform = torch.zeros(1, 8)
    assert math.isclose(float(stats.entropy(uniform)[0]), math.log(8), rel_tol=1e-6)
    probs = torch.tensor([[0.5, 0.3, 0.1, 0.1]])
    logits = probs.log()
    assert int(stats.nucleus_size(logits, 0.75)[0]) == 2  # 0.5 < 0.75 <= 0.8
    assert int(stats.nucleus_size(logits, 0.5)[0]) == 1
    assert int(stats.nucleus_size(logits, 0.85)[0]) == 3
    one_hot = torch.tensor([[0.0, float("-inf"), float("-inf")]])
    assert float(stats.entropy(one_hot)[0]) == 0.0


class _Boost:
    """Makes one token overwhelmingly likely, so an unlocked greedy decode picks it every step."""

    def __init__(self, token_id):
        self.token_id = token_id

    def __call__(self, input_ids, scores):
        scores = scores.clone()
        scores[:, self.token_id] += 100.0
        return scores


def test_inside_model_generate(tok):
    from transformers import LlamaConfig, LlamaForCausalLM, LogitsProcessorList

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=128,
                         pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id)
    model = LlamaForCausalLM(config).eval()
    prompt = torch.tensor([_ids(tok, "안녕하세요")])
    latin = _ids(tok, " world")[0]
    mask = off_target_mask(tok, "ko")
    assert mask[latin]

    def run(*processors):
        out = model.generate(prompt, max_new_tokens=8, do_sample=False, pad_token_id=tok.pad_token_id,
                             logits_processor=LogitsProcessorList(list(processors)))
        return out[0, prompt.shape[1]:].tolist()

    assert run(_Boost(latin)) == [latin] * 8
    locked = run(_Boost(latin), _lock(tok))
    assert len(locked) == 8 and not any(mask[t] for t in locked)
    # A threshold above any possible entropy (log V) leaves decoding exactly as it was.
    assert run(_Boost(latin), _lock(tok, entropy_threshold=math.log(len(tok)) + 1)) == [latin] * 8


def test_hf_backend_lock_hook():
    """A per-language lock (`LockFactory` through the core's per-row processors) runs before the sampler: no
    Latin letter survives in the Korean rows, and the rows of another language decode exactly as without it."""
    import re

    from transformers import LlamaForCausalLM

    from langlock.generate import GenerationSettings, PromptItem
    from langlock.generate.hf import DecodeOptions, HFGenerator
    from langlock.inference.lock import LockFactory

    from tiny_models import make_config, make_tokenizer

    torch.manual_seed(0)
    tok = make_tokenizer()
    model = LlamaForCausalLM(make_config(vocab_size=len(tok))).eval()
    prompts = [PromptItem(f"k{i}", "Say hello", language="ko" if i < 3 else "en") for i in range(5)]
    settings = GenerationSettings(max_new_tokens=12, temperature=1.0, top_p=1.0)

    def run(options=None):
        out = {}
        HFGenerator(model_obj=model, tokenizer=tok).generate(prompts, settings, lambda c: out.__setitem__(c.key, c.text),
                                                             options)
        return out

    plain, locked = run(), run(DecodeOptions(processors=LockFactory(tok, {"ko": {}})))
    ko = [k for k in plain if int(k[1:]) < 3]
    assert any(re.search("[A-Za-z]", plain[k]) for k in ko)  # the random model does emit Latin letters
    assert not any(re.search("[A-Za-z]", locked[k]) for k in ko)
    assert all(locked[k] == plain[k] for k in plain if k not in ko)  # English rows: no lock, same sampling
