"""`hf` backend on a tiny model built from config: seeding, batch independence, stops, sampler maths."""

from __future__ import annotations

import pytest
import torch

from langlock.errors import UsageError
from langlock.generate import GenerationSettings, PromptItem, make_generator, prompt_seed
from langlock.generate.hf import sample_one_hot

from tiny_models import make_model_dir


@pytest.fixture(scope="module")
def tiny_gen(tmp_path_factory):
    path = make_model_dir(tmp_path_factory.mktemp("tiny") / "m")
    return make_generator("hf", model=str(path), batch_size=4)


PROMPTS = [PromptItem(f"p{i}", t) for i, t in enumerate(
    ["hello", "안녕하세요, 오늘 어때요?", "Bonjour", "一二三四五六七八九十", "x", "Wie geht's dir heute?"])]


def run(gen, prompts, settings):
    out = {}
    gen.generate(prompts, settings, lambda c: out.__setitem__(c.key, c))
    return out


def test_completions_do_not_depend_on_batch_size_or_order(tiny_gen):
    s = GenerationSettings(max_new_tokens=12, temperature=1.0, top_p=0.9, seed=7)
    a = run(tiny_gen, PROMPTS, s)
    tiny_gen.batch_size = 1
    try:
        b = run(tiny_gen, list(reversed(PROMPTS)), s)
    finally:
        tiny_gen.batch_size = 4
    assert set(a) == {p.key for p in PROMPTS}
    assert {k: c.text for k, c in a.items()} == {k: c.text for k, c in b.items()}


def test_seed_changes_samples_and_greedy_is_deterministic(tiny_gen):
    s1 = GenerationSettings(max_new_tokens=12, temperature=1.0, top_p=1.0, seed=1)
    s2 = GenerationSettings(max_new_tokens=12, temperature=1.0, top_p=1.0, seed=2)
    t1 = {k: c.text for k, c in run(tiny_gen, PROMPTS, s1).items()}
    t2 = {k: c.text for k, c in run(tiny_gen, PROMPTS, s2).items()}
    assert t1 != t2
    g = GenerationSettings(max_new_tokens=8, temperature=0.0, seed=1)
    assert run(tiny_gen, PROMPTS[:2], g) == run(tiny_gen, PROMPTS[:2], GenerationSettings(
        max_new_tokens=8, temperature=0.0, seed=99))


def test_length_and_token_counts(tiny_gen):
    """The stop rule: a row that emits a stop token at its 3rd new token ends there ("stop", 3 tokens counted,
    the stop token not in the text); rows that never emit one run to max_new_tokens ("length")."""
    from langlock.generate.hf import DecodeOptions

    stop = tiny_gen.stop_ids[0]

    class StopAtThird:  # one per row and batch: counts its steps, forces the stop token at the third
        def __init__(self):
            self.step = 0

        def __call__(self, input_ids, scores):
            self.step += 1
            if self.step == 3:
                scores = torch.full_like(scores, float("-inf"))
                scores[:, stop] = 0.0
            return scores

    prompts = [PromptItem(p.key, p.text, language="stop" if i % 2 else None) for i, p in enumerate(PROMPTS)]
    options = DecodeOptions(processors=lambda lang: [StopAtThird()] if lang == "stop" else [])
    out = {}
    tiny_gen.generate(prompts, GenerationSettings(max_new_tokens=5, temperature=1.0, seed=3),
                      lambda c: out.__setitem__(c.key, c), options)
    plain = run(tiny_gen, PROMPTS, GenerationSettings(max_new_tokens=5, temperature=1.0, seed=3))
    for i, p in enumerate(PROMPTS):
        c = out[p.key]
        if i % 2:
            assert (c.finish_reason, c.n_tokens) == ("stop", 3)
            # the two tokens before the forced stop are the row's own sampled ones (same seed as without it)
            assert plain[p.key].text.startswith(c.text)
        else:  # no processor: exactly the plain run (which may stop early by itself)
            assert (c.finish_reason, c.n_tokens, c.text) == (plain[p.key].finish_reason, plain[p.key].n_tokens,
                                                             plain[p.key].text)
    for c in plain.values():
        assert (c.finish_reason == "length") == (c.n_tokens == 5 and c.finish_reason != "stop")
        assert 1 <= c.n_tokens <= 5
    assert any(c.finish_reason == "length" for c in plain.values())


def test_eos_stops_generation(tiny_gen):
    """Bias the model so EOS is certain: every completion stops at once with an empty text."""
    import torch

    eos = tiny_gen.tokenizer.eos_token_id
    head = tiny_gen.model.lm_head
    biased = torch.nn.Linear(head.in_features, head.out_features, bias=True)
    biased.weight.data.zero_()
    biased.bias.data.fill_(-10.0)
    biased.bias.data[eos] = 10.0
    tiny_gen.model.lm_head = biased
    try:
        res = run(tiny_gen, PROMPTS[:2], GenerationSettings(max_new_tokens=6, seed=0))
    finally:
        tiny_gen.model.lm_head = head
    assert all(c.finish_reason == "stop" and c.text == "" and c.n_tokens == 1 for c in res.values())


def test_chat_template_is_applied_and_described(tiny_gen):
    ids = tiny_gen.render("hi", GenerationSettings())
    text = tiny_gen.tokenizer.decode(ids)
    assert text.startswith("<|im_start|>user\nhi<|im_end|>") and text.endswith("<|im_start|>assistant\n")
    d = tiny_gen.describe()
    assert d["chat_template"] and len(d["chat_template_sha256"]) == 64 and tiny_gen.tokenizer.eos_token_id in d["stop_token_ids"]


def test_sampler_nucleus_and_row_independence():
    import torch

    logits = torch.tensor([[5.0, 4.0, 0.0, -1.0], [0.0, 0.0, 0.0, 0.0]])
    picks = set()
    for s in range(200):
        g = [torch.Generator().manual_seed(s), torch.Generator().manual_seed(10_000 + s)]
        out = sample_one_hot(logits, g, temperature=1.0, top_p=0.5)
        assert torch.isfinite(out).sum(dim=1).tolist() == [1, 1]
        picks.add(int(out[0].argmax()))
    assert picks == {0}  # p(token 0) = 0.72 > 0.5: the nucleus is token 0 alone
    g = [torch.Generator().manual_seed(5)]
    one = sample_one_hot(logits[1:], g, 1.0, 1.0).argmax()
    g2 = [torch.Generator().manual_seed(1), torch.Generator().manual_seed(5)]
    two = sample_one_hot(logits[[0, 1]], g2, 1.0, 1.0)[1].argmax()
    assert one == two
    assert int(sample_one_hot(logits, None, 0.0, 1.0)[0].argmax()) == 0


def test_prompt_seed_is_stable_and_distinct():
    assert prompt_seed(0, "a") == prompt_seed(0, "a") != prompt_seed(1, "a") != prompt_seed(0, "b")
    assert 0 <= prompt_seed(123, "x") < 2**63


def test_an_items_own_seed_replaces_the_key_seed():
    assert PromptItem("a", "t").seed_under(3) == prompt_seed(3, "a")
    assert PromptItem("a", "t", seed=11).seed_under(3) == 11


def test_settings_validation():
    with pytest.raises(UsageError):
        GenerationSettings(top_p=0)
    with pytest.raises(UsageError):
        GenerationSettings(max_new_tokens=0)
    assert GenerationSettings().is_benchmark_standard()
    assert not GenerationSettings(temperature=0.7).is_benchmark_standard()


def test_batches_respect_prompt_count_and_token_budget(tiny_gen):
    items = [(PromptItem(str(i), ""), [0] * n) for i, n in enumerate([3000, 1800, 600, 500, 400, 100, 90, 80, 70])]
    tiny_gen.batch_size, tiny_gen.max_batch_tokens = 4, 2048
    try:
        sizes = [[len(ids) for _, ids in b] for b in tiny_gen.batches(items)]
    finally:
        tiny_gen.batch_size, tiny_gen.max_batch_tokens = 4, 4096
    assert sizes == [[3000], [1800], [600, 500, 400], [100, 90, 80, 70]]


def test_length_batches_is_longest_first_stable_and_within_budget():
    from langlock.generate.base import length_batches

    lengths = [50, 3133, 60, 50, 214, 14]
    got = length_batches(list("abcdef"), lengths, batch_size=4, max_batch_tokens=1024)
    assert got == [["b"], ["e", "c", "a", "d"], ["f"]]  # ties keep their order; 3133 > budget: alone
    # a quarter of the budget (4 beams): 214 x 2 > 256, so the 214-token prompt runs alone
    assert length_batches(list("abcdef"), lengths, 4, 256) == [["b"], ["e"], ["c", "a", "d", "f"]]
    assert length_batches([], [], 4, 1024) == []


@pytest.mark.parametrize("temperature, top_p", [(0.3, 0.75), (1.0, 0.9), (2.0, 0.99)])
def test_sampler_fast_path_equals_full_sort(monkeypatch, temperature, top_p):
    import torch

    from langlock.generate import hf

    logits = torch.randn(12, 3000, generator=torch.Generator().manual_seed(0)) * 4

    def draw():
        gens = [torch.Generator().manual_seed(100 + i) for i in range(12)]
        return sample_one_hot(logits, gens, temperature, top_p).argmax(dim=1)

    fast = draw()
    monkeypatch.setattr(hf, "FAST_TOP_K", 3000)  # top-k over the whole vocabulary = a full sort
    assert torch.equal(fast, draw())


# ------------------------------------------------------------------------------- the generation core


def _bench_loop_before_the_core(model, tok, prompts, settings, batch_size=4, max_batch_tokens=4096, lock=None):
    """The `hf` backend's loop as it was before the generation core (oracle): chat template render, length
    batches, GenerationConfig, [lock, sampler], cut at the first stop token, decode."""
    import torch
    from transformers import GenerationConfig, LogitsProcessorList

    from langlock.generate.base import length_batches
    from langlock.generate.hf import SeededSampler, stop_token_ids

    stops = stop_token_ids(tok, model)
    encoded = []
    for p in prompts:
        messages = [{"role": "user", "content": p.text}]
        if settings.system_prompt:
            messages.insert(0, {"role": "system", "content": settings.system_prompt})
        rendered = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        encoded.append((p, tok(rendered, add_special_tokens=False)["input_ids"]))
    out = {}
    for batch in length_batches(encoded, [len(ids) for _, ids in encoded], batch_size, max_batch_tokens):
        padded = tok.pad({"input_ids": [ids for _, ids in batch]}, padding=True, return_tensors="pt")
        gens = [torch.Generator().manual_seed(prompt_seed(settings.seed, p.key)) for p, _ in batch]
        config = GenerationConfig(max_new_tokens=settings.max_new_tokens, do_sample=False, eos_token_id=stops,
                                  pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id)
        sampler = SeededSampler(gens, settings.temperature, settings.top_p)
        with torch.inference_mode():
            res = model.generate(input_ids=padded["input_ids"], attention_mask=padded["attention_mask"],
                                 generation_config=config,
                                 logits_processor=LogitsProcessorList([lock, sampler] if lock else [sampler]))
        for (p, _), ids in zip(batch, res[:, padded["input_ids"].shape[1]:].tolist()):
            cut = next((i for i, t in enumerate(ids) if t in set(stops)), None)
            body = ids if cut is None else ids[:cut]
            text = tok.decode(body, skip_special_tokens=True, clean_up_tokenization_spaces=False)
            out[p.key] = (text, "length" if cut is None else "stop", len(ids) if cut is None else cut + 1)
    return out


@pytest.mark.parametrize("lock", [False, True])
def test_bench_generation_is_bit_identical_to_the_loop_before_the_core(tiny_gen, lock):
    from langlock.generate.hf import DecodeOptions, HFGenerator
    from langlock.inference.lock import LanguageLock, LockFactory

    settings = GenerationSettings(max_new_tokens=10, temperature=0.9, top_p=0.95, seed=11, system_prompt="Be brief.")
    gen = HFGenerator(model_obj=tiny_gen.model, tokenizer=tiny_gen.tokenizer, batch_size=4)
    # with a lock every row asks for Korean, so the per-row processors are one lock for the whole batch
    prompts = [PromptItem(p.key, p.text, language="ko") for p in PROMPTS] if lock else PROMPTS
    options = DecodeOptions(processors=LockFactory(tiny_gen.tokenizer, {"ko": {}})) if lock else None
    out = {}
    gen.generate(prompts, settings, lambda c: out.__setitem__(c.key, c), options)
    got = {k: (c.text, c.finish_reason, c.n_tokens) for k, c in out.items()}
    oracle_lock = LanguageLock(tiny_gen.tokenizer, "ko") if lock else None
    want = _bench_loop_before_the_core(tiny_gen.model, tiny_gen.tokenizer, PROMPTS, settings, lock=oracle_lock)
    assert got == want


def test_renderer_formats():
    from langlock.generate.render import PromptRenderer, chat_messages, qa_text

    shots = ({"role": "user", "content": "q1"}, {"role": "assistant", "content": "a1"})
    assert chat_messages("p", shots, "sys") == [{"role": "system", "content": "sys"}, *shots,
                                                {"role": "user", "content": "p"}]
    assert qa_text("p") == "Q: p\nA:"
    assert qa_text("p", shots) == "Q: q1\nA: a1\n\nQ: p\nA:"
    assert qa_text("p", shots, "sys") == "sys\n\nQ: q1\nA: a1\n\nQ: p\nA:"
    with pytest.raises(ValueError):
        qa_text("p", shots[:1])
    with pytest.raises(ValueError):
        PromptRenderer("raw")

    class NoTemplate:
        chat_template = None

    assert PromptRenderer.for_tokenizer(NoTemplate()).format == "qa"


def test_renderer_chat_and_qa_on_a_tokenizer(tiny_gen):
    from langlock.generate.hf import HFGenerator
    from langlock.generate.render import PromptRenderer

    tok = tiny_gen.tokenizer
    shots = ({"role": "user", "content": "q1"}, {"role": "assistant", "content": "a1"})
    chat = PromptRenderer.for_tokenizer(tok)
    assert chat.format == "chat"
    assert tok.decode(chat.ids(tok, "hi", shots)) == ("<|im_start|>user\nq1<|im_end|>\n<|im_start|>assistant\na1"
                                                      "<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n"
                                                      "<|im_start|>assistant\n")
    # chat_template=False (or a model without one): the benchmark's Q:/A: text, the same renderer as the sweep
    plain = HFGenerator(model_obj=tiny_gen.model, tokenizer=tok, chat_template=False)
    assert plain.describe()["prompt_format"] == "qa" and not plain.describe()["chat_template"]
    assert tok.decode(plain.render("hi", GenerationSettings(), shots)) == "Q: q1\nA: a1\n\nQ: hi\nA:"


def _script_free(text: str, pattern: str) -> bool:
    import re

    return re.search(pattern, text) is None


def test_per_row_locks_mix_languages_in_one_batch(tiny_gen):
    """A LockFactory keyed by each row's language: a ko row and a ru row in one batch are each locked to
    their own script, and each equals its completion generated alone (equal-length prompts: no padding)."""
    from langlock.generate.hf import DecodeOptions
    from langlock.inference.lock import LockFactory

    locks = LockFactory(tiny_gen.tokenizer)
    options = DecodeOptions(processors=locks)
    s = GenerationSettings(max_new_tokens=16, temperature=1.0, top_p=1.0, seed=5)
    items = [PromptItem(f"{lang}{i}", "Say hello", language=lang) for i in range(3) for lang in ("ko", "ru")]
    mixed = {}
    tiny_gen.generate(items, s, lambda c: mixed.__setitem__(c.key, c.text), options)
    assert set(locks.locks) == {"ko", "ru"}
    for key, text in mixed.items():
        assert _script_free(text, "[A-Za-z\u0400-\u04ff]" if key.startswith("ko") else "[A-Za-z\uac00-\ud7a3]")
    alone = {}
    for item in items:
        tiny_gen.generate([item], s, lambda c: alone.__setitem__(c.key, c.text), options)
    assert alone == mixed
    free = run(tiny_gen, [PromptItem(p.key, p.text) for p in items], s)  # no processors: Latin letters appear
    assert any(not _script_free(c.text, "[A-Za-z]") for c in free.values())


def test_keep_logits_are_the_raw_step_logits_and_beams(tiny_gen):
    import torch

    from langlock.generate.hf import DecodeOptions

    greedy = GenerationSettings(max_new_tokens=8, temperature=0.0, seed=0)
    out = {}
    tiny_gen.generate(PROMPTS[:3], greedy, lambda c: out.__setitem__(c.key, c), DecodeOptions(keep_logits=True))
    for c in out.values():
        assert c.logits.shape == (len(c.token_ids), tiny_gen.model.config.vocab_size)
        assert c.logits.argmax(dim=-1).tolist() == c.token_ids  # greedy picks the argmax of the raw logits
        assert torch.isfinite(c.logits).all()
    beams = {}
    tiny_gen.generate(PROMPTS[:3], greedy, lambda c: beams.__setitem__(c.key, c), DecodeOptions(num_beams=2))
    assert set(beams) == {p.key for p in PROMPTS[:3]}
    with pytest.raises(UsageError):
        DecodeOptions(num_beams=2, keep_logits=True)


def test_qa_answer_is_cut_at_the_next_question():
    """`cut_tokens`: the tokens wholly before the first "\\nQ:" and the text before it (pure, on toy tokens)."""
    from langlock.generate.render import QA_STOP, PromptRenderer, cut_tokens

    pieces = ["Hel", "lo", "\nQ", ": more", "\nQ:"]

    def decode(ids):
        return "".join(pieces[i] for i in ids)

    assert cut_tokens([0, 1, 2, 3, 4], decode) == ([0, 1], "Hello")
    assert cut_tokens([0, 1], decode) is None
    pieces[1] = "lo.\nQ"  # the stop begins inside a token: that token is not kept
    assert cut_tokens([0, 1, 3], decode) == ([0], "Hello.")
    assert PromptRenderer("qa").stop_strings == (QA_STOP,) and PromptRenderer("chat").stop_strings == ()
    assert PromptRenderer("chat").cut([0, 1, 2, 3], decode) is None


class _Force:
    """Logits processor forcing `ids` one per step after a prompt of `start` tokens (then token 0 forever)."""

    def __init__(self, ids, start):
        self.ids, self.start = ids, start

    def __call__(self, input_ids, scores):
        step = input_ids.shape[1] - self.start
        want = self.ids[step] if step < len(self.ids) else 0
        out = torch.full_like(scores, float("-inf"))
        out[:, want] = 0.0
        return out


def test_qa_generation_stops_at_the_next_question(tiny_gen):
    """A model rendered in the Q:/A: format stops at "\\nQ:" and its answer is cut there (what is scored and
    judged); a chat-template model keeps the same text whole."""
    from langlock.generate.hf import DecodeOptions, HFGenerator

    tok = tiny_gen.tokenizer
    forced = tok("ok, done\nQ: next question and much more text", add_special_tokens=False)["input_ids"]
    greedy = GenerationSettings(max_new_tokens=40, temperature=0.0, seed=0)
    qa = HFGenerator(model_obj=tiny_gen.model, tokenizer=tok, chat_template=False)
    item = PromptItem("p", "hello")
    force = _Force(forced, len(qa.render(item.text, greedy)))
    [c] = qa.generate_batch([(item, qa.render(item.text, greedy))], greedy, DecodeOptions(processors=lambda _: [force]))
    n_answer = len(tok("ok, done", add_special_tokens=False)["input_ids"])
    assert (c.text, c.finish_reason) == ("ok, done", "stop")
    assert c.token_ids == forced[:n_answer]
    assert c.n_tokens == n_answer + len(tok("\nQ:", add_special_tokens=False)["input_ids"])  # stopped there
    chat_force = _Force(forced, len(tiny_gen.render(item.text, greedy)))
    [whole] = tiny_gen.generate_batch([(item, tiny_gen.render(item.text, greedy))], greedy,
                                      DecodeOptions(processors=lambda _: [chat_force]))
    assert whole.text.startswith("ok, done\nQ: next question") and whole.finish_reason == "length"
