"""`langlock score` as one library call: read completion files, judge answer validity when asked, score with one
detector profile (bootstrap intervals, optional worker processes), write the result folder, and render the
table, the official TSV or JSON.
"""

from __future__ import annotations

import json
import sys
import warnings
from dataclasses import dataclass, field

from ..errors import UsageError


@dataclass
class ScoreSettings:
    """What `langlock score` needs; mirrors its flags (see `cli/score_cmd.py`)."""

    files: list
    profile: str = "lcb"
    detector: dict = field(default_factory=dict)  # the profile's options (`cli.score_cmd.detector_options`)
    output_dir: str | None = None
    model_name: str | None = None
    max_chars: int = 1_000_000
    bootstrap: int = 1000
    seed: int = 0
    workers: int = 1
    quality: str | None = None  # None, "cheap" or "full"
    judge: dict = field(default_factory=dict)  # judge_model, judge_calibration, test_sets, judge_backend, ...


def score_files(s: ScoreSettings, fmt: str = "table", summary: bool = False) -> str:
    """Score `s.files` as `s` says (writing `s.output_dir` when set) and return the text to print."""
    from .format import to_table, to_tsv
    from .metrics import score_records
    from .records import read_records
    from .writers import detector_settings, report_to_dict, write_outputs

    if s.bootstrap < 0:
        raise UsageError(f"--bootstrap must be >= 0, got {s.bootstrap}")
    if s.workers < 1:
        raise UsageError(f"--workers must be >= 1, got {s.workers}")
    records = read_records(s.files, max_chars=s.max_chars, model=s.model_name)
    verdicts, qinfo = None, {}
    if s.quality:
        from ..quality.run import quality_verdicts

        j = s.judge
        verdicts, qinfo = quality_verdicts(records, s.files, s.quality, j.get("judge_model"),
                                           j.get("judge_calibration"), j.get("test_sets"),
                                           j.get("judge_backend", "model"), j.get("judge_url"), j.get("judge_cache"))
        if qinfo["echo_not_judged"]:
            _warn(f"echo not judged for {qinfo['echo_not_judged']} answer(s) without a prompt (pass "
                  "--test-sets DIR to join the benchmark's prompts by id)")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = score_records(records, s.profile, verdicts=verdicts, n_boot=s.bootstrap, seed=s.seed,
                               workers=s.workers, **s.detector)
    for w in caught:
        _warn(str(w.message))
    settings = {**detector_settings(s.profile, **s.detector), "files": [str(f) for f in s.files],
                "bootstrap": s.bootstrap, "seed": s.seed, **qinfo}
    if s.output_dir:
        write_outputs(report, s.output_dir, settings)
    if fmt == "tsv":
        return to_tsv(report)
    if fmt == "json":
        return json.dumps(report_to_dict(report, settings), ensure_ascii=False, indent=2) + "\n"
    levels = ("source", "language", "overall") if summary else ("group", "source", "language", "overall")
    return to_table(report, levels=levels)


def _warn(message: str) -> None:
    print(f"langlock score: warning: {message}", file=sys.stderr)
