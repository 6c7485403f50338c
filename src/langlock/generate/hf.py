"""`hf` backend and the generation core: transformers `generate`, batched and left-padded.

Every local generation loop of langlock outside the TLPO trainer's rollouts runs here: `langlock bench`
(the `hf` backend), `langlock sweep` (beams, in-context examples, a lock per cell), `langlock analyze` (the
raw logits of every step), the data sampler (`langlock data sample`: N samples per prompt) and the merge
experiment script. One of each:

- prompt renderer: `generate.render.PromptRenderer` (chat template with optional in-context turns, or the
  benchmark's `Q:/A:` text for models without a template);
- seed: `generate.base.prompt_seed(settings.seed, item.key)` per prompt (or the item's own `seed`);
- stop rule: `stop_token_ids` (EOS of tokenizer and generation config, known end-of-turn tokens), and for the
  `Q:/A:` rendering the renderer's stop string ``"\nQ:"``, before which the answer is cut;
- batcher: `generate.base.length_batches` (length-bucketed within `batch_size` and `max_batch_tokens`,
  the token budget divided by the beam count).

Sampling (temperature + nucleus) is done by `SeededSampler`, a logits processor that draws each row's next
token from that row's own `torch.Generator` seeded from (run seed, prompt key), and hands `generate` a
one-hot choice that greedy decoding then takes. So a completion depends only on its prompt and the seed,
not on batch size or which prompts share its batch (up to float noise from padding). `temperature=0` is
greedy; `DecodeOptions.num_beams > 1` is transformers' beam search (no sampling).

Logits processors run before the sampler: each row's own processors from `DecodeOptions.processors(language)`
(e.g. a `LanguageLock` for the row's language: bench's `--lock`), so one batch may mix languages. `DecodeOptions.steer` (a `langlock.steer.Steering`) steers each row's forward passes
by its language the same way (SITE: per-head injection at the last prompt token).

LoRA routing: `HFGenerator(adapters={name: dir})` loads the base with every adapter attached, unmerged
(`models.adapter.load_adapters`), and each batch passes PEFT one adapter name per row (`PromptItem.adapter`,
``"__base__"`` for None): PEFT's mixed-batch inference, so one batch serves rows of many adapters.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..errors import UsageError
from .base import Completion, GenerationSettings, Generator, PromptItem, length_batches
from .render import PromptRenderer

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


@dataclass(frozen=True)
class DecodeOptions:
    """Options of the core beyond `GenerationSettings` (which every backend shares).

    num_beams: beam search with this many beams (1: seeded sampling / greedy).
    processors: `language -> logits processors` for each row (keyed by `PromptItem.language`); called once per
        row per batch, so return cached objects (`inference.lock.LockFactory`). Rows whose lists are the same
        objects share one call on their rows.
    keep_logits: put the raw next-token logits of every kept step in `Completion.logits` (sampling only).
    steer: a `langlock.steer.Steering` built on this generator's model: each row is steered by its language's
        file (rows of other languages run unchanged).
    """

    num_beams: int = 1
    processors: Callable[[str | None], Sequence] | None = None
    keep_logits: bool = False
    steer: object = None

    def __post_init__(self):
        if self.num_beams < 1:
            raise UsageError(f"num_beams must be >= 1, got {self.num_beams}")
        if self.keep_logits and self.num_beams > 1:
            raise UsageError("per-step logits are kept for sampling / greedy decoding only, not beam search")


class RowProcessors:
    """Logits processor applying each row's own processor list; rows with the same list run as one call.

    `row_lists[r]` is the list of row r of the [batch x beams] scores; processors must act row-wise (a
    `LanguageLock`, a repetition penalty), which makes a sub-batch call equal to the full-batch one."""

    def __init__(self, row_lists: Sequence[Sequence]):
        import torch

        groups: dict[tuple, list[int]] = {}
        self.lists: dict[tuple, Sequence] = {}
        for r, procs in enumerate(row_lists):
            key = tuple(id(p) for p in procs)
            groups.setdefault(key, []).append(r)
            self.lists[key] = procs
        self.groups = {k: torch.tensor(rows) for k, rows in groups.items() if k}

    def __call__(self, input_ids, scores):
        out = scores.clone()
        for key, rows in self.groups.items():
            rows = rows.to(scores.device)
            ids, sub = input_ids[rows], scores[rows]
            for proc in self.lists[key]:
                sub = proc(ids, sub)
            out[rows] = sub
        return out


class HFGenerator(Generator):
    """Batched transformers generation. Pass `model` (a spec for `langlock.models`) or `model_obj` +
    `tokenizer` (already loaded). `chat_template=False` renders the `Q:/A:` text even when the tokenizer
    has a template (models without one always get it)."""

    name = "hf"

    def __init__(self, model=None, *, model_obj=None, tokenizer=None, batch_size: int = 8,
                 device: str = "cpu", dtype: str = "float32", cache_dir=None, chat_template: bool | None = None,
                 threads: int | None = None, max_batch_tokens: int = 4096, adapters: dict | None = None):
        if model_obj is None:  # load it
            from ..models import load_model_and_tokenizer

            model_obj, tokenizer, path = load_model_and_tokenizer(model, dtype=dtype, device=device,
                                                                  cache_dir=cache_dir)
            self.model_path = str(path)
            if adapters:
                from ..models.adapter import load_adapters

                model_obj = load_adapters(model_obj, adapters, path)
        else:
            self.model_path = str(getattr(model_obj, "name_or_path", "") or model)
        if threads:
            import torch

            torch.set_num_threads(threads)
        self.model, self.tokenizer = model_obj, tokenizer
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        tokenizer.padding_side = "left"
        self.renderer = PromptRenderer.for_tokenizer(tokenizer, chat_template)
        self.batch_size = max(1, int(batch_size))
        self.max_batch_tokens = max_batch_tokens
        if model is None and hasattr(model_obj, "device"):  # an already loaded model: inputs go where it is
            device = str(model_obj.device)
        self.device = device
        self.stop_ids = stop_token_ids(tokenizer, model_obj)
        #: names of the LoRA adapters rows may be routed to (a PeftModel's, unmerged)
        self.adapters = sorted(getattr(model_obj, "peft_config", {}) or {})

    @property
    def use_chat_template(self) -> bool:
        return self.renderer.format == "chat"

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
            "prompt_format": self.renderer.format,
            "stop_token_ids": self.stop_ids,
            "torch_threads": _torch_threads(),
            **({"adapters": self.adapters} if self.adapters else {}),
        }

    def render(self, text: str, settings: GenerationSettings, shots: Sequence[dict] = (), prefix: str = "") -> list[int]:
        """Token ids of one prompt (`generate.render.PromptRenderer`, the settings' system prompt), then the
        answer's `prefix` if any."""
        return self.renderer.ids(self.tokenizer, text, shots, settings.system_prompt, prefix)

    def generate(self, prompts: Sequence[PromptItem], settings: GenerationSettings,
                 on_done: Callable[[Completion], None], options: DecodeOptions | None = None) -> None:
        options = options or DecodeOptions()
        encoded = [(p, self.render(p.text, settings, p.shots, p.prefix)) for p in prompts]
        for batch in self.batches(encoded, options.num_beams):
            for c in self.generate_batch(batch, settings, options):
                on_done(c)

    def batches(self, encoded, num_beams: int = 1):
        """(prompt, ids) pairs in length-bucketed batches within `batch_size` and `max_batch_tokens` (divided by
        the beam count: every prompt runs as `num_beams` sequences)."""
        budget = max(1, self.max_batch_tokens // num_beams)
        return length_batches(encoded, [len(ids) for _, ids in encoded], self.batch_size, budget)

    def processors(self, batch, settings: GenerationSettings, options: DecodeOptions) -> list:
        """The batch's logits processors in order: the rows' own processors (e.g. a per-language lock), then the
        seeded sampler."""
        import torch

        procs: list = []
        if options.processors is not None:
            rows = [list(options.processors(p.language)) for p, _ in batch for _ in range(options.num_beams)]
            if all(len(r) == len(rows[0]) and all(a is b for a, b in zip(r, rows[0])) for r in rows):
                procs += rows[0]  # one list for every row: applied to the whole batch
            else:
                procs.append(RowProcessors(rows))
        if options.num_beams == 1:
            gens = [torch.Generator().manual_seed(p.seed_under(settings.seed)) for p, _ in batch]
            procs.append(SeededSampler(gens, settings.temperature, settings.top_p))
        return procs

    def adapter_names(self, batch, num_beams: int = 1) -> list[str] | None:
        """PEFT's per-row adapter names for `batch` (each repeated `num_beams` times: beams are rows, and PEFT
        expands names itself only for a `num_beams` keyword, which the core passes in the generation config),
        or None when the model has no adapters."""
        names = [p.adapter or "__base__" for p, _ in batch]
        if not self.adapters:
            if any(p.adapter for p, _ in batch):
                raise UsageError(f"a prompt asks for adapter {next(p.adapter for p, _ in batch if p.adapter)!r} "
                                 "but the model has no adapters loaded")
            return None
        unknown = sorted({n for n in names if n != "__base__" and n not in self.adapters})
        if unknown:
            raise UsageError(f"unknown adapter(s) {', '.join(unknown)}; loaded: {', '.join(self.adapters)}")
        return [n for n in names for _ in range(num_beams)]

    def generate_batch(self, batch, settings: GenerationSettings, options: DecodeOptions | None = None
                       ) -> list[Completion]:
        import torch
        from transformers import GenerationConfig, LogitsProcessorList

        options = options or DecodeOptions()
        tok = self.tokenizer
        padded = tok.pad({"input_ids": [ids for _, ids in batch]}, padding=True, return_tensors="pt")
        input_ids = padded["input_ids"].to(self.device)
        attention = padded["attention_mask"].to(self.device)
        extra = {}
        if options.num_beams > 1:
            extra.update(num_beams=options.num_beams, early_stopping=True)
        if options.keep_logits:
            extra.update(return_dict_in_generate=True, output_logits=True)
        stop_strings = list(self.renderer.stop_strings)  # "qa": "\nQ:" (the answer is cut there below)
        if stop_strings:
            extra.update(stop_strings=stop_strings)
        config = GenerationConfig(
            max_new_tokens=settings.max_new_tokens, do_sample=False, eos_token_id=self.stop_ids,
            pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id, **extra,
        )
        procs = self.processors(batch, settings, options)
        steer = (options.steer.apply([p.language for p, _ in batch for _ in range(options.num_beams)])
                 if options.steer is not None else contextlib.nullcontext())
        routed = self.adapter_names(batch, options.num_beams)
        with torch.inference_mode(), steer:
            out = self.model.generate(input_ids=input_ids, attention_mask=attention, generation_config=config,
                                      logits_processor=LogitsProcessorList(procs),
                                      **({} if routed is None else {"adapter_names": routed}),
                                      **({"tokenizer": tok} if stop_strings else {}))
        logits = torch.stack(out.logits, dim=1) if options.keep_logits else None  # [B, steps, V]
        sequences = out.sequences if options.keep_logits else out
        new = sequences[:, input_ids.shape[1]:].tolist()
        results = []
        stops = set(self.stop_ids)

        def decode(t):
            return tok.decode(t, skip_special_tokens=True, clean_up_tokenization_spaces=False)

        for row, ((p, _), ids) in enumerate(zip(batch, new)):
            cut = next((i for i, t in enumerate(ids) if t in stops), None)
            if cut is None:
                body, reason, n = ids, "length", len(ids)
            else:
                body, reason, n = ids[:cut], "stop", cut + 1
            text = decode(body)
            cut_qa = self.renderer.cut(body, decode) if stop_strings else None
            if cut_qa is not None:  # the Q:/A: answer ends at the next "\nQ:"; n counts the tokens up to its end
                n = next(k for k in range(len(cut_qa[0]) + 1, len(body) + 1)
                         if any(s in decode(body[:k]) for s in stop_strings))
                (body, text), reason = cut_qa, "stop"
            results.append(Completion(p.key, text, reason, n, token_ids=body,
                                      logits=None if logits is None else logits[row, :len(body)]))
        return results


def _torch_threads() -> int | None:
    try:
        import torch

        return torch.get_num_threads()
    except ImportError:  # pragma: no cover
        return None

