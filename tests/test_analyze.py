"""`langlock analyze`: the Table 7 maths, CP char -> step mapping, and an end-to-end run on a tiny model whose
recorded per-step entropies are checked against a teacher-forced forward pass."""

from __future__ import annotations

import json
import math

import pytest

from langlock.decoding.analyze import StepTrace, auc, char_to_step, finding, table7


def _trace(entropy, nucleus, cp_step=-1):
    return StepTrace("k", "ko", "monolingual", "p", "t", list(range(len(entropy))), entropy, nucleus,
                     cp_step=cp_step)


def test_char_to_step():
    ends = [3, 3, 7, 10]  # token 1 adds no character (the middle of a multi-byte character)
    assert char_to_step(ends, 0) == 0
    assert char_to_step(ends, 3) == 2
    assert char_to_step(ends, 9) == 3
    assert char_to_step(ends, 10) == -1
    assert char_to_step(ends, -1) == -1


def test_auc():
    assert auc([3.0], [1.0, 2.0]) == 1.0
    assert auc([0.0], [1.0, 2.0]) == 0.0
    assert auc([1.0], [1.0]) == 0.5
    assert auc([2.0, 0.0], [1.0]) == 0.5
    assert auc([], [1.0]) is None


def test_table7_groups_and_finding():
    traces = [
        _trace([0.1, 2.0, 0.3], [1, 4, 2], cp_step=1),
        _trace([0.2, 0.4], [1, 1]),
    ]
    t7 = table7(traces)
    rows = t7["rows"]
    assert rows["CP"] == {"n": 1, "nucleus": 4.0, "entropy": 2.0}
    assert rows["non-CP in responses with CP"]["n"] == 2
    assert math.isclose(rows["non-CP in responses with CP"]["entropy"], 0.2)
    assert rows["responses without CP"] == {"n": 2, "nucleus": 1.0, "entropy": pytest.approx(0.3)}
    assert rows["non-CP (all)"]["n"] == 4 and math.isclose(rows["non-CP (all)"]["entropy"], 0.25)
    assert t7["responses_with_cp"] == 1 and t7["responses_without_cp"] == 1
    assert t7["auc_entropy"] == 1.0
    assert "holds here" in finding(t7)
    low = table7([_trace([0.1, 0.0, 0.3], [1, 1, 2], cp_step=1)])
    assert "does not hold" in finding(low)
    assert "Not enough data" in finding(table7([_trace([0.1], [1])]))


def test_analyze_end_to_end_on_tiny_model(tmp_path):
    torch = pytest.importorskip("torch")
    from langlock.cli.main import main
    from langlock.inference.stats import entropy

    from tiny_models import make_model_dir

    model_dir = make_model_dir(tmp_path / "tiny")
    out = tmp_path / "cp"
    rc = main(["analyze", "--model", str(model_dir), "--suite", "builtin-confusion", "--langs", "ko,ru",
               "--task", "monolingual", "--limit", "3", "--max-new-tokens", "12", "--temperature", "1.0",
               "--top-p", "1.0", "--batch-size", "4", "-o", str(out)])
    assert rc == 0
    data = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert set(data["table7"]) == {"CP", "non-CP (all)", "non-CP in responses with CP", "responses without CP"}
    assert data["responses_with_cp"] + data["responses_without_cp"] == 6
    assert set(data["per_language"]) == {"ko", "ru"}
    assert (out / "distributions.png").read_bytes()[:4] == b"\x89PNG"
    steps = [json.loads(line) for line in (out / "steps.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(steps) == 6
    n_steps = sum(len(s["entropy"]) for s in steps)
    assert data["table7"]["CP"]["n"] + data["table7"]["non-CP (all)"]["n"] == n_steps
    with_cp = [s for s in steps if s["cp_step"] >= 0]
    assert with_cp and len(with_cp) == data["responses_with_cp"]  # the fixture's model does switch language
    for s in steps:
        assert len(s["entropy"]) == len(s["nucleus"]) == len(s["token_ids"])
    for s in with_cp:
        assert s["status"] == "fail" and 0 <= s["cp_step"] < len(s["token_ids"])
    # The recorded entropies are the model's own next-token entropies: recompute one by teacher forcing.
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    s = max(steps, key=lambda s: len(s["token_ids"]))
    prompt = tok.apply_chat_template([{"role": "user", "content": s["prompt"]}], tokenize=False,
                                     add_generation_prompt=True)
    ids = tok(prompt, add_special_tokens=False)["input_ids"]
    full = torch.tensor([ids + s["token_ids"]])
    with torch.no_grad():
        logits = model(full).logits[0, len(ids) - 1: len(ids) - 1 + len(s["token_ids"])]
    assert torch.allclose(entropy(logits), torch.tensor(s["entropy"]), atol=2e-3)


def test_analyze_bad_input(tmp_path, capsys):
    from langlock.cli.main import main

    assert main(["analyze", "--model", str(tmp_path / "nope"), "--suite", "builtin-confusion", "--langs", "ko",
                 "-o", str(tmp_path / "o")]) == 2
    assert main(["analyze", "--model", "x", "--suite", "builtin-confusion", "--langs", "xx",
                 "-o", str(tmp_path / "o")]) == 2
    assert "unknown language" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
