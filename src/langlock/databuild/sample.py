"""Step 2 of the data pipeline: N sampled completions per prompt (tlpo-and-lcb-spec §3.2), resumable.

Output: JSONL, one row per prompt ``{"id", "prompt", "language", "completions": [N strings], "reference"?}``,
appended one line per prompt (flushed and fsynced after each call of the generator), so a killed run loses at most
the prompts of the call in flight. On the next run the file is read back, a torn last line (no trailing newline)
is cut off, and only prompts whose id is not yet there are sampled. The settings (model, N, temperature, top-p,
max new tokens, seed) are stored next to it in ``OUT.meta.json``; resuming with different settings is refused
rather than mixing two distributions.

With ``shots`` (user / assistant turns, e.g. `langlock.fewshot.demonstration_turns`) every prompt is sampled after
those in-context examples — *few-shot self-distillation*: the model's own answers under a few-shot prompt become
training targets for the zero-shot prompt. Each row then records the examples' answers (``examples``), so the
pairs step can reject a sample that copies one (the validity judge's ``copy`` signal).

A prompt row with ``sample_prompt`` is sampled as that text instead of its ``prompt`` — *in-language
distillation*: a cross-lingual request is sampled as the same request written in the target language, so an
answer in that language becomes the training target for the cross-lingual prompt. The row records it.

With ``answer_prefixes`` every sample starts with one of those openers (written in the target language) and the
model continues it — *prefix-primed sampling*: a model that answers an English request in English is started in
the requested language while it reads the request itself. The completion keeps the opener.

Sampling runs on the generation core (`langlock.generate.hf`: chat template, one user turn, seeded
temperature / top-p sampling, its stop rule). Prompt `id` gets the seed ``s = prompt_seed(run seed, id)``
(`generate.base.prompt_seed`, the one every generation path uses) and its N samples are the core's prompts
``#0`` … ``#N-1`` under run seed ``s``, i.e. sample i is drawn with ``prompt_seed(s, "#i")``: a resumed run
produces exactly what an uninterrupted one would, whatever the batching. The samples of several prompts share
one batch of the core (``prompts_per_call`` prompts per call, each row under its own prompt's seed), and the
rows of a call are written when it finishes. Full texts are always kept (no early stop at the confusion point):
the pairs and SFT data need whole answers.

Seeding changed when the sampler moved onto the core (before: per-prompt ``sha1`` seeds and transformers'
sampler). The meta file records the scheme (``seeding``); a samples file written under the old one is refused
for resuming, so two distributions are never mixed in one file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import InputError, UsageError
from ..generate.base import prompt_seed
from ..io_utils import write_json_atomic

#: One prompt to sample: (prompt text, n, the prompt's seed ``prompt_seed(run seed, id)``).
SampleRequest = tuple[str, int, int]
#: generate(requests) -> for each request its n completion strings, in order.
GenerateFn = Callable[[list[SampleRequest]], list[list[str]]]

#: Samples per call of the generator by default (prompts x N): one batch of the core.
BATCH_ROWS = 16

#: How samples are seeded, recorded in the meta file (absent in files of the earlier sha1 scheme).
SEEDING = "generate.prompt_seed(prompt_seed(seed, id), '#i')"


@dataclass(frozen=True)
class SampleSettings:
    model: str
    n: int = 16
    temperature: float = 0.7
    top_p: float = 1.0
    max_new_tokens: int = 256
    repetition_penalty: float = 1.0
    seed: int = 0
    #: in-context user / assistant turns placed before every prompt (none: zero-shot)
    shots: tuple = ()
    #: answer openers: each sample starts with one of them (``prompt_seed(prompt seed, "#i")`` picks it) and the
    #: model continues it; the completion keeps the opener (none: the model starts the answer)
    answer_prefixes: tuple = ()
    seeding: str = field(default=SEEDING, init=False)  # recorded in the meta file; not a setting

    def check(self) -> None:
        if self.n < 1:
            raise UsageError(f"-n must be at least 1, got {self.n}")
        if self.temperature < 0:
            raise UsageError(f"temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise UsageError(f"top-p must be in (0, 1], got {self.top_p}")
        if self.max_new_tokens < 1:
            raise UsageError(f"max new tokens must be at least 1, got {self.max_new_tokens}")
        roles = [t.get("role") if isinstance(t, dict) else None for t in self.shots]
        if roles != ["user", "assistant"] * (len(roles) // 2) or not all(
                isinstance(t.get("content"), str) for t in self.shots):
            raise UsageError("shots must be alternating user / assistant turns with text content")
        if not all(isinstance(x, str) and x.strip() for x in self.answer_prefixes):
            raise UsageError("answer prefixes must be non-empty strings")

    def examples(self) -> list[str]:
        """The answers of the in-context examples (what a sample must not copy)."""
        return [t["content"] for t in self.shots if t["role"] == "assistant"]

    def meta(self) -> dict:
        """The settings as JSON data (the meta file's content)."""
        return {**asdict(self), "shots": [dict(t) for t in self.shots], "answer_prefixes": list(self.answer_prefixes)}

    def prefix(self, seed: int, i: int) -> str:
        """The opener of sample `i` of the prompt seeded `seed` ("" without answer prefixes)."""
        if not self.answer_prefixes:
            return ""
        return self.answer_prefixes[prompt_seed(seed, f"#{i}") % len(self.answer_prefixes)]


def meta_path(out: Path) -> Path:
    return out.with_name(out.name + ".meta.json")


def load_done(out: Path) -> dict[str, dict]:
    """Rows already in `out`, keyed by id; a torn last line (killed mid-write) is truncated away first."""
    if not out.exists():
        return {}
    data = out.read_bytes()
    if data and not data.endswith(b"\n"):
        cut = data.rfind(b"\n") + 1
        with open(out, "r+b") as fh:
            fh.truncate(cut)
        data = data[:cut]
    done: dict[str, dict] = {}
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise InputError(f"{out}: existing samples file is not valid UTF-8 (byte offset {err.start}); "
                         "remove the file or pass another output") from None
    for n, line in enumerate(text.split("\n"), 1):  # not splitlines: JSON strings may hold U+2028, \x85
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except (json.JSONDecodeError, RecursionError) as err:
            raise InputError(f"{out}:{n}: malformed line in an existing samples file "
                             f"({getattr(err, 'msg', 'nested too deeply')}); "
                             "remove the file or pass another output") from None
        if not isinstance(row, dict) or "id" not in row or not isinstance(row.get("completions"), list):
            raise InputError(f"{out}:{n}: not a samples row (needs id and completions)")
        done[str(row["id"])] = row
    return done


def sample_completions(
    prompts: list[dict],
    out: str | Path,
    generate: GenerateFn,
    settings: SampleSettings,
    progress: Callable[[int, int], None] | None = None,
    prompts_per_call: int | None = None,
) -> dict:
    """Append one row per not-yet-sampled prompt to `out`, `prompts_per_call` prompts per `generate` call
    (default: about `BATCH_ROWS` samples per call); return counts {prompts, resumed, sampled}."""
    settings.check()
    per_call = prompts_per_call or max(1, BATCH_ROWS // settings.n)
    if per_call < 1:
        raise UsageError(f"prompts_per_call must be at least 1, got {prompts_per_call}")
    out = Path(out)
    if not prompts:
        raise InputError("no prompts to sample")
    meta = meta_path(out)
    want = settings.meta()
    have = json.loads(meta.read_text(encoding="utf-8")) if meta.exists() else None
    if have is not None:
        have.setdefault("seeding", None)  # files of the earlier sha1 scheme
        have.setdefault("shots", [])  # files written before few-shot sampling
        have.setdefault("answer_prefixes", [])  # files written before answer prefixes
        if {**have, "seeding": SEEDING} != want:
            diff = ", ".join(f"{k}: {have.get(k)!r} -> {v!r}" for k, v in want.items()
                             if k != "seeding" and have.get(k) != v)
            raise UsageError(f"{out} was sampled with other settings ({diff}); use a new output path")
    elif out.exists() and out.stat().st_size:
        raise UsageError(f"{out} exists but has no {meta.name}; refusing to append to a file of unknown origin")
    done = load_done(out)
    ids = {p["id"] for p in prompts}
    stray = [i for i in done if i not in ids]
    if stray:
        raise UsageError(f"{out} holds {len(stray)} prompt(s) not in this prompts file; use a new output path")
    todo = [p for p in prompts if p["id"] not in done]
    if todo and have is not None and have["seeding"] != SEEDING:
        scheme = have["seeding"] or "per-prompt sha1 seeds and transformers' sampler, before the generation core"
        raise UsageError(f"{out} was sampled with other seeds ({scheme}); its {len(todo)} missing prompt(s) cannot "
                         "be added consistently. Sample into a new output path (or delete the file and its "
                         ".meta.json)")
    if todo and not meta.exists():
        write_json_atomic(meta, want)
    if todo:
        out.parent.mkdir(parents=True, exist_ok=True)
        with open(out, "a", encoding="utf-8") as fh:
            for start in range(0, len(todo), per_call):
                chunk = todo[start:start + per_call]
                got = generate([(p.get("sample_prompt") or p["prompt"], settings.n, prompt_seed(settings.seed, p["id"]))
                                for p in chunk])
                if len(got) != len(chunk):
                    raise RuntimeError(f"generator answered {len(got)} of {len(chunk)} prompts")
                for p, comps in zip(chunk, got):
                    if len(comps) != settings.n or not all(isinstance(c, str) for c in comps):
                        raise RuntimeError(f"generator returned {len(comps)} completions for prompt {p['id']}, "
                                           f"expected {settings.n}")
                    fh.write(json.dumps(sample_row(p, comps, settings), ensure_ascii=False) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
                if progress:
                    progress(len(done) + start + len(chunk), len(prompts))
    return {"prompts": len(prompts), "resumed": len(done), "sampled": len(todo)}


def sample_row(prompt: dict, completions: list[str], settings: SampleSettings) -> dict:
    """The samples file's row for one prompt."""
    row = {"id": prompt["id"], "prompt": prompt["prompt"], "language": prompt.get("language"),
           "completions": completions}
    if settings.shots:
        row["examples"] = settings.examples()
    if prompt.get("sample_prompt"):
        row["sample_prompt"] = prompt["sample_prompt"]
    if prompt.get("reference") is not None:
        row["reference"] = prompt["reference"]
    return row


def hf_generator(settings: SampleSettings, dtype: str = "float32", device: str = "cpu",
                 batch_size: int = BATCH_ROWS) -> GenerateFn:
    """A `GenerateFn` over the generation core (`generate.hf.HFGenerator`): chat template, the settings' in-context
    turns (if any) then one user turn, no system prompt. The samples of all the requests of a call go to the
    core together, in batches of at most `batch_size` rows (at least N) within its token budget, each row
    seeded by its own prompt's seed. The model is loaded on the first call, so a samples file that is already
    complete resumes without loading it."""
    from ..generate.base import GenerationSettings, PromptItem
    from ..generate.hf import DecodeOptions

    state: dict = {}

    def core():
        if not state:
            from ..generate.hf import HFGenerator

            gen = HFGenerator(settings.model, dtype=dtype, device=device, batch_size=max(batch_size, settings.n))
            if not gen.use_chat_template:
                raise InputError(f"{settings.model}: the tokenizer has no chat template")
            options = DecodeOptions()
            if settings.repetition_penalty != 1.0:
                from transformers import RepetitionPenaltyLogitsProcessor

                penalty = [RepetitionPenaltyLogitsProcessor(settings.repetition_penalty)]
                options = DecodeOptions(processors=lambda _language: penalty)
            state.update(gen=gen, options=options)
        return state["gen"], state["options"]

    def generate(requests: list[SampleRequest]) -> list[list[str]]:
        gen, options = core()
        settings_now = GenerationSettings(max_new_tokens=settings.max_new_tokens, temperature=settings.temperature,
                                          top_p=settings.top_p, seed=settings.seed)
        items = [PromptItem(f"{r}#{i}", prompt, shots=settings.shots, seed=prompt_seed(seed, f"#{i}"),
                            prefix=settings.prefix(seed, i))
                 for r, (prompt, n, seed) in enumerate(requests) for i in range(n)]
        out: dict[str, str] = {}
        gen.generate(items, settings_now, lambda c: out.__setitem__(c.key, c.text), options)
        # a sample is its opener (if any) and the model's continuation of it
        return [[settings.prefix(seed, i) + out[f"{r}#{i}"] for i in range(n)] for r, (_, n, seed) in enumerate(requests)]

    return generate


def sample_file(prompts_file: str | Path, out: str | Path, settings: SampleSettings, *, limit: int | None = None,
                dtype: str = "float32", device: str = "cpu",
                progress: Callable[[int, int], None] | None = None) -> dict:
    """`langlock data sample`: the first `limit` prompts of a `data prompts` file, sampled with the model of
    `settings` into `out` (resumable; see `sample_completions`); returns its statistics."""
    from .prompts import read_prompts

    settings.check()
    prompts = read_prompts(prompts_file)
    if limit is not None:
        prompts = prompts[:limit]
    return sample_completions(prompts, out, hf_generator(settings, dtype=dtype, device=device), settings, progress)
