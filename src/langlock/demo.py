"""The whole story on a test subject that can write the language: diagnose → fix → verify → report
(`langlock demo`, `make demo`).

The default subject (recipe ``ja``, `data/demo_ja.yaml`) is ``gemma3-270m-it`` on Japanese: Gemma-3-270M
instruction-tuned by langlock (shipped as its LoRA adapter, merged once). It writes valid Japanese when asked in
Japanese but answers English requests "answer in Japanese" in English (docs/subjects.md). Recipe ``ko``
(`data/demo_ko.yaml`) is the same fix of the same subject's Korean: the pass rate rises as much, but read, the
subject's Korean answers to English requests are off the question about half the time (docs/subjects.md).
Recipe ``de`` (`data/demo_de.yaml`) is the earlier subject, SmolLM2-135M-Instruct on German. (SmolLM2's Korean
is echoes and syllable noise: no method can fix what the model cannot write.)

1. **diagnose** the model on `builtin-confusion` (every language, the benchmark's decoding, a subset);
2. **fix** the target language by SFT on the model's *own* valid answers: ``ja`` and ``ko`` ask each
   cross-lingual request of `builtin-train` in the language itself (in-language distillation), ``de`` samples the
   German requests as they are; the answers in the language that are also valid (no echo, loop, near-empty answer
   or word salad) become the SFT targets of a short LoRA run, with the model's own English answers to English
   prompts replayed (``ja``, ``ko``).
   The recipe is a packaged compare config (`langlock.compare`: data → train), so the fix is the project's
   `sft` method, nothing special to the demo;
3. **verify** base and fix identically with `langlock.compare` on held-out prompts (`builtin-confusion`'s
   cross-lingual prompts of the language: other requests and phrasings than training's), `builtin-retention`,
   multiple-choice accuracy and NLL drift on genuine text (the base scored once), and KL to the base;
4. **report**: one HTML page (the same prompts' answers side by side, before and after), the before/after table
   and one line ``RESULT cpr_before=… cpr_after=… vr_before=… vr_after=… nll_drift_en=…``: cross-lingual clean
   pass rate and valid-answer rate in the target language on the held-out prompts (%), and the relative change
   of English NLL per byte on genuine text.

Every stage resumes: a rerun skips the finished diagnose, reuses the data and the trained adapter and
re-evaluates nothing already evaluated.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

#: the packaged recipes (compare configs), by name; the first is the default
RECIPES = {"ja": "demo_ja.yaml", "ko": "demo_ko.yaml", "de": "demo_de.yaml"}
#: (metric key in langlock.compare, column header, scale, digits); {lang} is the target language
TABLE = (
    ("cpr_cross", "{lang} CPR x", 100, 1),
    ("vr_cross", "{lang} VR x", 100, 1),
    ("lcb_lpr_cross", "{lang} LPR x", 100, 1),
    ("third_lang_cross", "3rd lang x", 100, 1),
    ("on_topic_cross", "on topic x", 100, 1),
    ("retention_acc", "retention", 100, 1),
    ("mc_acc", "MC (en)", 100, 1),
    ("mc_delta", "MC chg", 100, 1),
    ("nll_drift_en", "NLL chg en", 1, 4),
    ("nll_drift_target", "NLL chg {lang}", 1, 4),
    ("kl_en", "KL(en)", 1, 4),
)
LABELS = {"base": "before (base)", "lock": "LanguageLock", "sft": "SFT (LoRA)", "dpo": "DPO (LoRA)",
          "tlpo": "TLPO (LoRA)"}


@dataclass
class DemoSettings:
    output_dir: str = "runs/demo"
    recipe: str = next(iter(RECIPES))  # a RECIPES name; the first is the default
    model: str | None = None  # None: the recipe's
    limit: int = 2  # diagnose: prompts per task and language
    langs: str | None = None  # diagnose languages (None: the suite's ten)
    verify_limit: int | None = None  # verify: held-out prompts per task and language (None: the recipe's)
    overrides: list[str] = field(default_factory=list)  # KEY=VALUE for the recipe (a CompareConfig)
    batch_size: int = 16
    threads: int | None = None  # torch CPU threads for every stage (None: torch's default)
    cache_dir: str | None = None
    seed: int = 0
    max_new_tokens: int = 100


def _say(msg: str) -> None:
    print(f"\n== {msg}", flush=True)


def _pct(v, scale=100, digits=1) -> str:
    return "–" if v is None else f"{v * scale:.{digits}f}"


def recipe(s: DemoSettings):
    """The demo's compare config: the packaged recipe, the demo's folder, model, seed and limits, then the
    user's KEY=VALUE overrides."""
    from dataclasses import fields

    from .compare import CompareConfig
    from .config_io import apply_overrides, read_yaml
    from .errors import UsageError

    if s.recipe not in RECIPES:
        raise UsageError(f"unknown demo recipe {s.recipe!r}; choose from {', '.join(RECIPES)}")
    with resources.as_file(resources.files("langlock") / "data" / RECIPES[s.recipe]) as path:
        data = read_yaml(path)
    data.update(output_dir=str(Path(s.output_dir) / "verify"), seeds=[s.seed], batch_size=s.batch_size,
                threads=s.threads, eval_max_new_tokens=s.max_new_tokens)
    if s.model:
        data["model"] = s.model
    if s.verify_limit is not None:
        data["eval_limit"] = s.verify_limit
    apply_overrides(data, s.overrides)
    known = {f.name for f in fields(CompareConfig)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise UsageError(f"demo recipe: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    return CompareConfig(**data)


def fix_method(cfg) -> str:
    """The recipe's fix: its one trained method."""
    from .compare import UNTRAINED
    from .errors import UsageError

    trained = [m for m in cfg.methods if m not in UNTRAINED]
    if len(trained) != 1 or "base" not in cfg.methods:
        raise UsageError(f"the demo recipe needs 'base' and exactly one trained method, got {cfg.methods}")
    return trained[0]


def diagnose(s: DemoSettings, model_path: Path, label: str, out=None) -> Path:
    """Stage 1: builtin-confusion on every language; prints the table and the first confusion points (to `out`,
    default the current stdout)."""
    out = out or sys.stdout
    from .bench.report import excerpt
    from .bench.runner import BenchConfig, run_bench
    from .generate import GenerationSettings

    run = Path(s.output_dir) / "diagnose"
    cfg = BenchConfig(output_dir=str(run), model=str(model_path), model_label=label, suite="builtin-confusion",
                      langs=s.langs, limit=s.limit, batch_size=s.batch_size, threads=s.threads,
                      settings=GenerationSettings(seed=s.seed, max_new_tokens=s.max_new_tokens))
    summary = run_bench(cfg)
    out.write(f"builtin-confusion, first {s.limit} prompt(s) per task and language (subset), "
              "decoding p=0.75 T=0.3 <=100 tokens; VR = valid answers, CPR = valid and in the right language\n")
    out.write("task          lang     n    LPR     VR    CPR\n")
    for r in summary["profiles"]["lcb"]["rows"]:
        if r["level"] not in ("language", "overall"):
            continue
        out.write(f"{r['task']:13s} {r['language']:5s} {r['n']:4d} {_pct(r['lpr']):>6s} {_pct(r.get('vr')):>6s} "
                  f"{_pct(r.get('cpr')):>6s}\n")
    out.write("first confusion points (⟦ marks the first wrong-language character):\n")
    shown = 0
    with open(run / "lcb" / "samples.jsonl", encoding="utf-8") as fl:
        for line in fl:
            row = json.loads(line)
            det = row.get("detection") or {}
            at = det.get("first_confusion_char", -1)
            if det.get("status") != "fail" or at is None or at < 0:
                continue
            out.write(f"  {row['task'][:5]} {row['language']} #{row['id']:>2s} @{at:3d}  "
                      f"{excerpt(row['completion'], at, width=28, markdown=False)}\n")
            shown += 1
            if shown >= 6:
                break
    if not shown:
        out.write("  none\n")
    return run


def fix(cfg, out=None) -> Path:
    """Stage 2: the base's own samples → valid target-language SFT data → the short LoRA run (each step resumes);
    returns the trained model directory."""
    out = out or sys.stdout
    from .compare.data import build_data
    from .compare.train import model_for

    method = fix_method(cfg)
    data_dir = build_data(cfg)
    stats = json.loads((data_dir / "stats.json").read_text(encoding="utf-8"))
    out.write(f"data: {stats['prompts']} {cfg.pool_task or ''} {cfg.language} prompts of {cfg.pool} x "
              f"{cfg.samples_per_prompt} base samples; {stats['clean']} in {cfg.language} and valid "
              f"({cfg.pair_validity} judge), {stats['confused']} not ({stats.get('invalid', 0)} of them in "
              f"{cfg.language} but invalid); {stats['sft']} SFT targets, {stats['pairs']} pairs ({data_dir})\n")
    return Path(model_for(cfg, method, cfg.seeds[0], data_dir))


def verify(cfg) -> dict:
    """Stage 3: base and fix evaluated identically (`langlock.compare`; data and training are reused)."""
    from .compare import run_compare

    return run_compare(cfg)


def before_after_table(summary: dict, lang: str) -> str:
    """The verify stage as a plain-text table (one row per method, rates in %)."""
    head = f"{'':16s}" + "".join(f"{h.format(lang=lang):>13s}" for _, h, _, _ in TABLE)
    lines = [head]
    for row in summary["rows"]:
        cells = [_pct(row[k]["mean"], scale, digits) if k in row else "–" for k, _, scale, digits in TABLE]
        lines.append(f"{LABELS.get(row['method'], row['method']):16s}" + "".join(f"{c:>13s}" for c in cells))
    return "\n".join(lines) + "\n"


def retention_likelihood(eval_dir: Path) -> dict:
    """An evaluation's likelihood retention checks (``mc``, ``nll``) from its retention run ({} when not run)."""
    from .results import read_results

    f = eval_dir / "retention" / "results.json"
    if not f.is_file():
        return {}
    return (read_results(f).get("retention") or {}).get("likelihood") or {}


def relative_nll_drift(eval_dir: Path, lang: str = "en") -> float | None:
    """NLL-per-byte drift on `lang` genuine text relative to the base's NLL (from an evaluation's retention run)."""
    nll = (retention_likelihood(eval_dir).get("nll") or {}).get("by_language", {})
    row = nll.get(lang) or {}
    if "drift" not in row or not row.get("base_nll_per_byte"):
        return None
    return row["drift"]["mean"] / row["base_nll_per_byte"]


def result_line(summary: dict, method: str, eval_dir: Path) -> str:
    """``RESULT cpr_before=… cpr_after=… vr_before=… vr_after=… nll_drift_en=…`` (cross-lingual, target language,
    %; the relative English NLL drift of the fixed model)."""
    rows = {r["method"]: r for r in summary["rows"]}

    def get(m, k):
        v = (rows.get(m) or {}).get(k, {}).get("mean")
        return "nan" if v is None else f"{100 * v:.1f}"

    drift = relative_nll_drift(eval_dir)
    return (f"RESULT cpr_before={get('base', 'cpr_cross')} cpr_after={get(method, 'cpr_cross')} "
            f"vr_before={get('base', 'vr_cross')} vr_after={get(method, 'vr_cross')} "
            f"nll_drift_en={'nan' if drift is None else f'{drift:.4f}'}")


def run_demo(s: DemoSettings, out=None) -> int:
    """The four stages, printing to `out` (default: the current stdout, looked up at call time)."""
    out = out or sys.stdout
    from .compare.config import run_dir
    from .models import resolve_model
    from .report import build_report

    t0 = time.time()
    root = Path(s.output_dir)
    cfg = recipe(s)
    if s.threads:
        import torch

        torch.set_num_threads(s.threads)  # sampling and training run before compare sets it
    method, lang = fix_method(cfg), cfg.language
    model_path = resolve_model(cfg.model, s.cache_dir)
    out.write(f"model: {cfg.model} -> {model_path}\n")
    _say("1/4 diagnose: how often does the model answer in the wrong language, and are its answers valid?")
    diagnose_run = diagnose(s, model_path, str(cfg.model), out)
    out.write(f"diagnose: {time.time() - t0:.0f} s since start (model conversion included)\n")
    _say(f"2/4 fix {lang}: {method} on the base model's own valid {lang} answers to {cfg.pool} "
         f"{cfg.pool_task or ''} prompts (LoRA, short pre-set budget)")
    t_fix = time.time()
    fixed = fix(cfg, out)
    out.write(f"{method} model: {fixed} ({time.time() - t_fix:.0f} s)\n")
    _say(f"3/4 verify: held-out {cfg.eval_suite or cfg.eval_lcb_dir} prompts ({cfg.eval_task} {lang}, first "
         f"{cfg.eval_limit}), builtin-retention, multiple choice, NLL on genuine text, KL to the base")
    t_verify = time.time()
    summary = verify(cfg)
    out.write(f"verify: {time.time() - t_verify:.0f} s\n")
    _say("4/4 report")
    runs = [run_dir(cfg, m, s.seed) / "eval" / "confusion" for m in ("base", method)]
    train_dir = run_dir(cfg, method, s.seed)
    report = build_report([*runs, train_dir, diagnose_run], root / "report.html",
                          title=f"langlock demo: {cfg.model}, fixing {lang}",
                          names=[LABELS["base"], LABELS.get(method, method), f"{method} training",
                                 "diagnose (all languages)"])
    out.write(f"\nbefore/after on held-out prompts (target {lang}; x = the cross-lingual prompts, English requests "
              f"\"answer in {lang}\"; CPR = clean pass rate, valid and in {lang}; VR = valid "
              "answers (no echo, loop or near-empty answer); LPR = the benchmark's line-level pass rate; 3rd lang = "
              f"answers in neither {lang} nor English; on topic = answers in {lang} closer to their own request "
              "than to any other (a lexical lower bound, docs/quality.md); retention "
              "= builtin-retention accuracy; MC = builtin-mc log-likelihood multiple-choice accuracy (English) and "
              "its change against the base paired by item; NLL chg = change of NLL per byte on genuine text "
              f"against the base (en / {lang}); KL = nats/token to the base on English prompts):\n")
    out.write(before_after_table(summary, lang))
    out.write(f"\nreport: {report} (same prompts side by side; also {cfg.output_dir}/compare.md, "
              f"{root}/diagnose/report.md); total {time.time() - t0:.0f} s\n")
    out.write(result_line(summary, method, run_dir(cfg, method, s.seed) / "eval") + "\n")
    return 0


__all__ = ["RECIPES", "DemoSettings", "before_after_table", "result_line", "run_demo"]


def run_canned(output_dir: str) -> int:
    """Score the project's own sample completions (10 languages, some deliberately confused)."""
    from .bench.report import excerpt
    from .score.format import to_table
    from .score.metrics import score_records
    from .score.records import read_jsonl
    from .score.writers import detector_settings, write_outputs

    src = resources.files("langlock") / "data" / "demo_completions.jsonl"
    with resources.as_file(src) as path:
        records = read_jsonl(Path(path))
    out = sys.stdout
    for profile, opts in (("lcb", {}), ("tlpo", {"ignore_english": False})):
        report = score_records(records, profile, **opts)
        out.write(f"\n== profile {profile} {opts or ''}: {len(records)} sample completions ==\n")
        out.write(to_table(report, levels=("language", "overall")))
        out.write("first confusion points:\n")
        for rec, det in report.samples:
            if det is not None and det.confused and det.first_confusion_char >= 0:
                out.write(f"  {rec.language} {rec.task:12s} @{det.first_confusion_char:3d}  "
                          f"{excerpt(rec.completion, det.first_confusion_char, width=28, markdown=False)}\n")
        write_outputs(report, Path(output_dir) / profile, detector_settings(profile, **opts))
    out.write(f"\nresults written to {output_dir}/{{lcb,tlpo}}\n")
    return 0
