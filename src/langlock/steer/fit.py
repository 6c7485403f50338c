"""Fitting a SITE steering: task embedding + soft head selection, the model frozen.

`fit_selection(model, embedding, examples, ...)`: logits [L, H] start at 0 (a = sigmoid = 0.5), Adam (lr 0.2 by
default), one zero-shot example a step (cycled in a seeded order), loss = cross-entropy of the first `k` answer
tokens (k = 1: the paper's first-token loss) with the injection at the last prompt token, i.e. exactly what
prefill-only inference does (teacher-forced answer tokens see it through attention, as decode steps see it
through the KV cache). Only the logits get gradients.

`fit_steer(SteerFitConfig)` is the whole command (`langlock steer fit`): load the model, take the
demonstrations (`--examples` JSONL of ``{"prompt", "answer"}`` lines, or `langlock.fewshot.demonstrations`),
render them with the model's `PromptRenderer`, build the embedding, fit, and write one `SteerFile`. Seeded
(prompt construction and example order): the same command gives the same file.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from ..errors import InputError, UsageError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SteerFitConfig:
    model: str
    language: str
    output: str
    examples: str | None = None  # JSONL of {"prompt", "answer"}; default: langlock.fewshot.demonstrations
    shots: int = 10
    num_prompts: int = 50
    steps: int = 400
    loss_tokens: int = 1  # 1: the first answer token (the paper's loss); k > 1: the first k tokens
    lr: float = 0.2
    seed: int = 0
    eval_examples: int = 16  # examples the before/after losses are measured on
    chat_template: bool | None = None
    dtype: str = "float32"
    device: str = "cpu"
    cache_dir: str | None = None
    threads: int | None = None

    def __post_init__(self):
        from ..languages import check_language

        object.__setattr__(self, "language", check_language(self.language))
        for name in ("shots", "num_prompts", "steps", "loss_tokens", "eval_examples"):
            if getattr(self, name) < 1:
                raise UsageError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not self.lr > 0:
            raise UsageError(f"lr must be > 0, got {self.lr}")


@dataclass(frozen=True)
class FitExample:
    prompt_ids: list[int]
    answer_ids: list[int]


def read_examples(path: str) -> list[tuple[str, str]]:
    """(prompt, answer) pairs of a JSONL file; one clear `InputError` for a bad line."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"examples file {path} does not exist")
    pairs = []
    for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise InputError(f"{path}:{n}: not JSON: {err}") from None
        if not (isinstance(row, dict) and isinstance(row.get("prompt"), str) and isinstance(row.get("answer"), str)
                and row["prompt"].strip() and row["answer"].strip()):
            raise InputError(f"{path}:{n}: expected {{\"prompt\": str, \"answer\": str}} (non-empty)")
        pairs.append((row["prompt"], row["answer"]))
    if len(pairs) < 2:
        raise InputError(f"{path}: need at least 2 examples, got {len(pairs)}")
    return pairs


def fit_example(tokenizer, renderer, prompt: str, answer: str, k: int) -> FitExample:
    """The rendered zero-shot prompt and the first `k` tokens of its answer as the model would continue it
    (the answer tokenized together with the rendered prompt when that keeps the prompt's tokens)."""
    prompt_ids = renderer.ids(tokenizer, prompt)
    qa = renderer.format == "qa"
    full = tokenizer(renderer.text(tokenizer, prompt, prefix=answer), add_special_tokens=qa)["input_ids"]
    if full[:len(prompt_ids)] == prompt_ids and len(full) > len(prompt_ids):
        answer_ids = full[len(prompt_ids):]
    else:
        answer_ids = tokenizer((" " if qa else "") + answer, add_special_tokens=False)["input_ids"]
    if not answer_ids:
        raise InputError(f"the answer to {prompt[:40]!r} has no tokens")
    return FitExample(list(prompt_ids), list(answer_ids[:k]))


def example_loss(model, hooks, alpha, embedding, ex: FitExample):
    """Cross-entropy (mean over the answer tokens) of one example, steered by `alpha` at its last prompt
    token (`alpha` None: unsteered)."""
    import torch

    dev = next(model.parameters()).device
    ids = torch.tensor([ex.prompt_ids + ex.answer_ids[:-1]], device=dev)
    p = len(ex.prompt_ids)
    if alpha is None:
        hooks.clear()
    else:
        hooks.set_injection([0], alpha[None], embedding[None], positions=[p - 1])
    logits = model(input_ids=ids, use_cache=False).logits[0, p - 1:]
    target = torch.tensor(ex.answer_ids, device=dev)
    return torch.nn.functional.cross_entropy(logits.float(), target)


def mean_loss(model, alpha, embedding, examples: Sequence[FitExample]) -> float:
    import torch

    from .hooks import SteerHooks

    with SteerHooks(model) as hooks, torch.no_grad():
        return sum(float(example_loss(model, hooks, alpha, embedding, ex)) for ex in examples) / len(examples)


def fit_selection(model, embedding, examples: Sequence[FitExample], steps: int, lr: float = 0.2, seed: int = 0,
                  init_logits=None):
    """Fit the head-selection logits [L, H]; returns (logits, per-step losses). The model is frozen (its
    parameters' `requires_grad` are restored afterwards)."""
    import torch

    from .hooks import SteerHooks

    dev = next(model.parameters()).device
    emb = embedding.to(dev)
    logits = (torch.zeros(emb.shape[:2]) if init_logits is None else init_logits.clone().float()).to(dev)
    logits.requires_grad_(True)
    opt = torch.optim.Adam([logits], lr=lr)
    order = list(range(len(examples)))
    rng = random.Random(seed)
    flags = [p.requires_grad for p in model.parameters()]
    for p in model.parameters():
        p.requires_grad_(False)
    losses: list[float] = []
    try:
        with SteerHooks(model) as hooks:
            for step in range(steps):
                if step % len(order) == 0:
                    rng.shuffle(order)
                ex = examples[order[step % len(order)]]
                opt.zero_grad()
                loss = example_loss(model, hooks, logits.sigmoid(), emb, ex)
                loss.backward()
                opt.step()
                losses.append(float(loss.detach()))
    finally:
        for p, f in zip(model.parameters(), flags):
            p.requires_grad_(f)
    return logits.detach().cpu(), losses


def fit_steering(model, tokenizer, renderer, language: str, demos: Sequence[tuple[str, str]], *, shots: int = 10,
                 num_prompts: int = 50, steps: int = 400, loss_tokens: int = 1, lr: float = 0.2, seed: int = 0,
                 eval_examples: int = 16, settings_extra: dict | None = None):
    """Embedding + selection for one language on an already loaded model -> `SteerFile`."""
    from .. import __version__
    from .arch import model_fingerprint
    from .embed import icl_prompts, task_embedding
    from .file import SteerFile

    fingerprint = model_fingerprint(model)  # also rejects unsupported architectures before any work
    t0 = time.perf_counter()
    prompts = icl_prompts(demos, shots, num_prompts, seed)
    embedding = task_embedding(model, [renderer.ids(tokenizer, q, turns) for q, turns in prompts])
    t_embed = time.perf_counter() - t0
    examples = [fit_example(tokenizer, renderer, p, a, loss_tokens) for p, a in demos]
    evals = examples[:eval_examples]
    import torch

    before = mean_loss(model, torch.full(embedding.shape[:2], 0.5), embedding, evals)
    unsteered = mean_loss(model, None, embedding, evals)
    t1 = time.perf_counter()
    logits, losses = fit_selection(model, embedding, examples, steps, lr, seed)
    t_fit = time.perf_counter() - t1
    after = mean_loss(model, logits.sigmoid(), embedding, evals)
    meta = {
        "language": language, "fingerprint": fingerprint, "prompt_format": renderer.format,
        "model": str(getattr(model, "name_or_path", "")),
        "settings": {"shots": shots, "num_prompts": num_prompts, "steps": steps, "loss_tokens": loss_tokens,
                     "lr": lr, "seed": seed, "n_examples": len(examples), **(settings_extra or {})},
        "fit": {"losses": [round(x, 5) for x in losses], "eval_loss_unsteered": round(unsteered, 5),
                "eval_loss_init": round(before, 5), "eval_loss_fitted": round(after, 5),
                "n_eval": len(evals), "embed_seconds": round(t_embed, 3), "fit_seconds": round(t_fit, 3),
                "trainable_parameters": int(logits.numel())},
        "langlock_version": __version__,
    }
    log.info("steer %s: eval loss unsteered %.4f, a=0.5 %.4f, fitted %.4f (%d steps, %.1fs)", language,
             unsteered, before, after, steps, t_fit)
    return SteerFile(embedding, logits, meta)


def fit_steer(cfg: SteerFitConfig) -> Path:
    """`langlock steer fit`: load, fit, write `cfg.output`; returns its path. Nothing is written on error."""
    from ..fewshot import demonstrations
    from ..generate.render import PromptRenderer
    from ..models import load_model_and_tokenizer

    demos = read_examples(cfg.examples) if cfg.examples else demonstrations(cfg.language)
    out = Path(cfg.output)
    if out.is_dir():
        raise UsageError(f"-o {out} is a directory; give a file name")
    if cfg.threads:
        import torch

        torch.set_num_threads(cfg.threads)
    model, tokenizer, _ = load_model_and_tokenizer(cfg.model, dtype=cfg.dtype, device=cfg.device,
                                                   cache_dir=cfg.cache_dir)
    renderer = PromptRenderer.for_tokenizer(tokenizer, cfg.chat_template)
    extra = {"examples": cfg.examples or "langlock.fewshot.demonstrations", "model_spec": str(cfg.model)}
    steer = fit_steering(model, tokenizer, renderer, cfg.language, demos, shots=cfg.shots,
                         num_prompts=cfg.num_prompts, steps=cfg.steps, loss_tokens=cfg.loss_tokens, lr=cfg.lr,
                         seed=cfg.seed, eval_examples=cfg.eval_examples, settings_extra=extra)
    steer.meta["config"] = asdict(cfg)
    return steer.save(out)
