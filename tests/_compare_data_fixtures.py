"""Pre-written compare data stages (prompts, samples and their settings) for tests on a tiny model, which samples
no clean text of its own."""

from __future__ import annotations

import json
from dataclasses import asdict

SAMPLES = {
    "ko": [("안녕하세요?", ["네, 안녕하세요.", "Hello, nice to meet you."]),
           ("오늘 날씨 어때요?", ["맑고 따뜻해요.", "It is sunny today."]),
           ("좋아하는 음식은?", ["김치찌개를 좋아해요.", "I like kimchi stew."])],
    "ja": [("こんにちは、元気ですか？", ["はい、元気です。", "Yes, I am fine."]),
           ("好きな季節は何ですか？", ["春が好きです。", "I like spring."]),
           ("週末は何をしますか？", ["家で休みます。", "I will rest at home."])],
    "en": [("How do I boil an egg?", ["Put it in boiling water and cook it for eight minutes.",
                                      "계란을 끓는 물에 넣으세요."]),
           ("Name a good book for a long trip.", ["A long novel such as War and Peace keeps you busy for days.",
                                                 "긴 소설이 좋아요."])],
}
DATA_SETTINGS = {"samples_per_prompt": 2, "sample_max_new_tokens": 16}


def seed_data(folder, model: str, lang: str) -> None:
    """Pre-write compare's data stage for `lang` in `folder` (a random tiny model samples no clean text)."""
    from langlock.databuild.prompts import prompt_id
    from langlock.databuild.sample import SampleSettings, meta_path

    folder.mkdir(parents=True)
    prompts, samples = [], []
    for q, comps in SAMPLES[lang]:
        pid = prompt_id(q)
        prompts.append({"id": pid, "prompt": q, "language": lang})
        samples.append({"id": pid, "prompt": q, "language": lang, "completions": comps})
    (folder / "prompts.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in prompts))
    (folder / "samples.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in samples))
    settings = SampleSettings(model=model, n=2, temperature=0.7, max_new_tokens=16, seed=0)
    meta_path(folder / "samples.jsonl").write_text(json.dumps(asdict(settings)))
