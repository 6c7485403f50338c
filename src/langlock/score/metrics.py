"""Pass rates per (task, model, source, language) and the benchmark's averaging rules.

Profile `lcb` (spec §6.4): LPR = 1 − completions with a line error / non-skipped completions;
WPR = 1 − completions with a word error / (non-skipped − line errors), reported for ar/hi/ja/ko/ru/zh only;
LCPR = harmonic mean of LPR and WPR (equal to LPR where WPR does not apply); line_acc = mean share of judged
lines in the target language. A group whose completions are all skipped has LPR = WPR = 100 %.

Profile `tlpo` (spec §2.6): RPR = passing / (passing + failing) responses, WPR = passing / judged words,
line_pr = passing / judged lines; responses with nothing to judge are excluded (100 % when none is left).

Averages (both profiles): (source, all) is the unweighted mean over that source's languages, (all, lang) over
the sources holding that language, and (all, all) the mean of the per-language averages, so every language
weighs the same. Metrics that do not apply (None) are left out of averages.

With answer verdicts (`langlock.quality`): VR = valid answers / answers with a verdict; CPR (clean pass
rate) = answers that are valid *and* pass the language check (lcb: no line error; tlpo: no failing response)
/ answers the pass rate counts plus invalid answers it skips (an empty answer counts as a failure), so
CPR = LPR (RPR) when every answer is valid; like LPR, a group with nothing counted has CPR 100 %. Every rate carries a 95 %
bootstrap interval over prompts (`ResultRow.ci`, see `intervals`): the answers of each group are resampled
and the same formulas and averages are applied to every replicate.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from ..detect import Detection
from ..languages import PROFILE_LANGUAGES, WPR_LANGUAGES
from .intervals import DEFAULT_N_BOOT, DEFAULT_SEED, bootstrap_sums, percentile_interval
from .records import Record

log = logging.getLogger(__name__)

METRICS = {"lcb": ("lpr", "wpr", "lcpr", "line_acc"), "tlpo": ("rpr", "wpr", "line_pr")}
#: Metrics printed by `--format tsv` / the table, per profile.
HEADLINE = {"lcb": ("lpr", "wpr"), "tlpo": ("rpr", "wpr")}
#: Metrics added when answers carry validity verdicts.
QUALITY_METRICS = ("vr", "cpr")
#: Per-answer counts kept for the bootstrap, in column order.
COUNT_COLUMNS = ("judged", "line_errors", "word_errors", "line_acc_sum", "resp_pass", "resp_fail", "line_pass",
                 "line_fail", "word_pass", "word_fail", "valid_n", "valid", "cpr_n", "clean")


def harmonic_mean(a, b):
    """LCPR: 2ab/(a+b); `a` alone when `b` is None; 0 when both are 0 (elementwise for bootstrap arrays)."""
    if a is None:
        return None
    if b is None:
        return a
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(a + b == 0, 0.0, 2 * a * b / (a + b))
    return 0.0 if a + b == 0 else 2 * a * b / (a + b)


def _ratio(num, den, empty):
    """num/den, `empty` where den is 0; floats in, float (or `empty`) out; arrays in, array out (NaN for None)."""
    if isinstance(den, np.ndarray):
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(den > 0, num / np.maximum(den, 1), np.nan if empty is None else empty)
    return empty if den == 0 else num / den


def rates(profile: str, language: str, c: dict, quality: bool = False) -> dict:
    """The profile's rates from summed counts `c` (floats, or arrays of bootstrap replicates)."""
    if profile == "lcb":
        judged = c["judged"]
        lpr = 1 - _ratio(c["line_errors"], judged, 0.0)
        wpr = 1 - _ratio(c["word_errors"], judged - c["line_errors"], 0.0) if language in WPR_LANGUAGES else None
        acc = _ratio(c["line_acc_sum"], judged, 1.0)
        out = {"lpr": lpr, "wpr": wpr, "lcpr": harmonic_mean(lpr, wpr), "line_acc": acc}
    else:
        rate = lambda p, f: _ratio(p, p + f, 1.0)  # noqa: E731
        out = {"rpr": rate(c["resp_pass"], c["resp_fail"]), "wpr": rate(c["word_pass"], c["word_fail"]),
               "line_pr": rate(c["line_pass"], c["line_fail"])}
    if quality:
        out["vr"] = _ratio(c["valid"], c["valid_n"], None)
        no_verdicts = not isinstance(c["valid_n"], np.ndarray) and c["valid_n"] == 0
        out["cpr"] = None if no_verdicts else _ratio(c["clean"], c["cpr_n"], 1.0)
    return out


@dataclass
class GroupStats:
    """Raw counts of one (task, model, source, language) group."""

    task: str
    model: str
    source: str
    language: str
    applicable: bool = True
    n: int = 0
    n_skipped: int = 0
    line_errors: int = 0
    word_errors: int = 0
    line_acc: list[float] = field(default_factory=list)
    resp_pass: int = 0
    resp_fail: int = 0
    line_pass: int = 0
    line_fail: int = 0
    word_pass: int = 0
    word_fail: int = 0
    valid_n: int = 0
    valid: int = 0
    cpr_n: int = 0
    clean: int = 0
    #: per-answer count rows (COUNT_COLUMNS) for the bootstrap; empty for stats built from totals
    rows: list = field(default_factory=list, repr=False)

    def add(self, det: Detection | None, valid: bool | None = None, profile: str = "lcb") -> None:
        """Count one answer; `valid` is its verdict (None: not judged); the language check it must pass
        for CPR is the profile's headline one (lcb: no line error; tlpo: no failing response)."""
        self.n += 1
        if det is None:
            return
        c = det.counts
        judged = not det.skipped
        line_err = judged and det.line_error
        lang_fail = line_err if profile == "lcb" else c.resp_fail > 0
        lang_judged = judged if profile == "lcb" else c.resp_pass + c.resp_fail > 0
        # CPR counts what the pass rate counts, plus every invalid answer (an empty answer is skipped by the
        # language check but must not vanish from the clean rate): CPR = LPR (RPR) when all are valid.
        in_cpr = valid is not None and (lang_judged or not valid)
        clean = bool(in_cpr and valid and not lang_fail)
        if valid is not None:
            self.valid_n += 1
            self.valid += bool(valid)
            self.cpr_n += in_cpr
            self.clean += clean
        self.rows.append((float(judged), float(line_err), float(judged and not det.line_error and det.word_error),
                          det.line_acc if judged else 0.0, c.resp_pass, c.resp_fail, c.line_pass, c.line_fail,
                          c.word_pass, c.word_fail, float(valid is not None), float(bool(valid)), float(in_cpr),
                          float(clean)))
        self.resp_pass += c.resp_pass
        self.resp_fail += c.resp_fail
        self.line_pass += c.line_pass
        self.line_fail += c.line_fail
        self.word_pass += c.word_pass
        self.word_fail += c.word_fail
        if det.skipped:
            self.n_skipped += 1
            return
        self.line_acc.append(det.line_acc)
        if det.line_error:
            self.line_errors += 1
        elif det.word_error:
            self.word_errors += 1

    def counts(self) -> dict:
        c = {k: getattr(self, k) for k in COUNT_COLUMNS if k not in ("judged", "line_acc_sum")}
        return {**c, "judged": self.n - self.n_skipped, "line_acc_sum": float(sum(self.line_acc))}

    def metrics(self, profile: str, quality: bool = False) -> dict[str, float | None]:
        if not self.applicable:
            return dict.fromkeys(METRICS[profile] + (QUALITY_METRICS if quality else ()))
        return rates(profile, self.language, self.counts(), quality)

    def replicates(self, profile: str, quality: bool, n_boot: int, seed) -> dict | None:
        """Bootstrap replicates of every metric (arrays), None without per-answer rows."""
        if not self.applicable or not self.rows:
            return None
        sums = bootstrap_sums(self.rows, n_boot, seed)
        reps = rates(profile, self.language, {k: sums[:, i] for i, k in enumerate(COUNT_COLUMNS)}, quality)
        point = self.metrics(profile, quality)
        return {k: (None if point[k] is None else v) for k, v in reps.items()}


@dataclass
class ResultRow:
    """One printed row: a group (`level`="group") or an average ("source", "language", "overall")."""

    level: str
    task: str
    model: str
    source: str
    language: str
    metrics: dict[str, float | None]
    n: int = 0
    n_skipped: int = 0
    applicable: bool = True
    #: 95 % bootstrap interval (low, high) per metric; absent/None when not computed
    ci: dict = field(default_factory=dict)


@dataclass
class ScoreReport:
    profile: str
    rows: list[ResultRow]
    samples: list[tuple[Record, Detection | None]]
    not_applicable: list[str]
    verdicts: list | None = None  #: one `langlock.quality.Verdict` per sample when judged

    def groups(self) -> list[ResultRow]:
        return [r for r in self.rows if r.level == "group"]

    def overall(self, task: str, model: str) -> ResultRow | None:
        for r in self.rows:
            if r.level == "overall" and r.task == task and r.model == model:
                return r
        return None


def _mean(values: Iterable[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return sum(vals) / len(vals) if vals else None


def _average(rows: list[ResultRow], names: tuple[str, ...]) -> dict[str, float | None]:
    return {m: _mean(r.metrics[m] for r in rows) for m in names}


def aggregate(stats: list[GroupStats], profile: str, quality: bool = False, group_metrics=None) -> list[ResultRow]:
    """Group rows plus the benchmark's (source, all), (all, lang) and (all, all) averages, in its order.
    `group_metrics` (one dict per entry of `stats`) replaces the groups' own metrics (bootstrap replicates)."""
    names = METRICS[profile] + (QUALITY_METRICS if quality else ())
    own = dict(zip(map(id, stats), group_metrics)) if group_metrics is not None else None
    by_tm: dict[tuple[str, str], list[GroupStats]] = {}
    for s in stats:
        by_tm.setdefault((s.task, s.model), []).append(s)
    out: list[ResultRow] = []
    for (task, model), group in sorted(by_tm.items()):
        group.sort(key=lambda s: (s.source, s.language))
        rows = [
            ResultRow("group", task, model, s.source, s.language,
                      own[id(s)] if own is not None else s.metrics(profile, quality), s.n, s.n_skipped, s.applicable)
            for s in group
        ]
        out.extend(rows)
        scored = [r for r in rows if r.applicable]
        sources = list(dict.fromkeys(r.source for r in rows))
        for src in sources:
            mine = [r for r in scored if r.source == src]
            out.append(ResultRow("source", task, model, src, "all", _average(mine, names), sum(r.n for r in mine)))
        per_lang = []
        for lang in dict.fromkeys(r.language for r in scored):
            mine = [r for r in scored if r.language == lang]
            row = ResultRow("language", task, model, "all", lang, _average(mine, names), sum(r.n for r in mine))
            per_lang.append(row)
        out.extend(per_lang)
        overall = _average(per_lang, names)
        if profile == "lcb":
            overall["lcpr"] = harmonic_mean(overall["lpr"], overall["wpr"])
            for row in out:
                if row.level != "group" and row.task == task and row.model == model:
                    row.metrics["lcpr"] = harmonic_mean(row.metrics["lpr"], row.metrics["wpr"])
        out.append(ResultRow("overall", task, model, "all", "all", overall, sum(r.n for r in per_lang)))
    return out


def add_intervals(rows: list[ResultRow], stats: list[GroupStats], profile: str, quality: bool = False,
                  n_boot: int = DEFAULT_N_BOOT, seed: int = DEFAULT_SEED) -> None:
    """Fill `ci` of every row of `rows` (the output of `aggregate(stats, ...)`) with a 95 % bootstrap interval."""
    if n_boot <= 0:
        return
    reps = [s.replicates(profile, quality, n_boot, [seed, i]) for i, s in enumerate(stats)]
    if any(r is None for r in reps):
        return
    boot = aggregate(stats, profile, quality, group_metrics=reps)
    for row, b in zip(rows, boot):
        row.ci = {k: (None if row.metrics.get(k) is None or v is None else percentile_interval(v))
                  for k, v in b.metrics.items()}


def score_records(records: list[Record], profile: str = "lcb", verdicts=None, n_boot: int = DEFAULT_N_BOOT,
                  seed: int = DEFAULT_SEED, workers: int = 1, **detector_options) -> ScoreReport:
    """Judge every record with `profile` and aggregate. Languages the profile cannot judge are reported
    as not applicable (with a warning), never counted as passing. `verdicts` (one `Verdict` per record,
    see `langlock.quality.judge_records`) adds VR and CPR; every rate gets a bootstrap interval (`n_boot`
    replicates, 0 = none). `workers` > 1 detects on that many processes (`parallel`; identical result)."""
    from .parallel import detect_records

    if verdicts is not None and len(verdicts) != len(records):
        raise ValueError(f"{len(verdicts)} verdicts for {len(records)} records")
    supported = PROFILE_LANGUAGES[profile]
    stats: dict[tuple[str, str, str, str], GroupStats] = {}
    samples: list[tuple[Record, Detection | None]] = []
    skipped_langs: set[str] = set()
    detections = detect_records(records, profile, workers, **detector_options)
    for k, rec in enumerate(records):
        valid = verdicts[k].valid if verdicts is not None else None
        key = (rec.task, rec.model, rec.source, rec.language)
        g = stats.get(key)
        if g is None:
            g = stats[key] = GroupStats(*key, applicable=rec.language in supported)
        if not g.applicable:
            skipped_langs.add(rec.language)
            g.add(None)
            samples.append((rec, None))
            continue
        d = detections[k]
        g.add(d, valid, profile)
        samples.append((rec, d))
    not_applicable = sorted(skipped_langs)
    if not_applicable:
        warnings.warn(
            f"the {profile} profile cannot judge {', '.join(not_applicable)}: reported as N/A, "
            "left out of every average",
            stacklevel=2,
        )
    quality = verdicts is not None
    groups = list(stats.values())
    rows = aggregate(groups, profile, quality)
    add_intervals(rows, groups, profile, quality, n_boot, seed)
    return ScoreReport(profile, rows, samples, not_applicable, list(verdicts) if quality else None)
