"""`langlock data sample` on the generation core: per-prompt seeds from `generate.base.prompt_seed`, samples
that do not depend on N or on other prompts, the repetition penalty as a core processor, and the refusal to
extend a samples file written under the earlier (sha1) seeding."""

from __future__ import annotations

import json
from dataclasses import asdict

import pytest

from langlock.databuild.sample import SEEDING, SampleSettings, hf_generator, meta_path, sample_completions
from langlock.errors import UsageError
from langlock.generate.base import prompt_seed

PROMPTS = [{"id": f"p{i}", "prompt": q, "language": "ko"} for i, q in enumerate(["안녕", "날씨가 어때요?", "밥"])]


class _Echo:
    """A GenerateFn that records the seeds it is given."""

    def __init__(self):
        self.seeds = []

    def __call__(self, requests):
        self.seeds += [seed for _, _, seed in requests]
        return [[f"{prompt}#{i}" for i in range(n)] for prompt, n, _ in requests]


def test_seeds_are_the_cores_prompt_seed(tmp_path):
    gen = _Echo()
    sample_completions(PROMPTS, tmp_path / "s.jsonl", gen, SampleSettings(model="m", n=2, seed=3))
    assert gen.seeds == [prompt_seed(3, p["id"]) for p in PROMPTS]
    meta = json.loads(meta_path(tmp_path / "s.jsonl").read_text(encoding="utf-8"))
    assert meta["seeding"] == SEEDING and meta["n"] == 2


def test_file_of_the_sha1_seeding_is_refused_for_resume_but_readable_when_complete(tmp_path):
    out = tmp_path / "old.jsonl"
    settings = SampleSettings(model="m", n=2, seed=0)
    old_meta = {k: v for k, v in asdict(settings).items() if k != "seeding"}  # as earlier versions wrote it
    meta_path(out).write_text(json.dumps(old_meta), encoding="utf-8")
    out.write_text(json.dumps({"id": "p0", "prompt": "안녕", "completions": ["a", "b"]}) + "\n", encoding="utf-8")
    with pytest.raises(UsageError, match="other seeds.*sha1"):
        sample_completions(PROMPTS, out, _Echo(), settings)
    assert len(out.read_text(encoding="utf-8").splitlines()) == 1  # nothing appended
    assert sample_completions(PROMPTS[:1], out, _Echo(), settings)["sampled"] == 0  # complete: nothing to add
    with pytest.raises(UsageError, match="other settings"):
        sample_completions(PROMPTS[:1], out, _Echo(), SampleSettings(model="m", n=3, seed=0))


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    pytest.importorskip("torch")
    from tiny_models import make_model_dir

    return make_model_dir(tmp_path_factory.mktemp("tiny") / "m")


def test_hf_samples_are_the_cores_prompts_and_do_not_depend_on_n(tiny_model):
    from langlock.generate import GenerationSettings, PromptItem
    from langlock.generate.hf import HFGenerator

    settings = SampleSettings(model=str(tiny_model), n=3, temperature=1.0, top_p=0.9, max_new_tokens=8)
    generate = hf_generator(settings)
    seed = prompt_seed(0, "p1")
    [three] = generate([("날씨가 어때요?", 3, seed)])
    assert len(three) == 3 and len(set(three)) > 1  # distinct samples
    assert generate([("날씨가 어때요?", 2, seed)]) == [three[:2]]  # sample i depends on (prompt seed, i) only
    assert generate([("날씨가 어때요?", 3, seed + 1)]) != [three]
    # several prompts in one call: each row under its own prompt's seed, as if sampled alone
    other = ("안녕", 2, prompt_seed(0, "p0"))
    assert generate([other, ("날씨가 어때요?", 3, seed)]) == [generate([other])[0], three]
    # exactly the core's completions of the prompts "#0".."#2" under the prompt's seed
    core = HFGenerator(str(tiny_model), batch_size=1)
    out = {}
    core.generate([PromptItem(f"#{i}", "날씨가 어때요?") for i in range(3)],
                  GenerationSettings(max_new_tokens=8, temperature=1.0, top_p=0.9, seed=seed),
                  lambda c: out.__setitem__(c.key, c.text))
    assert [out[f"#{i}"] for i in range(3)] == three


def test_hf_repetition_penalty_equals_transformers_greedy(tiny_model):
    """Greedy decoding with the penalty as a core processor = transformers' own `repetition_penalty`."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from langlock.generate.hf import stop_token_ids

    prompt = "hello hello hello"
    got = hf_generator(SampleSettings(model=str(tiny_model), n=1, temperature=0.0, max_new_tokens=12,
                                      repetition_penalty=100.0))([(prompt, 1, 0)])[0][0]
    plain = hf_generator(SampleSettings(model=str(tiny_model), n=1, temperature=0.0, max_new_tokens=12))([(prompt, 1, 0)])[0]
    tok = AutoTokenizer.from_pretrained(tiny_model)
    model = AutoModelForCausalLM.from_pretrained(tiny_model).eval()
    ids = tok.apply_chat_template([{"role": "user", "content": prompt}], add_generation_prompt=True,
                                  return_tensors="pt", return_dict=True)
    with torch.no_grad():
        ref = model.generate(**ids, do_sample=False, max_new_tokens=12, repetition_penalty=100.0,
                             pad_token_id=tok.pad_token_id)[0, ids["input_ids"].shape[1]:].tolist()
    stops = set(stop_token_ids(tok, model))
    ref = ref[:next((i for i, t in enumerate(ref) if t in stops), len(ref))]
    assert got == tok.decode(ref, skip_special_tokens=True, clean_up_tokenization_spaces=False)
    assert got != plain[0]  # the penalty changed this greedy completion


def test_few_shot_sampling_records_its_examples_and_refuses_other_shots(tmp_path, tiny_model):
    """With shots every sample is the core's completion of the prompt after those turns, each row records the
    examples' answers, and a file sampled with other shots (or none) is not resumed."""
    from langlock.generate import GenerationSettings, PromptItem
    from langlock.generate.hf import HFGenerator

    # short turns: the tiny model has 256 positions
    turns = ({"role": "user", "content": "Hallo?"}, {"role": "assistant", "content": "Guten Tag."})
    settings = SampleSettings(model=str(tiny_model), n=2, temperature=1.0, max_new_tokens=6, shots=turns)
    out = tmp_path / "s.jsonl"
    sample_completions(PROMPTS[:1], out, hf_generator(settings), settings)
    row = json.loads(out.read_text(encoding="utf-8"))
    assert row["examples"] == [t["content"] for t in turns if t["role"] == "assistant"]
    core, got = HFGenerator(str(tiny_model), batch_size=1), {}
    core.generate([PromptItem(f"#{i}", PROMPTS[0]["prompt"], shots=turns) for i in range(2)],
                  GenerationSettings(max_new_tokens=6, temperature=1.0, top_p=1.0, seed=prompt_seed(0, "p0")),
                  lambda c: got.__setitem__(c.key, c.text))
    assert row["completions"] == [got["#0"], got["#1"]]
    zero = hf_generator(SampleSettings(model=str(tiny_model), n=2, temperature=1.0, max_new_tokens=6))
    assert row["completions"] != zero([(PROMPTS[0]["prompt"], 2, prompt_seed(0, "p0"))])[0]  # the turns change the context
    with pytest.raises(UsageError, match="other settings"):
        sample_completions(PROMPTS, out, _Echo(), SampleSettings(model=str(tiny_model), n=2, temperature=1.0,
                                                                  max_new_tokens=6))
    with pytest.raises(UsageError, match="alternating"):
        SampleSettings(model="m", shots=({"role": "assistant", "content": "x"},)).check()


def test_answer_prefixes_start_each_sample_and_the_model_continues_them(tmp_path, tiny_model):
    """Prefix-primed sampling: sample i of a prompt starts with the opener its seed picks, followed by the core's
    continuation of the prompt rendered with that opener; the meta file records the openers, and a file sampled
    with other openers is not resumed."""
    from langlock.generate import GenerationSettings, PromptItem
    from langlock.generate.hf import HFGenerator

    openers = ("Gerne:", "Also,")
    settings = SampleSettings(model=str(tiny_model), n=3, temperature=1.0, max_new_tokens=6, answer_prefixes=openers)
    seed = prompt_seed(0, "p0")
    [samples] = hf_generator(settings)([(PROMPTS[0]["prompt"], 3, seed)])
    picked = [settings.prefix(seed, i) for i in range(3)]
    assert all(p in openers for p in picked) and all(s.startswith(p) for s, p in zip(samples, picked))
    core, got = HFGenerator(str(tiny_model), batch_size=1), {}
    core.generate([PromptItem(f"#{i}", PROMPTS[0]["prompt"], prefix=picked[i], seed=prompt_seed(seed, f"#{i}"))
                   for i in range(3)], GenerationSettings(max_new_tokens=6, temperature=1.0, top_p=1.0),
                  lambda c: got.__setitem__(c.key, c.text))
    assert samples == [picked[i] + got[f"#{i}"] for i in range(3)]
    out = tmp_path / "s.jsonl"
    sample_completions(PROMPTS[:1], out, _Echo(), settings)
    assert json.loads(meta_path(out).read_text(encoding="utf-8"))["answer_prefixes"] == list(openers)
    assert sample_completions(PROMPTS[:1], out, _Echo(), settings)["sampled"] == 0  # resumes with the same openers
    with pytest.raises(UsageError, match="other settings"):
        sample_completions(PROMPTS, out, _Echo(), SampleSettings(model=str(tiny_model), n=3, temperature=1.0,
                                                                  max_new_tokens=6, answer_prefixes=("Ja:",)))
    with pytest.raises(UsageError, match="non-empty strings"):
        SampleSettings(model="m", answer_prefixes=(" ",)).check()


def test_renderer_places_the_answer_prefix_after_the_generation_prompt(tiny_model):
    from transformers import AutoTokenizer

    from langlock.generate.render import PromptRenderer

    tok = AutoTokenizer.from_pretrained(tiny_model)
    chat = PromptRenderer("chat")
    assert chat.text(tok, "hi", prefix="Hallo") == chat.text(tok, "hi") + "Hallo"
    assert PromptRenderer("qa").text(tok, "hi", prefix="Hallo") == "Q: hi\nA: Hallo"
    assert PromptRenderer("qa").text(tok, "hi") == "Q: hi\nA:"
