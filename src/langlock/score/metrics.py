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
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field

from ..detect import Detection, get_detector
from ..languages import PROFILE_LANGUAGES, WPR_LANGUAGES
from .records import Record

log = logging.getLogger(__name__)

METRICS = {"lcb": ("lpr", "wpr", "lcpr", "line_acc"), "tlpo": ("rpr", "wpr", "line_pr")}
#: Metrics printed by `--format tsv` / the table, per profile.
HEADLINE = {"lcb": ("lpr", "wpr"), "tlpo": ("rpr", "wpr")}


def harmonic_mean(a: float | None, b: float | None) -> float | None:
    """LCPR: 2ab/(a+b); `a` alone when `b` is None; 0 when both are 0."""
    if a is None:
        return None
    if b is None:
        return a
    return 0.0 if a + b == 0 else 2 * a * b / (a + b)


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

    def add(self, det: Detection | None) -> None:
        self.n += 1
        if det is None:
            return
        c = det.counts
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

    def metrics(self, profile: str) -> dict[str, float | None]:
        if not self.applicable:
            return dict.fromkeys(METRICS[profile])
        if profile == "lcb":
            judged = self.n - self.n_skipped
            lpr = 1 - self.line_errors / max(1, judged)
            wpr = (
                1 - self.word_errors / max(1, judged - self.line_errors)
                if self.language in WPR_LANGUAGES
                else None
            )
            acc = sum(self.line_acc) / len(self.line_acc) if self.line_acc else 1.0
            return {"lpr": lpr, "wpr": wpr, "lcpr": harmonic_mean(lpr, wpr), "line_acc": acc}
        rate = lambda p, f: 1.0 if p + f == 0 else p / (p + f)  # noqa: E731
        return {
            "rpr": rate(self.resp_pass, self.resp_fail),
            "wpr": rate(self.word_pass, self.word_fail),
            "line_pr": rate(self.line_pass, self.line_fail),
        }


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


@dataclass
class ScoreReport:
    profile: str
    rows: list[ResultRow]
    samples: list[tuple[Record, Detection | None]]
    not_applicable: list[str]

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


def aggregate(stats: list[GroupStats], profile: str) -> list[ResultRow]:
    """Group rows plus the benchmark's (source, all), (all, lang) and (all, all) averages, in its order."""
    names = METRICS[profile]
    by_tm: dict[tuple[str, str], list[GroupStats]] = {}
    for s in stats:
        by_tm.setdefault((s.task, s.model), []).append(s)
    out: list[ResultRow] = []
    for (task, model), group in sorted(by_tm.items()):
        group.sort(key=lambda s: (s.source, s.language))
        rows = [
            ResultRow("group", task, model, s.source, s.language, s.metrics(profile), s.n, s.n_skipped, s.applicable)
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


def score_records(records: list[Record], profile: str = "lcb", **detector_options) -> ScoreReport:
    """Judge every record with `profile` and aggregate. Languages the profile cannot judge are reported
    as not applicable (with a warning), never counted as passing."""
    supported = PROFILE_LANGUAGES[profile]
    stats: dict[tuple[str, str, str, str], GroupStats] = {}
    samples: list[tuple[Record, Detection | None]] = []
    skipped_langs: set[str] = set()
    detectors = {}
    for rec in records:
        key = (rec.task, rec.model, rec.source, rec.language)
        g = stats.get(key)
        if g is None:
            g = stats[key] = GroupStats(*key, applicable=rec.language in supported)
        if not g.applicable:
            skipped_langs.add(rec.language)
            g.add(None)
            samples.append((rec, None))
            continue
        det = detectors.get(rec.language)
        if det is None:
            det = detectors[rec.language] = get_detector(profile, rec.language, **detector_options)
        d = det.detect(rec.completion)
        g.add(d)
        samples.append((rec, d))
    not_applicable = sorted(skipped_langs)
    if not_applicable:
        warnings.warn(
            f"the {profile} profile cannot judge {', '.join(not_applicable)}: reported as N/A, "
            "left out of every average",
            stacklevel=2,
        )
    return ScoreReport(profile, aggregate(list(stats.values()), profile), samples, not_applicable)
