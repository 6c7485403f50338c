"""The SITE task embedding: the mean over M few-shot prompts of each head's output at the last prompt token.

Each prompt is N demonstrations (prompt, answer in the target language) as in-context turns, then one more
demonstration's prompt without its answer, rendered by the run's `PromptRenderer` (chat template or
``Q:/A:``). The heads' outputs are read at the input of each layer's `o_proj` (`SteerHooks` capture mode),
one prompt per forward pass (no padding), and averaged -> [L, H, head_dim] float32.
"""

from __future__ import annotations

import random
from collections.abc import Sequence


def icl_prompts(demos: Sequence[tuple[str, str]], shots: int, num_prompts: int, seed: int
                ) -> list[tuple[str, list[dict]]]:
    """`num_prompts` (query, shots-as-chat-turns) pairs: the query is one demonstration's prompt, the shots
    `shots` other demonstrations (drawn without replacement while there are enough), seeded."""
    rng = random.Random(seed)
    out = []
    for _ in range(num_prompts):
        q = rng.randrange(len(demos))
        others = [d for i, d in enumerate(demos) if i != q] or list(demos)
        picked = rng.sample(others, shots) if shots <= len(others) else [rng.choice(others) for _ in range(shots)]
        turns: list[dict] = []
        for prompt, answer in picked:
            turns += [{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}]
        out.append((demos[q][0], turns))
    return out


def task_embedding(model, prompt_ids: Sequence[Sequence[int]]):
    """Mean of the heads' `o_proj` inputs at each prompt's last token -> [L, H, d] (float32, CPU)."""
    import torch

    from .hooks import SteerHooks

    dev = next(model.parameters()).device
    total = None
    with SteerHooks(model) as hooks, torch.no_grad():
        for ids in prompt_ids:
            hooks.start_capture()
            model(input_ids=torch.tensor([list(ids)], device=dev), use_cache=False)
            got = hooks.take_capture()[0]
            total = got if total is None else total + got
    return total / len(prompt_ids)
