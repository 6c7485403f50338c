"""Shared pieces for the baseline/TBPO/compare tests: tiny chat model, tiny preference data, fast configs."""

from __future__ import annotations

from pathlib import Path

from tiny_models import make_model_dir

PROMPTS = ["안녕하세요?", "오늘 날씨 어때요?", "한국어로 짧게 답해 주세요.", "좋아하는 음식은?"]
CLEAN = ["네, 안녕하세요.", "맑고 따뜻해요.", "네, 알겠습니다.", "김치찌개를 좋아해요."]
CONFUSED = ["Hello, I am fine.", "It is sunny today.", "Sure, I can do that.", "I like kimchi stew."]


def tiny_model(tmp_path: Path, seed: int = 0) -> Path:
    return make_model_dir(tmp_path / f"tiny-{seed}", seed=seed)


def preference_rows(conversational: bool = True) -> list[dict]:
    rows = []
    for p, c, r in zip(PROMPTS, CLEAN, CONFUSED):
        if conversational:
            rows.append({
                "prompt": [{"role": "user", "content": p}],
                "chosen": [{"role": "assistant", "content": c}],
                "rejected": [{"role": "assistant", "content": r}],
            })
        else:
            rows.append({"prompt": p, "chosen": c, "rejected": r})
    return rows


def fast_args(tmp_path: Path, **extra) -> dict:
    """TrainingArguments fields that keep a trainer test to a few seconds on CPU."""
    args = dict(
        output_dir=str(tmp_path / "out"), per_device_train_batch_size=2, max_steps=2, use_cpu=True,
        report_to="none", bf16=False, fp16=False, gradient_checkpointing=False, logging_steps=1,
        save_strategy="no", learning_rate=1e-2, disable_tqdm=True, seed=0, dataloader_num_workers=0,
    )
    args.update(extra)
    return args


def params_changed(before: dict, model) -> bool:
    import torch

    after = {k: v.detach() for k, v in model.named_parameters()}
    return any(not torch.equal(before[k], after[k]) for k in before if k in after)


def snapshot(model) -> dict:
    return {k: v.detach().clone() for k, v in model.named_parameters()}
