"""`hf` backend: transformers `generate`, batched and left-padded, with the model's chat template.

Sampling (temperature + nucleus) is done by `SeededSampler`, a logits processor that draws each row's next
token from that row's own `torch.Generator` seeded from (run seed, prompt key), and hands `generate` a
one-hot choice that greedy decoding then takes. So a completion depends only on its prompt and the seed,
not on batch size or which prompts share its batch (up to float noise from padding). Generation stops at
EOS and at end-of-turn tokens the tokenizer knows.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

from .base import Completion, GenerationSettings, Generator, PromptItem, length_batches, prompt_seed

#: End-of-turn markers of common chat templates; those present in the vocabulary stop generation.
#: Size of the top-k fast path of the nucleus sampler.
FAST_TOP_K = 64

END_OF_TURN_TOKENS = ("<|im_end|>", "<|eot_id|>", "<end_of_turn>", "<|end|>", "<|endoftext|>", "</s>")


class SeededSampler:
    """Logits processor: per-row seeded temperature + top-p sampling, returned as a one-hot logit row."""

    def __init__(self, generators, temperature: float, top_p: float):
        self.generators = generators
        self.temperature = temperature
        self.top_p = top_p

    def __call__(self, input_ids, scores):
        return sample_one_hot(scores, self.generators, self.temperature, self.top_p)


def sample_one_hot(scores, generators, temperature: float, top_p: float):
    """Choose one token per row and return logits that are 0 at the choice and -inf elsewhere.

    Nucleus filtering keeps the smallest set of most probable tokens whose probability reaches `top_p`
    (the same set as transformers' `TopPLogitsWarper`). Each row uses one uniform draw from its own
    generator and inverse-CDF sampling, so rows never share random state.
    """
    import torch

    logits = scores.float()
    if temperature == 0:
        choice = logits.argmax(dim=-1)
    else:
        probs = torch.softmax(logits / temperature, dim=-1)
        u = torch.cat([torch.rand(1, generator=g, dtype=torch.float64) for g in generators])
        u = u.to(probs.device, probs.dtype)
        # Fast path: the nucleus lies inside the top-k whenever those k tokens already hold top_p of the mass
        # (at the benchmark's T=0.3, p=0.75 it is a handful of tokens); rows where it does not are sorted fully.
        k = min(FAST_TOP_K, probs.shape[-1])
        top_p_sorted, order = probs.topk(k, dim=-1)
        choice = _nucleus_pick(top_p_sorted, order, u, top_p)
        slow = top_p_sorted.sum(dim=-1) < top_p
        if bool(slow.any()):
            rows = slow.nonzero().squeeze(1)
            sorted_p, full_order = probs[rows].sort(dim=-1, descending=True)
            choice[rows] = _nucleus_pick(sorted_p, full_order, u[rows], top_p)
    out = torch.full_like(scores, float("-inf"))
    out.scatter_(1, choice.unsqueeze(1), 0.0)
    return out


def _nucleus_pick(sorted_p, order, u, top_p: float):
    """Inverse-CDF draw inside the nucleus of descending-sorted probabilities; returns token ids."""
    import torch

    cum = sorted_p.cumsum(dim=-1)
    keep = (cum - sorted_p) < top_p
    keep[:, 0] = True
    cdf = (sorted_p * keep).cumsum(dim=-1)
    idx = torch.searchsorted(cdf, (u * cdf[:, -1]).unsqueeze(1)).clamp_(max=cdf.shape[1] - 1)
    return order.gather(1, idx).squeeze(1)


def stop_token_ids(tokenizer, model=None) -> list[int]:
    """EOS of tokenizer and generation config, plus known end-of-turn tokens present in the vocabulary."""
    ids: list[int] = []

    def add(x):
        for i in x if isinstance(x, list | tuple) else [x]:
            if isinstance(i, int) and i >= 0 and i not in ids:
                ids.append(i)

    add(tokenizer.eos_token_id)
    if model is not None and getattr(model, "generation_config", None) is not None:
        add(model.generation_config.eos_token_id)
    vocab = tokenizer.get_vocab()
    for tok in END_OF_TURN_TOKENS:
        if tok in vocab:
            add(vocab[tok])
    return ids


class HFGenerator(Generator):
    """Batched transformers generation. Pass `model` (a spec for `langlock.models`) or `model_obj` +
    `tokenizer` (already loaded). `chat_template=False` feeds the raw prompt (base models)."""

    name = "hf"

    def __init__(self, model=None, *, model_obj=None, tokenizer=None, batch_size: int = 8,
                 device: str = "cpu", dtype: str = "float32", cache_dir=None, chat_template: bool | None = None,
                 threads: int | None = None, max_batch_tokens: int = 4096, lock: dict | None = None):
        if model_obj is None:
            from ..models import load_model_and_tokenizer

            model_obj, tokenizer, path = load_model_and_tokenizer(model, dtype=dtype, device=device,
                                                                  cache_dir=cache_dir)
            self.model_path = str(path)
        else:
            self.model_path = str(getattr(model_obj, "name_or_path", "") or model)
        if threads:
            import torch

            torch.set_num_threads(threads)
        self.model, self.tokenizer = model_obj, tokenizer
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        tokenizer.padding_side = "left"
        has_template = bool(getattr(tokenizer, "chat_template", None))
        self.use_chat_template = has_template if chat_template is None else (chat_template and has_template)
        self.batch_size = max(1, int(batch_size))
        self.max_batch_tokens = max_batch_tokens
        self.device = device
        self.stop_ids = stop_token_ids(tokenizer, model_obj)
        self.lock = None
        if lock:  # {"language": "ko", "mode": ..., "entropy_threshold": ...}: a LanguageLock before sampling
            from ..inference.lock import LanguageLock

            self.lock = LanguageLock(tokenizer, **lock)

    def describe(self) -> dict:
        tmpl = getattr(self.tokenizer, "chat_template", None) if self.use_chat_template else None
        return {
            "backend": self.name,
            "model_path": self.model_path,
            "batch_size": self.batch_size,
            "max_batch_tokens": self.max_batch_tokens,
            "device": self.device,
            "dtype": str(next(self.model.parameters()).dtype).replace("torch.", ""),
            "chat_template": bool(tmpl),
            "chat_template_sha256": hashlib.sha256(tmpl.encode()).hexdigest() if isinstance(tmpl, str) else None,
            "stop_token_ids": self.stop_ids,
            "torch_threads": _torch_threads(),
            **({"lock": self.lock.describe()} if self.lock else {}),
        }

    def render(self, text: str, settings: GenerationSettings) -> list[int]:
        """Token ids of the prompt: chat template (user turn, optional system turn) or the raw text."""
        tok = self.tokenizer
        if self.use_chat_template:
            messages = [{"role": "user", "content": text}]
            if settings.system_prompt:
                messages.insert(0, {"role": "system", "content": settings.system_prompt})
            rendered = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
            return tok(rendered, add_special_tokens=False)["input_ids"]
        return tok(text)["input_ids"]

    def generate(self, prompts: Sequence[PromptItem], settings: GenerationSettings,
                 on_done: Callable[[Completion], None]) -> None:
        encoded = [(p, self.render(p.text, settings)) for p in prompts]
        for batch in self.batches(encoded):
            for c in self.generate_batch(batch, settings):
                on_done(c)

    def batches(self, encoded):
        """(prompt, ids) pairs in length-bucketed batches within `batch_size` and `max_batch_tokens`."""
        return length_batches(encoded, [len(ids) for _, ids in encoded], self.batch_size, self.max_batch_tokens)

    def generate_batch(self, batch, settings: GenerationSettings) -> list[Completion]:
        import torch
        from transformers import GenerationConfig, LogitsProcessorList

        tok = self.tokenizer
        padded = tok.pad({"input_ids": [ids for _, ids in batch]}, padding=True, return_tensors="pt")
        input_ids = padded["input_ids"].to(self.device)
        attention = padded["attention_mask"].to(self.device)
        gens = [torch.Generator().manual_seed(prompt_seed(settings.seed, p.key)) for p, _ in batch]
        config = GenerationConfig(
            max_new_tokens=settings.max_new_tokens, do_sample=False, eos_token_id=self.stop_ids,
            pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id,
        )
        sampler = SeededSampler(gens, settings.temperature, settings.top_p)
        with torch.inference_mode():
            out = self.model.generate(input_ids=input_ids, attention_mask=attention, generation_config=config,
                                      logits_processor=LogitsProcessorList([self.lock, sampler] if self.lock else [sampler]))
        new = out[:, input_ids.shape[1]:].tolist()
        results = []
        stops = set(self.stop_ids)
        for (p, _), ids in zip(batch, new):
            cut = next((i for i, t in enumerate(ids) if t in stops), None)
            if cut is None:
                body, reason, n = ids, "length", len(ids)
            else:
                body, reason, n = ids[:cut], "stop", cut + 1
            text = tok.decode(body, skip_special_tokens=True, clean_up_tokenization_spaces=False)
            results.append(Completion(p.key, text, reason, n))
        return results


def _torch_threads() -> int | None:
    try:
        import torch

        return torch.get_num_threads()
    except ImportError:  # pragma: no cover
        return None

