"""Fluency judge (per-byte NLL) on a tiny random model; `score --quality` with `--judge-model`."""

from __future__ import annotations

import json
import math

import pytest

from langlock.cli.main import main
from langlock.quality.fluency import FluencyJudge, calibrate, choose_limit, load_calibration, quantile

from tiny_models import make_model_dir

TEXTS = ["오늘은 날씨가 좋습니다.", "Hello there, general.", "", "短い", "Une phrase un peu plus longue que les autres ici."]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    path = make_model_dir(tmp_path_factory.mktemp("tiny") / "m")
    from langlock.models import load_model_and_tokenizer

    model, tok, _ = load_model_and_tokenizer(str(path))
    return path, model, tok


def _oracle(model, tok, text):
    """Summed NLL via the model's own loss (mean over predicted tokens x count) / UTF-8 bytes."""
    import torch

    ids = torch.tensor([[tok.bos_token_id, *tok(text, add_special_tokens=False)["input_ids"]]])
    with torch.no_grad():
        loss = model(input_ids=ids, labels=ids).loss
    return float(loss) * (ids.shape[1] - 1) / len(text.encode("utf-8"))


def test_nll_per_byte_matches_oracle_and_batching(tiny):
    _, model, tok = tiny
    judge = FluencyJudge(model, tok, token_budget=60, max_tokens=256)  # several batches, with padding
    got = judge.nll_per_byte(TEXTS)
    assert got[2] is None
    for text, value in zip(TEXTS, got):
        if text:
            assert value == pytest.approx(_oracle(model, tok, text), rel=1e-4)
    single = [FluencyJudge(model, tok, max_tokens=256).nll_per_byte([t])[0] for t in TEXTS]
    assert all((a is None and b is None) or a == pytest.approx(b, rel=1e-4) for a, b in zip(got, single))


def test_max_tokens_truncates(tiny):
    _, model, tok = tiny
    long = "abc def " * 50
    short_judge = FluencyJudge(model, tok, max_tokens=8)
    value = short_judge.nll_per_byte([long])[0]
    assert math.isfinite(value) and value == pytest.approx(_oracle(model, tok, tok.decode(
        tok(long, add_special_tokens=False)["input_ids"][:8])), rel=1e-4)


def test_quantile_and_calibrate():
    assert quantile([3, 1, 2], 0.5) == 2
    assert quantile([0, 10], 0.25) == 2.5
    with pytest.raises(ValueError):
        quantile([], 0.5)
    cal = calibrate({"ko": [1.0, 2.0, 3.0], "ja": []}, q=1.0, margin=0.5)
    assert cal == {"ko": {"n": 3, "median": 2.0, "limit": 3.5}}


def test_choose_limit_weighs_the_targets():
    genuine = [0.5, 0.6, 0.7, 0.8, 2.0]  # one outlier
    bad = [1.5, 1.6, 1.7, 1.8, 1.9]
    # rejecting the outlier beats accepting all salad; the limit sits in the middle of the gap 0.8 .. 1.5
    assert choose_limit(genuine, bad) == pytest.approx(1.15)
    assert choose_limit([0.5, 0.6], [0.55, 3.0], w_genuine=100, w_bad=1) == pytest.approx(1.8)  # genuine first
    assert choose_limit([1.0], [2.0]) == 1.5
    assert choose_limit([1.0, 3.0], [2.0], w_genuine=1, w_bad=100) == 1.5  # salad errors cost more
    with pytest.raises(ValueError):
        choose_limit([], [1.0])


def test_shipped_calibration_covers_the_six_languages():
    cal = load_calibration()
    assert cal["judge"] == "gemma3-270m"
    assert {"ko", "ja", "zh", "de", "es", "fr"} <= set(cal["languages"])
    assert all(v["limit"] > v["median"] > 0 for v in cal["languages"].values())


def test_score_quality_with_judge_model(tiny, tmp_path, capsys):
    path, _, _ = tiny
    rows = [{"task": "monolingual", "model": "m", "source": "s", "language": "ko", "id": str(i),
             "completion": "오늘은 날씨가 정말 좋아서 공원에서 산책을 했습니다. 친구도 만났습니다."} for i in range(3)]
    data = tmp_path / "in.jsonl"
    data.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    for limit, valid in ((100.0, True), (0.01, False)):
        cal = tmp_path / f"cal{limit}.json"
        cal.write_text(json.dumps({"judge": str(path), "max_tokens": 16, "languages": {"ko": {"limit": limit}}}))
        out = tmp_path / f"out{limit}"
        assert main(["score", str(data), "--quality", "--judge-model", str(path), "--judge-calibration", str(cal),
                     "-o", str(out), "--format", "tsv"]) == 0
        samples = [json.loads(x) for x in (out / "samples.jsonl").read_text(encoding="utf-8").splitlines()]
        assert all(s["valid"] is valid for s in samples)
        assert all("nll_per_byte" in s["quality_scores"] for s in samples)
        assert valid or all(s["invalid_reasons"] == ["disfluent"] for s in samples)
        settings = json.loads((out / "settings.json").read_text())
        assert settings["judge_model"] == str(path) and settings["judge_max_tokens"] == 16
    capsys.readouterr()
    # another model with the shipped calibration (made for gemma3-270m): one clear error, exit 2
    assert main(["score", str(data), "--quality", "--judge-model", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no fluency calibration" in err[0]
