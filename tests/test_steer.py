"""SITE steering (`langlock.steer`) on tiny models: exact identity at a = 0, exact single-head injection at a = 1,
decode steps untouched in prefill-only mode, the embedding against a hand-computed attention, a fit lowering
its loss, bit-exact save/load, fingerprint refusal, and mixed-language batches equal to their single runs."""

from __future__ import annotations

import pytest
import torch

from _steer_fixtures import manual_head_outputs, tiny_gemma3, tiny_llama, tiny_qwen2
from langlock.errors import InputError, UsageError
from langlock.steer.arch import attention_layers, model_fingerprint, model_shape
from langlock.steer.hooks import SteerHooks

BUILDERS = {"llama": tiny_llama, "qwen2": tiny_qwen2, "gemma3": tiny_gemma3}
IDS = [[5, 17, 90, 33, 120, 7, 64, 200, 11], [3, 44, 101, 9, 250, 60, 61, 62, 8]]


def _capture_layer(model, layer: int, store: list):
    return attention_layers(model)[layer].o_proj.register_forward_pre_hook(
        lambda m, args: store.append(args[0].detach().clone()))


@pytest.mark.parametrize("arch", sorted(BUILDERS))
def test_alpha_zero_is_exactly_the_unhooked_model(arch):
    model = BUILDERS[arch]()
    L, H, d = model_shape(model)
    ids = torch.tensor(IDS)
    with torch.no_grad():
        plain = model(input_ids=ids).logits
        with SteerHooks(model) as hooks:
            hooks.set_injection([0, 1], torch.zeros(2, L, H), torch.randn(2, L, H, d))
            hooked = model(input_ids=ids).logits
            hooks.set_injection([0], torch.full((1, L, H), 0.3), torch.randn(1, L, H, d))
            steered = model(input_ids=ids).logits
    assert torch.equal(plain, hooked)
    assert not torch.equal(plain[0, -1], steered[0, -1])  # the hook is live: a != 0 changes row 0...
    assert torch.equal(plain[1], steered[1])  # ...and only row 0
    assert torch.equal(plain[0, :-1], steered[0, :-1])  # ...and only at (and after) the last prompt token


def test_gemma3_head_shape_is_read_from_the_attention_module():
    model = tiny_gemma3()
    assert model_shape(model) == (2, 4, 16)  # 4 heads x 16 = 64, hidden size 32


@pytest.mark.parametrize("arch", sorted(BUILDERS))
def test_alpha_one_at_one_head_replaces_that_head_at_the_last_token_only(arch):
    model = BUILDERS[arch]()
    L, H, d = model_shape(model)
    layer, head = 1, 2
    alpha = torch.zeros(1, L, H)
    alpha[0, layer, head] = 1.0
    vec = torch.randn(1, L, H, d)
    ids = torch.tensor(IDS[:1])
    plain, hooked = [], []
    with torch.no_grad():
        h = _capture_layer(model, layer, plain)
        model(input_ids=ids)
        h.remove()
        with SteerHooks(model) as hooks:
            hooks.set_injection([0], alpha, vec)
            h = _capture_layer(model, layer, hooked)  # registered after the steering hook: sees its output
            model(input_ids=ids)
            h.remove()
    before = plain[0].view(1, ids.shape[1], H, d)
    after = hooked[0].view(1, ids.shape[1], H, d)
    assert torch.equal(after[0, -1, head], vec[0, layer, head])
    expected = before.clone()
    expected[0, -1, head] = vec[0, layer, head]
    assert torch.equal(after, expected)  # every other head and every other position unchanged


def test_decode_steps_are_untouched_in_prefill_only_mode():
    from transformers import DynamicCache

    model = tiny_llama()
    L, H, d = model_shape(model)
    ids = torch.tensor(IDS[:1])
    alpha, vec = torch.full((1, L, H), 0.7), torch.randn(1, L, H, d)
    with torch.no_grad():
        with SteerHooks(model) as hooks:
            hooks.set_injection([0], alpha, vec)
            pre = model(input_ids=ids, past_key_values=DynamicCache(config=model.config), use_cache=True)
        nxt = pre.logits[:, -1:].argmax(-1)

        def step(steer: bool, scale: float = 0.0):
            import copy

            cache = copy.deepcopy(pre.past_key_values)
            if not steer:
                return model(input_ids=nxt, past_key_values=cache, use_cache=True).logits
            with SteerHooks(model) as hooks:
                hooks.set_injection([0], alpha, vec, decode_scale=scale)
                return model(input_ids=nxt, past_key_values=cache, use_cache=True).logits

        plain_step = step(False)
        assert torch.equal(step(True), plain_step)
        assert not torch.allclose(step(True, 0.5), plain_step)  # the every-token option does inject


def test_embedding_equals_a_manual_attention_computation():
    from langlock.steer.embed import task_embedding

    model = tiny_llama()
    got = task_embedding(model, IDS)
    want = (manual_head_outputs(model, IDS[0]) + manual_head_outputs(model, IDS[1])) / 2
    assert got.shape == (2, 4, 8)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)


# --- fit, file, apply --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tok():
    from tiny_models import make_tokenizer

    return make_tokenizer()


def _fit(model, tok, language="ko", steps=40, seed=0, loss_tokens=1):
    from langlock.fewshot import demonstrations
    from langlock.generate.render import PromptRenderer
    from langlock.steer.fit import fit_steering

    return fit_steering(model, tok, PromptRenderer("chat"), language, demonstrations(language), shots=3,
                        num_prompts=4, steps=steps, loss_tokens=loss_tokens, seed=seed, eval_examples=12)


def test_fit_lowers_the_loss_and_is_deterministic(tok):
    model = tiny_llama(init_range=0.2)
    a = _fit(model, tok, steps=40)
    fit = a.meta["fit"]
    assert fit["eval_loss_fitted"] < fit["eval_loss_init"] - 0.3  # measured: 5.45 -> 4.67
    assert fit["eval_loss_fitted"] < fit["eval_loss_unsteered"]
    assert len(fit["losses"]) == 40 and fit["trainable_parameters"] == 2 * 4
    assert all(p.requires_grad for p in model.parameters())  # frozen during the fit only
    b = _fit(model, tok, steps=40)
    assert torch.equal(a.embedding, b.embedding) and torch.equal(a.logits, b.logits)
    k = _fit(model, tok, steps=5, loss_tokens=3)
    assert k.meta["settings"]["loss_tokens"] == 3 and not torch.equal(k.logits, a.logits)


def test_save_load_round_trip_is_bit_exact_and_bad_files_are_refused(tmp_path, tok):
    from langlock.steer.file import load_steer_file

    model = tiny_llama()
    f = _fit(model, tok, steps=3)
    path = f.save(tmp_path / "ko.safetensors")
    g = load_steer_file(path)
    assert torch.equal(f.embedding, g.embedding) and torch.equal(f.logits, g.logits)
    assert g.meta["language"] == "ko" and g.meta["fingerprint"] == model_fingerprint(model)
    assert g.meta["fit"] == f.meta["fit"]
    assert path.stat().st_size < 20_000
    (tmp_path / "bad.safetensors").write_bytes(b"not a file")
    with pytest.raises(InputError):
        load_steer_file(tmp_path / "bad.safetensors")
    with pytest.raises(InputError):
        load_steer_file(tmp_path / "missing.safetensors")


def test_a_file_fitted_for_one_model_is_refused_for_another(tok):
    from langlock.steer.apply import Steering

    f = _fit(tiny_llama(seed=0), tok, steps=2)
    Steering(tiny_llama(seed=0), [f])  # the same weights: accepted
    with pytest.raises(UsageError, match="another model: its weights differ"):
        Steering(tiny_llama(seed=1), [f])
    with pytest.raises(UsageError, match="another model: model_type"):
        Steering(tiny_qwen2(), [f])
    with pytest.raises(UsageError, match="fitted on 'chat' prompts"):
        Steering(tiny_llama(seed=0), [f], prompt_format="qa")


def test_unsupported_architecture_is_a_usage_error():
    from transformers import GPT2Config, GPT2LMHeadModel

    model = GPT2LMHeadModel(GPT2Config(n_layer=1, n_embd=16, n_head=2, vocab_size=50))
    with pytest.raises(UsageError, match="SITE steering supports"):
        model_fingerprint(model)


def test_mixed_language_batch_rows_equal_their_single_language_runs(tok):
    from langlock.generate import GenerationSettings, PromptItem
    from langlock.generate.hf import DecodeOptions, HFGenerator
    from langlock.steer.apply import Steering

    model = tiny_llama()
    steering = Steering(model, [_fit(model, tok, "ko", steps=15), _fit(model, tok, "de", steps=15)],
                        prompt_format="chat")
    gen = HFGenerator(model_obj=model, tokenizer=tok, batch_size=8)
    settings = GenerationSettings(max_new_tokens=6, temperature=0.0)
    opts = DecodeOptions(steer=steering, keep_logits=True)
    items = [PromptItem("a", "abcdefgh", "ko"), PromptItem("b", "hgfedcba", "de"), PromptItem("c", "abcdabcd", None),
             PromptItem("d", "hello there", "ko")]

    def run(prompts, options):
        out = {}
        gen.generate(prompts, settings, lambda c: out.__setitem__(c.key, c), options)
        return out

    mixed = run(items, opts)
    plain = run(items, DecodeOptions(keep_logits=True))
    for it in items:
        single = run([it], opts)[it.key]
        assert single.token_ids == mixed[it.key].token_ids
        torch.testing.assert_close(single.logits, mixed[it.key].logits, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(mixed["c"].logits, plain["c"].logits, rtol=1e-4, atol=1e-5)  # no file: unsteered
    assert not torch.allclose(mixed["a"].logits[0], plain["a"].logits[0])  # steered rows do change
    assert not torch.allclose(mixed["b"].logits[0], plain["b"].logits[0])
