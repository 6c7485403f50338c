"""Data builders: prompt filter rules, resumable sampling, seeded pairs, and bad input (clear error, exit 2,
nothing written)."""

from __future__ import annotations

import json

import pytest

from langlock.cli.main import main
from langlock.databuild.pairs import build_pairs
from langlock.databuild.prompts import FilterRules, build_prompts, filter_prompts, read_prompts
from langlock.databuild.sample import SampleSettings, load_done, sample_completions
from langlock.errors import InputError, UsageError

POOL = [
    {"instruction": "오늘 날씨를 설명해 주세요", "input": "", "output": "오늘은 맑습니다."},
    {"instruction": "다음 문장을 요약하세요", "input": "고양이가 잔다."},
    {"question": "한국어와 English를 비교해 주세요"},  # names a language
    {"question": "파이썬으로 정렬 코드를 써 주세요"},  # code keyword (Korean "python")
    {"question": "이 한자 你好 를 읽어 주세요"},  # other-script letters: confusion point in the prompt
    {"question": "가" * 501},  # longer than 500 characters
    {"prompt": [{"role": "user", "content": "오늘 날씨를 설명해 주세요"}]},  # duplicate of the first
    {"question": "digit 숫자를 세어 보세요"},  # substring "git", dropped as in TLPO
]


def _write(path, rows):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def test_filter_rules_match_tlpo(tmp_path):
    kept, stats = filter_prompts(POOL, "ko", FilterRules())
    assert [k["prompt"] for k in kept] == ["오늘 날씨를 설명해 주세요", "다음 문장을 요약하세요\n고양이가 잔다."]
    assert kept[0]["reference"] == "오늘은 맑습니다." and "reference" not in kept[1]
    assert stats == {"pool": 8, "kept": 2, "too_short": 0, "too_long": 1, "banned": 3, "confused": 1, "duplicate": 1}


def test_rules_file_overrides_and_whole_words(tmp_path):
    rules = tmp_path / "rules.yaml"
    rules.write_text("whole_words: true\nmax_chars: 1000\nextra_banned: [요약하세요]\n", encoding="utf-8")
    kept, stats = filter_prompts(POOL, "ko", FilterRules.from_file(rules))
    texts = [k["prompt"] for k in kept]
    assert "digit 숫자를 세어 보세요" in texts  # whole-word matching no longer sees "git" in "digit"
    assert "가" * 501 in texts
    assert not any("요약" in t for t in texts)
    bad = tmp_path / "bad.yaml"
    bad.write_text("max_char: 3\n", encoding="utf-8")
    with pytest.raises(UsageError, match="unknown rule"):
        FilterRules.from_file(bad)


def test_prompts_cli_writes_and_bad_inputs_fail_cleanly(tmp_path, capsys):
    pool = _write(tmp_path / "pool.jsonl", POOL)
    out = tmp_path / "p.jsonl"
    assert main(["data", "prompts", "--pool", str(pool), "--lang", "ko", "-o", str(out)]) == 0
    assert [r["prompt"] for r in read_prompts(out)][0] == "오늘 날씨를 설명해 주세요"

    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n", encoding="utf-8")
    malformed = tmp_path / "bad.jsonl"
    malformed.write_text('{"question": "가나"}\n{"question": \n', encoding="utf-8")
    all_dropped = _write(tmp_path / "eng.jsonl", [{"question": "Translate this into Korean"}])
    for src, msg in ((empty, "empty"), (malformed, ":2: malformed JSON"), (all_dropped, "no prompt survived"),
                     (tmp_path / "missing.jsonl", "no such file")):
        target = tmp_path / f"out-{src.stem}.jsonl"
        capsys.readouterr()
        assert main(["data", "prompts", "--pool", str(src), "--lang", "ko", "-o", str(target)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and msg in err[0], err
        assert not target.exists()
        assert not list(tmp_path.glob(f".out-{src.stem}*"))  # no temporary left behind


class _Gen:
    """A deterministic generator that can be told to die after k prompts (a simulated kill)."""

    def __init__(self, die_after=None):
        self.calls = []
        self.die_after = die_after

    def __call__(self, requests):
        if self.die_after is not None and len(self.calls) + len(requests) > self.die_after:
            raise KeyboardInterrupt
        self.calls += [prompt for prompt, _, _ in requests]
        return [[f"{prompt}#{seed % 97}#{i}" for i in range(n)] for prompt, n, seed in requests]


def test_sample_resumes_after_kill_and_torn_line(tmp_path):
    prompts = [{"id": f"p{i}", "prompt": f"질문 {i}", "language": "ko"} for i in range(5)]
    out = tmp_path / "s.jsonl"
    st = SampleSettings(model="m", n=3, seed=7)
    with pytest.raises(KeyboardInterrupt):  # killed in the call after the first two prompts (two per call)
        sample_completions(prompts, out, _Gen(die_after=3), st, prompts_per_call=2)
    assert len(load_done(out)) == 2
    with open(out, "a", encoding="utf-8") as fh:  # a write torn by a kill
        fh.write('{"id": "p2", "prompt": "질문 2", "compl')
    gen = _Gen()
    stats = sample_completions(prompts, out, gen, st)
    assert stats == {"prompts": 5, "resumed": 2, "sampled": 3}
    assert gen.calls == ["질문 2", "질문 3", "질문 4"]
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == ["p0", "p1", "p2", "p3", "p4"]
    # identical to an uninterrupted run: per-prompt seeds
    fresh = tmp_path / "fresh.jsonl"
    sample_completions(prompts, fresh, _Gen(), st)
    assert fresh.read_text(encoding="utf-8") == out.read_text(encoding="utf-8")
    # nothing left to do; other settings refused
    assert sample_completions(prompts, out, _Gen(die_after=0), st)["sampled"] == 0
    with pytest.raises(UsageError, match="other settings"):
        sample_completions(prompts, out, _Gen(), SampleSettings(model="m", n=4, seed=7))


def test_sample_cli_with_tiny_model(tmp_path, capsys):
    pytest.importorskip("torch")
    from tiny_models import make_model_dir

    model = make_model_dir(tmp_path / "tiny")
    prompts = _write(tmp_path / "p.jsonl", [{"id": "a", "prompt": "안녕", "language": "ko"},
                                            {"id": "b", "prompt": "날씨", "language": "ko"}])
    out = tmp_path / "s.jsonl"
    args = ["data", "sample", "--prompts", str(prompts), "--model", str(model), "-n", "2", "--max-new-tokens", "4",
            "-o", str(out)]
    assert main(args) == 0
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [len(r["completions"]) for r in rows] == [2, 2]
    capsys.readouterr()
    assert main(args) == 0  # resumes: nothing to do
    assert '"sampled": 0' in capsys.readouterr().out
    assert len(out.read_text(encoding="utf-8").splitlines()) == 2


SAMPLES = [
    {"id": "a", "prompt": "안녕?", "language": "ko", "completions": ["네, 안녕하세요.", "안녕 你好", "반가워요"],
     "reference": "안녕하세요!"},
    {"id": "b", "prompt": "날씨?", "language": "ko", "completions": ["맑아요.", "좋아요."]},  # all clean
    {"id": "c", "prompt": "음식?", "language": "ko", "completions": ["김치 你好", "他 好"]},  # all confused
    {"id": "d", "prompt": "영화?", "language": "ko", "completions": ["Hello there", "재미있어요", "", "It was fun"]},
]


def test_pairs_seeded_chosen_clean_rejected_confused(tmp_path):
    src = _write(tmp_path / "s.jsonl", SAMPLES)
    stats = build_pairs(src, "ko", tmp_path / "ief", ignore_english=False, seed=3)
    pairs = [json.loads(x) for x in (tmp_path / "ief" / "pairs.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [p["id"] for p in pairs] == ["a", "d"]
    assert pairs[0]["rejected"][0]["content"] == "안녕 你好"
    # which clean / confused completion becomes the pair is drawn with the seed: seed 3 takes these, seed 2 others
    assert pairs[0]["chosen"][0]["content"] == "네, 안녕하세요."
    assert pairs[1]["chosen"][0]["content"] == "재미있어요"
    assert pairs[1]["rejected"][0]["content"] == "It was fun"
    build_pairs(src, "ko", tmp_path / "seed2", ignore_english=False, seed=2)
    other = [json.loads(x) for x in (tmp_path / "seed2" / "pairs.jsonl").read_text(encoding="utf-8").splitlines()]
    assert (other[0]["chosen"][0]["content"], other[1]["rejected"][0]["content"]) == ("반가워요", "Hello there")
    assert pairs[0]["prompt"] == [{"role": "user", "content": "안녕?"}]
    assert (stats["all_clean"], stats["all_confused"], stats["pairs"]) == (1, 1, 2)
    sft = [json.loads(x) for x in (tmp_path / "ief" / "sft.jsonl").read_text(encoding="utf-8").splitlines()]
    assert sft[0]["completion"][0]["content"] == "안녕하세요!"  # the reference answer where there is one
    assert [s["id"] for s in sft] == ["a", "b", "d"]
    # same seed, reversed file order: the same choices
    _write(tmp_path / "r.jsonl", SAMPLES[::-1])
    build_pairs(tmp_path / "r.jsonl", "ko", tmp_path / "rev", ignore_english=False, seed=3)
    rev = {json.loads(x)["id"]: json.loads(x) for x in (tmp_path / "rev" / "pairs.jsonl").read_text().splitlines()}
    assert all(rev[p["id"]] == p for p in pairs)
    # English-neutral: English answers can no longer be rejected ones, so prompt d has no pair
    stats_iet = build_pairs(src, "ko", tmp_path / "iet", ignore_english=True, seed=3)
    assert stats_iet["pairs"] == 1


def test_pairs_bad_inputs_exit_2_and_write_nothing(tmp_path, capsys):
    confused = _write(tmp_path / "conf.jsonl", [SAMPLES[2]])
    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    malformed = tmp_path / "bad.jsonl"
    malformed.write_text(json.dumps(SAMPLES[0]) + "\n{oops\n", encoding="utf-8")
    wrong = _write(tmp_path / "wrong.jsonl", [{"id": "x", "prompt": "p", "completions": "not a list"}])
    for src, msg in ((confused, "1 had only confused"), (empty, "empty"), (malformed, ":2: malformed"),
                     (wrong, "completions")):
        out = tmp_path / f"out-{src.stem}"
        capsys.readouterr()
        assert main(["data", "pairs", "--samples", str(src), "--lang", "ko", "-o", str(out)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and msg in err[0], err
        assert not out.exists() and not list(tmp_path.glob(f".out-{src.stem}*"))
    with pytest.raises(InputError):
        build_prompts(empty, "ko", tmp_path / "x.jsonl")


def test_pairs_validity_rejects_loops_and_echoes_as_targets(tmp_path):
    """With validity, a German answer that loops or restates the prompt is never an SFT target or a chosen
    answer: it becomes a rejected one; a genuine German answer stays the target."""
    prompt = "Antworte mir bitte ausführlich: Sag mir, wie man eine gute Kanne Kaffee kocht."
    loop = "Der Kaffee ist sehr gut und heiß. " * 8
    echo = prompt
    good = "Nimm frisch gemahlene Bohnen, heißes Wasser knapp unter dem Siedepunkt und lass ihn vier Minuten ziehen."
    rows = [{"id": "a", "prompt": prompt, "completions": [loop, good]},
            {"id": "b", "prompt": prompt, "completions": [loop, echo]}]
    src = _write(tmp_path / "s.jsonl", rows)
    strict = build_pairs(src, "de", tmp_path / "valid", profile="lcb", seed=0, validity="cheap")
    sft = [json.loads(x) for x in (tmp_path / "valid" / "sft.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [(s["id"], s["completion"][0]["content"]) for s in sft] == [("a", good)]
    pairs = [json.loads(x) for x in (tmp_path / "valid" / "pairs.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [(p["chosen"][0]["content"], p["rejected"][0]["content"]) for p in pairs] == [(good, loop)]
    assert strict["all_confused"] == 1 and strict["settings"]["validity"] == "cheap"
    # without the check the loop and the echo pass as clean German: no pair, and they are SFT targets
    plain = build_pairs(src, "de", tmp_path / "plain", profile="lcb", seed=0)
    assert (plain["pairs"], plain["sft"], plain["all_clean"]) == (0, 2, 2)
    assert (tmp_path / "plain" / "pairs.jsonl").read_text(encoding="utf-8") == ""


def test_pairs_reject_copies_of_in_context_examples(tmp_path):
    """Few-shot sampled rows carry their examples' answers: a sample that copies one is never a target (with or
    without the validity check); a genuine answer is, paired with the zero-shot prompt."""
    demo = "Gieße sie, wenn sich die Erde trocken anfühlt, gib ihnen viel Licht und lass nie Wasser im Topf stehen."
    good = "Eine Option ist ein Vertrag: Man zahlt eine Prämie und darf eine Aktie später zu einem festen Preis kaufen."
    prompt = "Explain how options trading works. Please answer in German."
    rows = [{"id": "a", "prompt": prompt, "completions": [demo, good], "examples": [demo]},
            {"id": "b", "prompt": prompt, "completions": [demo + " Das ist alles.", demo], "examples": [demo]}]
    src = _write(tmp_path / "s.jsonl", rows)
    for validity in (None, "cheap"):
        out = tmp_path / f"out-{validity}"
        st = build_pairs(src, "de", out, profile="lcb", seed=0, validity=validity)
        sft = [json.loads(x) for x in (out / "sft.jsonl").read_text(encoding="utf-8").splitlines()]
        assert [(s["id"], s["prompt"][0]["content"], s["completion"][0]["content"]) for s in sft] == [("a", prompt, good)]
        assert (st["copies"], st["all_confused"]) == (3, 1)
    _write(tmp_path / "bad.jsonl", [{**rows[0], "examples": "not a list"}])
    with pytest.raises(InputError, match="examples"):
        build_pairs(tmp_path / "bad.jsonl", "de", tmp_path / "bad", profile="lcb")


def test_in_language_sampling_asks_the_translated_request_and_trains_the_crosslingual_prompt(tmp_path):
    """A prompt row with sample_prompt is sampled as that text (the request written in the target language) and
    the row records it; the pairs step judges echo against what the model was shown, and its SFT row pairs the
    answer with the row's own (cross-lingual) prompt."""
    cross = "Answer me in Korean: Explain why the moon has phases."
    ko = "달의 모양이 왜 변하는지 설명해 주세요."
    good = "달은 스스로 빛을 내지 않고 햇빛을 반사합니다. 지구 주위를 도는 동안 우리가 보는 밝은 부분이 달라집니다."
    asked = []

    def generate(requests):
        asked.extend(prompt for prompt, _, _ in requests)
        return [[good, ko][:n] for _, n, _ in requests]

    out = tmp_path / "s.jsonl"
    sample_completions([{"id": "m", "prompt": cross, "language": "ko", "sample_prompt": ko}], out, generate,
                       SampleSettings(model="m", n=2))
    row = json.loads(out.read_text(encoding="utf-8"))
    assert asked == [ko] and row["sample_prompt"] == ko and row["prompt"] == cross
    st = build_pairs(out, "ko", tmp_path / "p", profile="lcb", validity="cheap")
    sft = [json.loads(x) for x in (tmp_path / "p" / "sft.jsonl").read_text(encoding="utf-8").splitlines()]
    # the answer restating the Korean request is an echo of what the model saw, not a target
    assert [(s["prompt"][0]["content"], s["completion"][0]["content"]) for s in sft] == [(cross, good)]
    assert st["invalid"] == 1
    # the prompts step keeps a pool row's sample_prompt
    pool = _write(tmp_path / "pool.jsonl", [{"question": cross, "sample_prompt": ko}])
    build_prompts(pool, "ko", tmp_path / "prompts.jsonl", FilterRules(banned_substrings=[]))
    assert read_prompts(tmp_path / "prompts.jsonl")[0]["sample_prompt"] == ko
