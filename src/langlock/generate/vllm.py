"""`vllm` backend (optional extra `langlock[vllm]`, for GPU users). UNTESTED in this project's CI, which
has no GPU: the same interface as `hf`, with per-prompt seeds passed in vLLM's `SamplingParams`."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..errors import UsageError
from .base import Completion, GenerationSettings, Generator, PromptItem, prompt_seed


class VLLMGenerator(Generator):
    name = "vllm"

    def __init__(self, model, *, cache_dir=None, dtype: str = "auto", **engine_kwargs):
        try:
            from vllm import LLM
        except ImportError:
            raise UsageError("--backend vllm needs the vllm extra: pip install 'langlock[vllm]'") from None
        from ..models import resolve_model

        self.model_path = str(resolve_model(model, cache_dir))
        self.llm = LLM(model=self.model_path, dtype=dtype, trust_remote_code=False, **engine_kwargs)

    def describe(self) -> dict:
        import vllm

        return {"backend": self.name, "model_path": self.model_path, "vllm": vllm.__version__}

    def generate(self, prompts: Sequence[PromptItem], settings: GenerationSettings,
                 on_done: Callable[[Completion], None]) -> None:
        from vllm import SamplingParams

        conversations, params = [], []
        for p in prompts:
            msgs = [{"role": "user", "content": p.text}]
            if settings.system_prompt:
                msgs.insert(0, {"role": "system", "content": settings.system_prompt})
            conversations.append(msgs)
            params.append(SamplingParams(max_tokens=settings.max_new_tokens, temperature=settings.temperature,
                                         top_p=settings.top_p, seed=prompt_seed(settings.seed, p.key) % 2**31))
        outputs = self.llm.chat(conversations, params, use_tqdm=False)
        for p, out in zip(prompts, outputs):
            o = out.outputs[0]
            on_done(Completion(p.key, o.text, "length" if o.finish_reason == "length" else "stop",
                               len(o.token_ids)))
