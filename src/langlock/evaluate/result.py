"""The typed result of an evaluation (`EvalResult`, `Metrics`) and the pure functions that read its metrics
from the reports the bench runner wrote (`confusion_metrics`, `retention_metrics`): no second scoring pass.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

from ..results import migrate, stamp

#: metric key -> (column label, higher is better; None: neither)
METRICS = {
    "rpr_en_confusion": ("RPR tlpo, English=confusion", True),
    "wpr_en_confusion": ("WPR tlpo, English=confusion", True),
    "rpr_en_neutral": ("RPR tlpo, English neutral", True),
    "wpr_en_neutral": ("WPR tlpo, English neutral", True),
    "lcb_lpr": ("LPR (LCB)", True),
    "lcb_wpr": ("WPR (LCB)", True),
    "lcb_lcpr": ("LCPR (LCB)", True),
    "lcb_lpr_mono": ("monolingual LPR (LCB)", True),
    "lcb_lpr_cross": ("cross-lingual LPR (LCB)", True),
    "en_lpr": ("English LPR (LCB)", True),
    "vr_target": ("VR, valid answers, target language", True),
    "cpr_target": ("CPR, clean pass rate (LCB)", True),
    "cpr_mono": ("monolingual CPR (LCB)", True),
    "cpr_cross": ("cross-lingual CPR (LCB)", True),
    "vr_cross": ("cross-lingual VR, valid answers", True),
    "vr_en": ("VR, valid answers, English", True),
    "retention_acc": ("retention accuracy", True),
    "retention_acc_target": ("retention accuracy, target-language items", True),
    "kl_en": ("KL(model ‖ base), English", False),
    "mc_acc": ("multiple-choice accuracy, English", True),
    "mc_delta": ("multiple-choice change vs base, English (paired by item)", True),
    "mc_acc_target": ("multiple-choice accuracy, target language", True),
    "nll_drift_en": ("NLL drift vs base, English genuine text (nats/byte)", False),
    "nll_drift_target": ("NLL drift vs base, target-language genuine text (nats/byte)", False),
    "mean_chars_target": ("answer length (chars)", None),  # shorter answers have fewer chances to drift
    "repetitive_target": ("repetitive answers, target language", False),  # a pass rate passes noise too
    "repetitive_en": ("repetitive answers, English", False),
    # answers that went to neither the requested language nor English (LCB skips short CJK lines; the judge passes)
    "third_lang_cross": ("cross-lingual answers in a third language", False),
    # answers in the requested language that match their own request's topic (`quality.topic`; built-in prompts)
    "on_topic_cross": ("cross-lingual answers in the target language and on topic", True),
}


@dataclass(frozen=True)
class Metrics:
    """One evaluation's numbers (rates in [0, 1], KL in nats per token, lengths in characters); None where the
    plan does not measure it. ``*_en_confusion``: the TLPO detector counting English as confusion;
    ``*_en_neutral``: ignoring English. ``vr_*``: share of valid answers, ``cpr_*``: share valid *and* passing the
    LCB line check (`langlock.quality`; the bench's cheap signals unless it ran the judge model)."""

    rpr_en_confusion: float | None = None
    wpr_en_confusion: float | None = None
    rpr_en_neutral: float | None = None
    wpr_en_neutral: float | None = None
    lcb_lpr: float | None = None
    lcb_wpr: float | None = None
    lcb_lcpr: float | None = None
    lcb_lpr_mono: float | None = None
    lcb_lpr_cross: float | None = None
    en_lpr: float | None = None
    vr_target: float | None = None
    cpr_target: float | None = None
    cpr_mono: float | None = None
    cpr_cross: float | None = None
    vr_cross: float | None = None
    vr_en: float | None = None
    retention_acc: float | None = None
    retention_acc_target: float | None = None
    kl_en: float | None = None
    mc_acc: float | None = None
    mc_delta: float | None = None
    mc_acc_target: float | None = None
    nll_drift_en: float | None = None
    nll_drift_target: float | None = None
    mean_chars_target: float | None = None
    repetitive_target: float | None = None
    repetitive_en: float | None = None
    third_lang_cross: float | None = None
    on_topic_cross: float | None = None
    n_target: int = 0
    n_english: int = 0

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Metrics:
        """From a metrics mapping of any langlock version (old keys renamed; keys not metrics ignored)."""
        from ..results import rename_metrics

        data = rename_metrics(data)
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})


@dataclass(frozen=True)
class EvalResult:
    model: str
    plan: dict  # EvalPlan.to_dict()
    metrics: Metrics
    #: suite name -> its bench folder, relative to the evaluation folder
    reports: dict = field(default_factory=dict)
    seconds: float | None = None

    def to_dict(self) -> dict:
        return stamp("evaluation", {"model": self.model, "plan": self.plan, "metrics": self.metrics.to_dict(),
                                    "reports": self.reports, "seconds": self.seconds})

    @classmethod
    def from_dict(cls, data: dict) -> EvalResult:
        data = migrate(data)
        return cls(model=data["model"], plan=data["plan"], metrics=Metrics.from_dict(data["metrics"]),
                   reports=data.get("reports") or {}, seconds=data.get("seconds"))


def _macro(values) -> float | None:
    vals = [v for v in values if v is not None]
    return sum(vals) / len(vals) if vals else None


def language_rows(scorer_result: dict, language: str) -> dict[str, dict]:
    """task -> the scorer's (all sources, `language`) row of one profile in a bench ``results.json``."""
    return {r["task"]: r for r in scorer_result["rows"] if r["level"] == "language" and r["language"] == language}


def confusion_metrics(target: str, bench: dict, generations: list[dict]) -> dict:
    """Target-language metrics (macro-averaged over the tasks present) from a bench result with the ``lcb``,
    ``tlpo`` and ``tlpo-en-neutral`` scorings (VR and CPR from the ``lcb`` scoring's verdicts); English LPR from its English prompts; answer lengths and
    repetitiveness from its generation log."""
    profiles = bench["profiles"]
    m: dict = {}
    for name, suffix in (("tlpo", "en_confusion"), ("tlpo-en-neutral", "en_neutral")):
        rows = language_rows(profiles[name], target).values()
        m[f"rpr_{suffix}"] = _macro(r.get("rpr") for r in rows)
        m[f"wpr_{suffix}"] = _macro(r.get("wpr") for r in rows)
    lcb = language_rows(profiles["lcb"], target)
    m["lcb_lpr"], m["lcb_wpr"], m["lcb_lcpr"] = (_macro(r.get(k) for r in lcb.values()) for k in ("lpr", "wpr", "lcpr"))
    m["lcb_lpr_mono"] = (lcb.get("monolingual") or {}).get("lpr")
    m["lcb_lpr_cross"] = (lcb.get("crosslingual") or {}).get("lpr")
    m["vr_target"], m["cpr_target"] = (_macro(r.get(k) for r in lcb.values()) for k in ("vr", "cpr"))
    m["cpr_mono"] = (lcb.get("monolingual") or {}).get("cpr")
    m["cpr_cross"] = (lcb.get("crosslingual") or {}).get("cpr")
    m["vr_cross"] = (lcb.get("crosslingual") or {}).get("vr")
    if target != "en":
        en = language_rows(profiles["lcb"], "en").values()
        m["en_lpr"] = _macro(r.get("lpr") for r in en)
        m["vr_en"] = _macro(r.get("vr") for r in en)
    target_texts = [g["completion"] for g in generations if g["language"] == target]
    english_texts = [g["completion"] for g in generations if g["language"] == "en"] if target != "en" else []
    m["n_target"], m["n_english"] = len(target_texts), len(english_texts)
    m["mean_chars_target"] = sum(len(t) for t in target_texts) / max(1, len(target_texts))
    m.update(degeneracy(target, generations))
    from functools import lru_cache

    from ..detect.lcb import answer_language
    from ..quality.topic import on_topic_share

    identify = lru_cache(maxsize=None)(answer_language)  # each answer's language found once for both shares
    m["third_lang_cross"] = third_language_share(target, generations, identify)
    m["on_topic_cross"] = on_topic_share(target, generations, identify)
    return m


def third_language_share(target: str, generations: list[dict], identify=None) -> float | None:
    """Share of the cross-lingual answers of `target` whose language (``identify(text)``, default
    `detect.lcb.answer_language`: fastText on the whole answer) is neither the target nor English — confusion into
    a third language, e.g. Korean requests answered in Chinese; None without such answers (or for English)."""
    rows = [g for g in generations if g["language"] == target and g.get("task") == "crosslingual"]
    if target == "en" or not rows:
        return None
    if identify is None:
        from ..detect.lcb import answer_language as identify
    return sum(identify(g["completion"]) not in (target, "en", "unknown") for g in rows) / len(rows)


def degeneracy(target: str, generations: list[dict]) -> dict:
    """Share of repetitive answers (`langlock.score.degeneracy`) among the target-language and English ones."""
    from ..score.degeneracy import repetitive_share

    target_texts = [g["completion"] for g in generations if g["language"] == target]
    english_texts = [g["completion"] for g in generations if g["language"] == "en"] if target != "en" else []
    return {"repetitive_target": repetitive_share(target_texts), "repetitive_en": repetitive_share(english_texts)}


def retention_metrics(target: str, bench: dict) -> dict:
    """Accuracy over every item and over the target language's items, the KL, and the likelihood checks
    (multiple-choice accuracy, its change against the base paired by item, NLL drift on genuine text) from a
    retention bench."""
    ret = bench["retention"]
    by_lang = {r["language"]: r["accuracy"] for r in ret["accuracy"] if r["kind"] == "all"}
    lk = ret.get("likelihood") or {}
    mc = (lk.get("mc") or {}).get("by_language", {})
    nll = (lk.get("nll") or {}).get("by_language", {})
    return {"retention_acc": by_lang.get("all"), "retention_acc_target": by_lang.get(target),
            "kl_en": ret["kl"]["kl_mean"] if ret.get("kl") else None,
            "mc_acc": (mc.get("en") or {}).get("accuracy"),
            "mc_delta": ((mc.get("en") or {}).get("delta") or {}).get("mean"),
            "mc_acc_target": (mc.get(target) or {}).get("accuracy") if target != "en" else None,
            "nll_drift_en": ((nll.get("en") or {}).get("drift") or {}).get("mean"),
            "nll_drift_target": ((nll.get(target) or {}).get("drift") or {}).get("mean") if target != "en" else None}
