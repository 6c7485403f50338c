"""The whole story on the embedded default: diagnose → fix → verify → report (`langlock demo`, `make demo`).

1. **diagnose** the model on `builtin-confusion` (every language, the benchmark's decoding, a subset);
2. **fix** the target language (Korean) two ways: a short TLPO run with LoRA on `builtin-train` prompts (the
   packaged recipe `data/demo_tlpo_ko.yaml`, a pre-set small budget) and a `LanguageLock` at decoding time;
3. **verify** base, lock and TLPO identically with `langlock.compare` (held-out `builtin-confusion` prompts in
   the target language and English, `builtin-retention` accuracy, KL to the base on English prompts); the lock is
   the base model whose decoding carries a LanguageLock for Korean requests (English requests decode unchanged);
4. **report**: one HTML page over all runs, and the before/after table on stdout.

Every stage resumes: a rerun skips finished benches, continues TLPO from its last checkpoint and re-evaluates
nothing already evaluated.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

DEMO_LANGUAGE = "ko"
TLPO_RECIPE = "demo_tlpo_ko.yaml"
#: (metric key in langlock.compare, column header, scale, digits)
TABLE = (
    ("rpr_en_confusion", "ko RPR", 100, 1),
    ("lcb_lpr", "ko LPR", 100, 1),
    ("lcb_wpr", "ko WPR", 100, 1),
    ("en_lpr", "en LPR", 100, 1),
    ("vr_target", "ko VR", 100, 1),
    ("cpr_target", "ko CPR", 100, 1),
    ("cpr_cross", "ko CPR x", 100, 1),
    ("retention_acc", "retention", 100, 1),
    ("retention_acc_target", "ret. (ko)", 100, 1),
    ("kl_en", "KL(en)", 1, 4),
    ("mc_acc", "MC (en)", 100, 1),
    ("mc_delta", "MC chg", 100, 1),
    ("nll_drift_en", "NLL chg en", 1, 4),
    ("nll_drift_target", "NLL chg ko", 1, 4),
)
LABELS = {"base": "before (base)", "lock": "LanguageLock", "tlpo": "TLPO (LoRA)"}


@dataclass
class DemoSettings:
    output_dir: str = "runs/demo"
    model: str = "smollm2-135m-instruct"
    limit: int = 3  # diagnose: prompts per task and language
    langs: str | None = None  # diagnose languages (None: the suite's ten)
    verify_limit: int = 10  # verify: prompts per task for ko and en
    tlpo_overrides: list[str] = field(default_factory=list)  # KEY=VALUE for the TLPO recipe
    batch_size: int = 16
    threads: int | None = None
    cache_dir: str | None = None
    seed: int = 0
    max_new_tokens: int = 100


def _say(msg: str) -> None:
    print(f"\n== {msg}", flush=True)


def _pct(v, scale=100, digits=1) -> str:
    return "–" if v is None else f"{v * scale:.{digits}f}"


def diagnose(s: DemoSettings, model_path: Path, out=sys.stdout) -> Path:
    """Stage 1: builtin-confusion on every language; prints the table and the first confusion points."""
    from .bench.report import excerpt
    from .bench.runner import BenchConfig, run_bench
    from .generate import GenerationSettings

    run = Path(s.output_dir) / "diagnose"
    cfg = BenchConfig(output_dir=str(run), model=str(model_path), model_label=s.model, suite="builtin-confusion",
                      langs=s.langs, limit=s.limit, batch_size=s.batch_size, threads=s.threads,
                      settings=GenerationSettings(seed=s.seed, max_new_tokens=s.max_new_tokens))
    summary = run_bench(cfg)
    tlpo = {(r["task"], r["language"]): r for r in summary["profiles"]["tlpo"]["rows"]
            if r["level"] in ("language", "overall")}
    out.write(f"builtin-confusion, first {s.limit} prompt(s) per task and language (subset), "
              "decoding p=0.75 T=0.3 <=100 tokens\n")
    out.write("task          lang     n    LPR    WPR   LCPR  TLPO-RPR\n")
    for r in summary["profiles"]["lcb"]["rows"]:
        if r["level"] not in ("language", "overall"):
            continue
        t = tlpo.get((r["task"], r["language"]), {})
        out.write(f"{r['task']:13s} {r['language']:5s} {r['n']:4d} {_pct(r['lpr']):>6s} {_pct(r['wpr']):>6s} "
                  f"{_pct(r.get('lcpr')):>6s} {_pct(t.get('rpr')):>8s}\n")
    out.write("first confusion points (⟦ marks the first wrong-language character):\n")
    shown = 0
    with open(run / "lcb" / "samples.jsonl", encoding="utf-8") as fl, \
            open(run / "tlpo" / "samples.jsonl", encoding="utf-8") as ft:
        for line_l, line_t in zip(fl, ft):
            row = json.loads(line_l)
            det_l, det_t = row.get("detection") or {}, json.loads(line_t).get("detection") or {}
            if det_l.get("status") != "fail":
                continue
            at = det_t.get("first_confusion_char", -1) if det_t.get("status") == "fail" else -1
            if at is None or at < 0:
                at = det_l.get("first_confusion_char", -1)
            if at is None or at < 0:
                continue
            out.write(f"  {row['task'][:5]} {row['language']} #{row['id']:>2s} @{at:3d}  "
                      f"{excerpt(row['completion'], at, width=28, markdown=False)}\n")
            shown += 1
            if shown >= 6:
                break
    if not shown:
        out.write("  none\n")
    return run


def tlpo_overrides(s: DemoSettings) -> list[str]:
    """KEY=VALUE overrides of the packaged TLPO recipe for this demo (output folder, model, seed)."""
    return [f"output_dir={Path(s.output_dir) / 'tlpo'}", f"model={s.model}", f"seed={s.seed}", *s.tlpo_overrides]


def fix_tlpo(s: DemoSettings) -> Path:
    """Stage 2: the packaged short TLPO recipe through the run API (`langlock.train.run`: a finished run is
    reused, an interrupted one resumes from its last checkpoint); returns the adapter dir."""
    from .train import RunConfig, run

    overrides = tlpo_overrides(s)
    with resources.as_file(resources.files("langlock") / "data" / TLPO_RECIPE) as recipe:
        cfg = RunConfig.from_yaml(recipe, overrides)
        print(f"TLPO: recipe {TLPO_RECIPE} with {' '.join(overrides)}", flush=True)
        result = run(cfg)
    if result.skipped:
        print(f"TLPO: finished run in {result.output_dir} reused")
    return result.model_dir


def verify(s: DemoSettings, adapter: Path) -> dict:
    """Stage 3: base, LanguageLock and TLPO evaluated identically (langlock.compare)."""
    from .compare import CompareConfig, run_compare

    cfg = CompareConfig(model=s.model, language=DEMO_LANGUAGE, output_dir=str(Path(s.output_dir) / "verify"),
                        methods=["base", "lock", "tlpo"], seeds=[s.seed], checkpoints={"tlpo": str(adapter)},
                        eval_suite="builtin-confusion", eval_limit=s.verify_limit,
                        eval_max_new_tokens=s.max_new_tokens, retention_limit=None,
                        retention_langs=f"en,{DEMO_LANGUAGE}", batch_size=s.batch_size, threads=s.threads)
    return run_compare(cfg)


def before_after_table(summary: dict) -> str:
    """The verify stage as a plain-text table (one row per method, rates in %)."""
    head = f"{'':16s}" + "".join(f"{h:>11s}" for _, h, _, _ in TABLE)
    lines = [head]
    for row in summary["rows"]:
        cells = [_pct(row[k]["mean"], scale, digits) if k in row else "–" for k, _, scale, digits in TABLE]
        lines.append(f"{LABELS.get(row['method'], row['method']):16s}" + "".join(f"{c:>11s}" for c in cells))
    return "\n".join(lines) + "\n"


def run_demo(s: DemoSettings, out=sys.stdout) -> int:
    from .models import resolve_model
    from .report import build_report

    t0 = time.time()
    root = Path(s.output_dir)
    model_path = resolve_model(s.model, s.cache_dir)
    out.write(f"model: {s.model} -> {model_path}\n")
    _say("1/4 diagnose: how often does the model answer in the wrong language?")
    diagnose_run = diagnose(s, model_path, out)
    out.write(f"diagnose: {time.time() - t0:.0f} s since start (model conversion included)\n")
    _say(f"2/4 fix {DEMO_LANGUAGE}: TLPO with LoRA on builtin-train prompts (short pre-set budget) "
         "and a LanguageLock at decoding time")
    t_fix = time.time()
    adapter = fix_tlpo(s)
    out.write(f"TLPO adapter: {adapter} ({time.time() - t_fix:.0f} s)\n")
    _say(f"3/4 verify: held-out builtin-confusion ({DEMO_LANGUAGE} + en, first {s.verify_limit} per task), "
         "builtin-retention, KL to the base")
    t_verify = time.time()
    summary = verify(s, adapter)
    out.write(f"verify: {time.time() - t_verify:.0f} s\n")
    runs = root / "verify" / "runs"
    _say("4/4 report")
    verified = [runs / m / f"seed{s.seed}" / "eval" / "confusion" for m in ("base", "lock", "tlpo")]
    report = build_report([*verified, root / "tlpo", diagnose_run], root / "report.html",
                          title=f"langlock demo: {s.model}, fixing {DEMO_LANGUAGE}",
                          names=["before (base)", "LanguageLock", "TLPO", "TLPO training", "diagnose (all languages)"])
    out.write(f"\nbefore/after on held-out prompts (target {DEMO_LANGUAGE}; RPR = responses with no wrong-language "
              "text, English counted as confusion; LPR/WPR = the benchmark's metric; VR = valid answers (no echo, loop or "
              "near-empty answer); CPR = valid and passing LPR, CPR x on the cross-lingual prompts; retention = "
              "builtin-retention accuracy (all / Korean items); KL = nats/token to the base on English prompts; MC = builtin-mc "
              "log-likelihood multiple-choice accuracy (English) and its change against the base paired by item; "
              "NLL chg = change of NLL per byte on genuine text against the base (en / ko); the LanguageLock applies to "
              "Korean requests only, English decodes as the base does):\n")
    out.write(before_after_table(summary))
    out.write(f"\nreport: {report} (also {root}/verify/compare.md, {root}/diagnose/report.md); "
              f"total {time.time() - t0:.0f} s\n")
    return 0


__all__ = ["DemoSettings", "before_after_table", "run_demo"]


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
