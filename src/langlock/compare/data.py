"""Stage 1 of `langlock compare`, data (once, shared by every method and seed): a prompt pool (``builtin-train``,
optionally one task of it, or a JSONL pool) filtered by `langlock.databuild.prompts` (rules: ``pool_rules``);
``samples_per_prompt`` completions per prompt from the *base* model (`databuild.sample`; with ``sample_shots``
after that many demonstrations — few-shot self-distillation, into ``samples-Nshot.jsonl``; with
``sample_in_language`` as the request written in the target language — in-language distillation,
``samples-inlang.jsonl``; with ``in_language_pairs`` also as written, for the rejected side:
`with_own_answers`); pairs / SFT / prompt-only data (`databuild.pairs`, detector setting ``pair_ignore_english``,
clean samples also valid answers with ``pair_validity``). With ``replay_english`` the SFT rows gain the base's own
valid answers to that many English prompts (`with_replay`, folder ``PAIRS+replayK``). Each step resumes.

The ``joint-*`` methods train on the pooled data of ``joint_languages`` (`joint_data`): each other language's data
is built the same way into ``OUT/data-LANG``, and the pairs / SFT / prompt files are concatenated in
``OUT/data-joint-L1-L2...``.
"""

from __future__ import annotations

import time
from pathlib import Path

from ..errors import UsageError
from .config import CompareConfig, say


def build_data(cfg: CompareConfig, language: str | None = None) -> Path:
    """Prompts → samples → pairs of `language` (default: the target) under OUT/data (the target's) or
    OUT/data-LANG; returns the pairs folder. Each step resumes."""
    from ..databuild.pairs import build_pairs
    from ..databuild.prompts import FilterRules, build_prompts, read_prompts
    from ..databuild.sample import SampleSettings, hf_generator, sample_completions
    from ..fewshot import demonstration_turns

    language = language or cfg.language
    data = Path(cfg.output_dir) / ("data" if language == cfg.language else f"data-{language}")
    prompts_file = data / ("prompts-inlang.jsonl" if cfg.sample_in_language else "prompts.jsonl")
    if not prompts_file.exists():
        pool = Path(cfg.pool)
        if cfg.pool == "builtin-train":
            from ..suites import load_suite

            pool_prompts = load_suite("builtin-train", task=cfg.pool_task or "all", langs=language)
            if cfg.sample_in_language and not all(p.meta.get("request_in_language") for p in pool_prompts):
                raise UsageError(f"sample_in_language: builtin-train has no {language} version of its cross-lingual "
                                 "requests (written for ko and ja)")
            rows = [{"question": p.prompt, **({"sample_prompt": p.meta["request_in_language"]}
                                              if cfg.sample_in_language else {})} for p in pool_prompts]
            pool = data / "pool.jsonl"
            from ..io_utils import write_jsonl_atomic

            write_jsonl_atomic(pool, rows)
        try:
            rules = FilterRules(**cfg.pool_rules)
        except TypeError as exc:
            raise UsageError(f"pool_rules: {exc}") from None
        build_prompts(pool, language, prompts_file, rules, limit=cfg.pool_limit)
    prompts = read_prompts(prompts_file)
    shots = demonstration_turns(language, cfg.sample_shots)
    prefixes = tuple(cfg.sample_answer_prefixes.get(language, ()))
    settings = SampleSettings(model=str(cfg.model), n=cfg.samples_per_prompt, temperature=cfg.sample_temperature,
                              max_new_tokens=cfg.sample_max_new_tokens, seed=cfg.data_seed, shots=shots,
                              answer_prefixes=prefixes)
    tag = ((f"-{cfg.sample_shots}shot" if cfg.sample_shots else "") + ("-inlang" if cfg.sample_in_language else "")
           + ("-primed" if prefixes else ""))
    samples = data / f"samples{tag}.jsonl"
    t0 = time.time()
    generate = hf_generator(settings, dtype=cfg.dtype, device=cfg.device)  # loads the model only when needed
    stats = sample_completions(prompts, samples, generate, settings)
    if stats["sampled"]:
        say(f"sampled {stats['sampled']} prompt(s) x {cfg.samples_per_prompt} in {time.time() - t0:.0f} s"
            + (f" after {cfg.sample_shots} demonstrations" if shots else ""))
    if cfg.in_language_pairs:
        samples = with_own_answers(prompts, samples, generate, settings)
        tag += "+own"
    pairs_dir = data / (("pairs-ief" if not cfg.pair_ignore_english else "pairs-iet")
                        + (f"-valid-{cfg.pair_validity}" if cfg.pair_validity else "") + tag)
    if not (pairs_dir / "stats.json").exists():
        st = build_pairs(samples, language, pairs_dir, ignore_english=cfg.pair_ignore_english,
                         seed=cfg.data_seed, validity=cfg.pair_validity)
        say(f"data: {st['pairs']} pairs, {st['sft']} SFT rows from {st['prompts']} prompts "
             f"(confusion rate of the base samples {st['confusion_rate']:.3f}"
            + (f"; {st['copies']} copied a demonstration" if shots else "") + ")")
    if cfg.replay_english:
        pairs_dir = with_replay(cfg, pairs_dir)
    return pairs_dir


def with_own_answers(prompts: list[dict], inlang_samples: Path, generate, settings) -> Path:
    """The in-language samples with the model's own answers to each request *as written* added to its row
    (sampled into ``samples-own.jsonl``; the in-language answers first), in ``samples-inlang+own.jsonl``:
    `build_pairs` then pairs a clean in-language answer (chosen) with a confused own answer (rejected)."""
    from ..databuild.jsonl import read_rows
    from ..databuild.sample import sample_completions
    from ..io_utils import write_jsonl_atomic

    own = inlang_samples.with_name("samples-own.jsonl")
    as_written = [{k: v for k, v in p.items() if k != "sample_prompt"} for p in prompts]
    stats = sample_completions(as_written, own, generate, settings)
    if stats["sampled"]:
        say(f"sampled {stats['sampled']} request(s) as written, for the rejected side of the in-language pairs")
    merged = inlang_samples.with_name("samples-inlang+own.jsonl")
    answers = {r["id"]: r["completions"] for r in read_rows(own, "samples")}
    write_jsonl_atomic(merged, [{**r, "completions": r["completions"] + answers[r["id"]]}
                                for r in read_rows(inlang_samples, "samples")])
    return merged


def with_replay(cfg: CompareConfig, pairs_dir: Path) -> Path:
    """`pairs_dir` with the SFT rows of ``cfg.replay_english`` English builtin-train prompts answered by the base
    (its clean, valid samples; built like any language's data, in OUT/replay-en) appended, in
    ``PAIRS+replayK``; preference pairs and prompts are the target's alone."""
    import json
    from dataclasses import replace

    from ..io_utils import atomic_dir, write_json_atomic

    out = pairs_dir.with_name(f"{pairs_dir.name}+replay{cfg.replay_english}")
    if (out / "stats.json").is_file():
        return out
    english = replace(cfg, output_dir=str(Path(cfg.output_dir) / "replay-en"), pool="builtin-train",
                      pool_task="monolingual", pool_rules={}, pool_limit=cfg.replay_english, sample_shots=0,
                      sample_in_language=False, in_language_pairs=False, joint_languages=[], replay_english=0)
    replay = build_data(english, "en")
    rows = (replay / "sft.jsonl").read_text(encoding="utf-8")
    with atomic_dir(out) as tmp:
        for name in POOLED_FILES:
            text = (pairs_dir / name).read_text(encoding="utf-8")
            (tmp / name).write_text(text + rows if name == "sft.jsonl" else text, encoding="utf-8")
    stats = json.loads((pairs_dir / "stats.json").read_text(encoding="utf-8"))
    n_rows = len(rows.splitlines())
    stats["replay_english"] = {"prompts": cfg.replay_english, "sft": n_rows, "data": str(replay)}
    stats["sft"] += n_rows
    write_json_atomic(out / "stats.json", stats)  # last: its presence marks the folder complete
    say(f"data: replay, {n_rows} SFT row(s) of the base's own valid English answers added ({out})")
    return out


def site_examples_path(cfg: CompareConfig) -> Path:
    """Where `site_examples` writes the SITE demonstrations drawn from the shared data (known before it exists)."""
    return Path(cfg.output_dir) / "data" / f"site-examples-{cfg.language}.jsonl"


def site_examples(cfg: CompareConfig, pairs_dir: Path) -> Path:
    """SITE's demonstrations from the shared training data (``method_args.site.examples: data``): every SFT row of
    `pairs_dir` whose request is one of its target-language training prompts (the English replay rows left out),
    as ``{"prompt", "answer"}`` lines for `langlock.steer.fit` -- the same requests and answers SFT trains on."""
    from ..databuild.jsonl import read_rows
    from ..io_utils import write_jsonl_atomic

    out = site_examples_path(cfg)
    if out.is_file():
        return out

    def user(messages) -> str:
        return messages if isinstance(messages, str) else next(m["content"] for m in messages if m["role"] == "user")

    requests = {user(r["prompt"]) for r in read_rows(pairs_dir / "prompts.jsonl", "prompts")}
    rows = []
    for r in read_rows(pairs_dir / "sft.jsonl", "sft"):
        prompt = user(r["prompt"])
        answer = r["completion"] if isinstance(r["completion"], str) else r["completion"][-1]["content"]
        if prompt in requests:
            rows.append({"prompt": prompt, "answer": answer})
    if len(rows) < 2:
        raise UsageError(f"method_args.site.examples: data: {pairs_dir} has {len(rows)} target-language SFT row(s); "
                         "SITE needs at least 2")
    write_jsonl_atomic(out, rows)
    say(f"data: {len(rows)} SITE demonstrations from the shared SFT rows ({out})")
    return out


#: the data files of a pairs folder that a ``joint-*`` method can pool
POOLED_FILES = ("pairs.jsonl", "sft.jsonl", "prompts.jsonl")


def joint_data(cfg: CompareConfig) -> Path:
    """The pooled data of ``cfg.pooled_languages()`` (each language's `build_data`, files concatenated in the
    languages' order); built once, returns its folder."""
    from ..io_utils import atomic_dir, write_json_atomic

    langs = cfg.pooled_languages()
    out = Path(cfg.output_dir) / f"data-joint-{'-'.join(langs)}"
    if (out / "stats.json").is_file():
        return out
    sources = {lang: build_data(cfg, lang) for lang in langs}
    with atomic_dir(out) as tmp:
        for name in POOLED_FILES:
            with open(tmp / name, "w", encoding="utf-8") as fh:
                for src in sources.values():
                    fh.write((src / name).read_text(encoding="utf-8"))
    # written last: its presence marks the pooled data as complete
    write_json_atomic(out / "stats.json", {"languages": langs, "sources": {k: str(v) for k, v in sources.items()}})
    say(f"data: pooled {', '.join(langs)} into {out}")
    return out
