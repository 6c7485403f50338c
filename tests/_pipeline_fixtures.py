"""A tiny chat model taught to answer Korean questions in Korean or in English, about half each: sampled, it
gives `langlock data pairs` both clean and confused completions, so the data pipeline runs on its own output."""

from __future__ import annotations

from pathlib import Path

from tiny_models import make_model_dir

QUESTIONS = ["오늘 기분은 어때요?", "좋아하는 계절은 뭐예요?", "주말에 뭐 해요?", "아침에 뭘 먹었어요?"]
ANSWERS = ["네, 좋아요.", "Yes, good."]  # clean Korean / English (confusion when English counts)


def bilingual_model(path: Path, steps: int = 60, seed: int = 0) -> Path:
    """Save into `path` a tiny Llama trained (full batch, Adam) on every question x both answers."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    make_model_dir(path, seed=seed)
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path)
    rows, masks = [], []
    for q in QUESTIONS:
        prompt = tok.apply_chat_template([{"role": "user", "content": q}], add_generation_prompt=True, tokenize=False)
        for a in ANSWERS:
            p_ids = tok(prompt, add_special_tokens=False)["input_ids"]
            a_ids = tok(a + "<|im_end|>", add_special_tokens=False)["input_ids"]
            rows.append(p_ids + a_ids)
            masks.append([0] * len(p_ids) + [1] * len(a_ids))
    width = max(map(len, rows))
    ids = torch.tensor([r + [tok.pad_token_id] * (width - len(r)) for r in rows])
    labels = torch.tensor([[t if m else -100 for t, m in zip(r, mk)] + [-100] * (width - len(r))
                           for r, mk in zip(rows, masks)])
    attn = (torch.arange(width)[None, :] < torch.tensor([len(r) for r in rows])[:, None]).long()
    torch.manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(steps):
        loss = model(input_ids=ids, attention_mask=attn, labels=labels).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.save_pretrained(path)
    return path
