"""compare's replay option: the base's own valid English answers added to a fix's SFT rows (`replay_english`)."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("torch")

from _compare_data_fixtures import DATA_SETTINGS, seed_data  # noqa: E402
from langlock.compare.config import CompareConfig  # noqa: E402
from langlock.compare.data import build_data  # noqa: E402
from langlock.errors import UsageError  # noqa: E402

from _baseline_fixtures import tiny_model  # noqa: E402


def rows(path):
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]


def test_replay_appends_the_bases_english_sft_rows_and_keeps_the_pairs(tmp_path, monkeypatch):
    model = str(tiny_model(tmp_path))
    out = tmp_path / "cmp"
    seed_data(out / "data", model, "ko")
    seed_data(out / "replay-en" / "data-en", model, "en")  # where the replay's English data stage writes
    cfg = CompareConfig(model=model, language="ko", output_dir=str(out), methods=["sft"], seeds=[0],
                        eval_suite="builtin-confusion", replay_english=2, **DATA_SETTINGS)
    plain = CompareConfig(**{**cfg.__dict__, "replay_english": 0})
    alone = build_data(plain)
    mixed = build_data(cfg)
    assert mixed == alone.with_name(alone.name + "+replay2")
    own, got = rows(alone / "sft.jsonl"), rows(mixed / "sft.jsonl")
    english = got[len(own):]
    assert got[:len(own)] == own and len(own) == 3
    # one row per English prompt, from its English answer, never the Korean one
    assert [r["completion"][0]["content"] for r in english] == [
        "Put it in boiling water and cook it for eight minutes.",
        "A long novel such as War and Peace keeps you busy for days."]
    assert {r["language"] for r in english} == {"en"}
    assert rows(mixed / "pairs.jsonl") == rows(alone / "pairs.jsonl")
    assert rows(mixed / "prompts.jsonl") == rows(alone / "prompts.jsonl")
    stats = json.loads((mixed / "stats.json").read_text(encoding="utf-8"))
    assert stats["replay_english"]["sft"] == 2 and stats["sft"] == 5
    # resumes: built once
    monkeypatch.setattr("langlock.databuild.pairs.build_pairs", lambda *a, **k: pytest.fail("rebuilt"))
    assert build_data(cfg) == mixed


@pytest.mark.parametrize("value, message", [(-1, "replay_english must be"), (True, "replay_english must be"),
                                            (2.5, "replay_english must be")])
def test_replay_config_errors(tmp_path, value, message):
    with pytest.raises(UsageError, match=message):
        CompareConfig(model="m", language="ko", output_dir=str(tmp_path), eval_suite="builtin-confusion",
                      replay_english=value)


def test_replay_of_english_into_an_english_fix_is_refused(tmp_path):
    with pytest.raises(UsageError, match="target is English"):
        CompareConfig(model="m", language="en", output_dir=str(tmp_path), eval_suite="builtin-confusion",
                      replay_english=4)
