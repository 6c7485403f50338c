"""`langlock merge` layer-swap / soup / TIES on tiny multi-shard models, checked against direct tensor maths."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from langlock.cli.main import main
from langlock.merge import ties
from langlock.merge.io import Checkpoint, from_compute, parse_size, to_compute
from langlock.merge.layer_swap import language_weights, zone_of
from tiny_merge_models import save_tiny_lm

torch = pytest.importorskip("torch")
safetensors_torch = pytest.importorskip("safetensors.torch")
N = 6


def load_state(path: Path) -> dict:
    """All tensors of a model directory, read with the safetensors library (independent of our reader)."""
    out = {}
    for f in sorted(Path(path).glob("*.safetensors")):
        out.update(safetensors_torch.load_file(str(f)))
    return out


@pytest.fixture(scope="session")
def models(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("merge_models")
    base = save_tiny_lm(root / "base", seed=0)
    return {
        "base": base,
        "task": save_tiny_lm(root / "task", seed=1, base=base, layer_noise={2: 0.05, 3: 0.05}, other_noise=0.01),
        "lang": save_tiny_lm(root / "lang", seed=2, base=base, layer_noise={0: 0.05, 5: 0.05}, other_noise=0.01),
        "third": save_tiny_lm(root / "third", seed=3),
    }


def run_cli(*argv) -> int:
    return main(["merge", *map(str, argv)])


# ---------------------------------------------------------------------------------------------- pure maths

@pytest.mark.parametrize("n", [1, 2, 5, 6, 9])
def test_zones_follow_algorithm_1_with_and(n):
    """Every (b, tb, tu, u) that fits gives zones of exactly those widths, in order (the `or` typo would not)."""
    for b in range(n + 1):
        for tb in range(n + 1 - b):
            for tu in range(n + 1 - b - tb):
                for u in range(n + 1 - b - tb - tu):
                    zones = [zone_of(i, n, b, u, tb, tu) for i in range(n)]
                    expected = (["bottom"] * b + ["transition_bottom"] * tb
                                + ["middle"] * (n - b - tb - tu - u) + ["transition_top"] * tu + ["top"] * u)
                    assert zones == expected


def test_language_weights_ramp_and_fixed():
    assert language_weights(6, 1, 1, 1, 1) == [1.0, 0.5, 0.0, 0.0, 0.5, 1.0]
    got = language_weights(10, 2, 1, 3, 2)
    np.testing.assert_allclose(got, [1, 1, 0.75, 0.5, 0.25, 0, 0, 1 / 3, 2 / 3, 1])
    assert language_weights(6, 1, 1, 1, 1, transition=(3.0, 1.0)) == [1.0, 0.25, 0.0, 0.0, 0.25, 1.0]


def test_ramp_top_zone_mirrors_bottom():
    w = language_weights(8, 1, 1, 2, 2)
    assert w == [1.0, pytest.approx(2 / 3), pytest.approx(1 / 3), 0.0, 0.0, pytest.approx(1 / 3),
                 pytest.approx(2 / 3), 1.0]


def test_parse_size():
    assert parse_size("50KB") == 50_000 and parse_size("1GiB") == 2**30 and parse_size("2GB") == 2 * 10**9


def test_bfloat16_conversion_matches_torch():
    x = torch.randn(1000) * 10
    x[:3] = torch.tensor([float("inf"), -0.0, 1e-40])
    ours = from_compute(x.numpy(), "BF16")
    theirs = x.to(torch.bfloat16).view(torch.int16).numpy().view(np.uint16)
    assert np.array_equal(ours, theirs)
    back = to_compute(ours, "BF16", np.dtype(np.float32))
    assert np.array_equal(back, x.to(torch.bfloat16).float().numpy())


def test_magnitude_threshold_equals_kthvalue():
    rng = np.random.default_rng(0)
    parts = [rng.normal(size=s).astype(np.float32) for s in (100, 7, 3000, 1)]
    parts[1][:] = parts[0][:7]  # duplicates across arrays
    allv = torch.from_numpy(np.concatenate([p.ravel() for p in parts])).abs()
    for density in (0.2, 0.01, 0.5, 0.999):
        k = ties.paper_kth(allv.numel(), density)
        sel = ties.MagnitudeThreshold(k)
        for p in parts:
            sel.add_pass1(p)
        sel.end_pass1()
        for p in parts:
            sel.add_pass2(p)
        assert sel.end_pass2() == allv.kthvalue(k).values.item()


# --------------------------------------------------------------------------------------------- layer swap

def test_layer_swap_every_tensor_from_planned_source(models, tmp_path):
    out = tmp_path / "swap"
    assert run_cli("layer-swap", "--task-expert", models["task"], "--lang-expert", models["lang"], "-b", 1, "-u", 1,
                   "--tb", 1, "--tu", 1, "--max-shard-size", "40KB", out) == 0
    task, lang, got = load_state(models["task"]), load_state(models["lang"]), load_state(out)
    alpha = [1.0, 0.5, 0.0, 0.0, 0.5, 1.0]  # b=1, tb=1, middle 2, tu=1, u=1
    assert set(got) == set(task)
    for name, t in got.items():
        if ".layers." in name:
            a = alpha[int(name.split(".layers.")[1].split(".")[0])]
        else:
            a = 0.5  # --non-layer average (default)
        if a in (0.0, 1.0):
            assert torch.equal(t, lang[name] if a == 1.0 else task[name]), name  # bitwise copies
        else:
            torch.testing.assert_close(t, a * lang[name] + (1 - a) * task[name], rtol=0, atol=0)
    index = json.loads((out / "model.safetensors.index.json").read_text())
    assert set(index["weight_map"]) == set(task) and len(set(index["weight_map"].values())) > 1
    assert all((out / s).is_file() for s in index["weight_map"].values())
    plan = json.loads((out / "swap_plan.json").read_text())
    assert {t["name"] for t in plan["tensors"]} == set(task)
    resolved = yaml.safe_load((out / "langlock_merge.yaml").read_text())
    assert resolved["bottom"] == 1 and resolved["non_layer"] == "average"
    assert (out / "tokenizer.json").is_file() and (out / "config.json").is_file()

    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(out)
    logits = model(torch.tensor([[1, 2, 3, 4]])).logits
    assert logits.shape == (1, 4, 128) and torch.isfinite(logits).all()


def test_layer_swap_from_config_ramp_weights_nonlayer_and_dtype(models, tmp_path):
    cfg = tmp_path / "swap.yaml"
    cfg.write_text(yaml.safe_dump({"method": "layer-swap", "task_expert": str(models["task"]),
                                   "lang_expert": str(models["lang"]), "bottom": 1, "top": 0,
                                   "transition_bottom": 2, "transition_top": 1, "non_layer": "lang",
                                   "dtype": "bfloat16"}))
    out = tmp_path / "swap"
    assert run_cli("layer-swap", "--config", cfg, out) == 0
    task, lang, got = load_state(models["task"]), load_state(models["lang"]), load_state(out)
    alpha = [1.0, 2 / 3, 1 / 3, 0.0, 0.0, 0.5]  # ramp of width 2 above b=1; one-layer top transition, u=0
    for name, t in got.items():
        assert t.dtype == torch.bfloat16, name
        a = alpha[int(name.split(".layers.")[1].split(".")[0])] if ".layers." in name else 1.0
        expect = (np.float32(a) * lang[name].numpy() + np.float32(1 - a) * task[name].numpy()).astype(np.float32)
        assert torch.equal(t, torch.from_numpy(expect).to(torch.bfloat16)), name
    # CLI flags override the file: --weights gives a constant transition weight
    out2 = tmp_path / "swap2"
    assert run_cli("layer-swap", "--config", cfg, "--weights", "3,1", "--dtype", "float32", out2) == 0
    got2 = load_state(out2)
    name = "model.layers.2.mlp.up_proj.weight"
    torch.testing.assert_close(got2[name], 0.25 * lang[name] + 0.75 * task[name], rtol=1e-6, atol=1e-7)


def test_tied_embeddings_stay_tied(tmp_path):
    a = save_tiny_lm(tmp_path / "a", seed=0, tie=True, layers=4)
    b = save_tiny_lm(tmp_path / "b", seed=1, tie=True, layers=4)
    out = tmp_path / "out"
    assert run_cli("layer-swap", "--task-expert", a, "--lang-expert", b, "-b", 1, "-u", 1, "--non-layer", "task",
                   out) == 0
    got = load_state(out)
    assert "lm_head.weight" not in got  # tied: stored once, as transformers does
    assert torch.equal(got["model.embed_tokens.weight"], load_state(a)["model.embed_tokens.weight"])
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(out)
    assert model.config.tie_word_embeddings
    assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()


def test_dry_run_prints_plan_and_writes_nothing(models, tmp_path, capsys):
    out = tmp_path / "never"
    assert run_cli("layer-swap", "--task-expert", models["task"], "--lang-expert", models["lang"], "-b", 2, "-u", 1,
                   "--dry-run", out) == 0
    text = capsys.readouterr().out
    n_tensors = len(Checkpoint(models["task"]).tensors)
    rows = [ln for ln in text.splitlines() if ln and not ln.startswith("#")][1:]
    assert len(rows) == n_tensors
    assert "model.layers.0.self_attn.q_proj.weight\t32x32\tF32\tbottom\t1*lang" in text
    assert "model.layers.3.mlp.up_proj.weight\t64x32\tF32\tmiddle\t1*task" in text
    assert "estimated peak memory" in text
    assert not out.exists() and list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------------------------- soup and TIES

def test_soup_equals_weighted_average(models, tmp_path):
    out = tmp_path / "soup"
    paths = [models["task"], models["lang"], models["third"]]
    assert run_cli("soup", "--models", *paths, "--weights", "1,2,1", "-o", out) == 0
    states = [load_state(p) for p in paths]
    got = load_state(out)
    for name, t in got.items():
        expect = (1 * states[0][name] + 2 * states[1][name] + 1 * states[2][name]) / 4
        torch.testing.assert_close(t, expect, rtol=1e-6, atol=1e-7)


def test_linear_tensor_with_all_zero_weights_is_refused(models):
    """`compute_tensor` sums `linear` tensors with `soup.weighted_sum`, so its all-zero-weights guard holds."""
    from dataclasses import replace

    from langlock.errors import UsageError
    from langlock.merge import execute
    from langlock.merge.io import Checkpoint
    from langlock.merge.plan import plan_soup

    plan = plan_soup([Checkpoint(models["task"]), Checkpoint(models["lang"])], [1, 3])
    t = next(t for t in plan.tensors if t.op == "linear")
    a, b = (Checkpoint(models[k]).read(t.name) for k in ("task", "lang"))
    np.testing.assert_allclose(execute.compute_tensor(plan, t).astype(np.float32), 0.25 * a + 0.75 * b,
                               rtol=1e-6, atol=1e-7)
    zero = replace(t, sources=[(m, 0.0) for m, _ in t.sources])
    with pytest.raises(UsageError, match="every weight is zero"):
        execute.compute_tensor(plan, zero)


def _ref_ties_paper(base: dict, experts: list[dict], density: float, lam: float) -> dict:
    """The TIES reference code's maths on whole flattened task vectors (torch.kthvalue trimming)."""
    keys = sorted(base)
    flat = lambda sd: torch.cat([sd[k].float().reshape(-1) for k in keys])  # noqa: E731
    b = flat(base)
    tvs = torch.stack([flat(e) - b for e in experts])
    d = tvs.shape[1]
    kth = tvs.abs().kthvalue(d - int(d * density), dim=1, keepdim=True).values
    tv = tvs * (tvs.abs() >= kth)
    sign = torch.sign(tv.sum(dim=0))
    sign[sign == 0] = torch.sign(sign.sum())
    keep = torch.where(sign.unsqueeze(0) > 0, tv > 0, tv < 0)
    sel = tv * keep
    merged = b + lam * sel.sum(dim=0) / (sel != 0).sum(dim=0).float().clamp(min=1)
    out, pos = {}, 0
    for k in keys:
        n = base[k].numel()
        out[k] = merged[pos:pos + n].reshape(base[k].shape)
        pos += n
    return out


def _ref_ties_mergekit(base, experts, weights, density, lam):
    """mergekit's ties on one tensor: per-tensor magnitude top-k, weighted sum election, normalised."""
    deltas = []
    for e in experts:
        d = e - base
        k = int(density * d.numel())
        mask = torch.zeros(d.numel())
        mask[torch.argsort(d.abs().reshape(-1), descending=True)[:k]] = 1
        deltas.append(d * mask.reshape(d.shape))
    w = torch.tensor(weights).reshape(-1, *([1] * base.dim()))
    wd = torch.stack(deltas) * w
    majority = (wd.sum(dim=0) >= 0).float() * 2 - 1
    mask = wd.sign() == majority
    mixed = (wd * mask).sum(dim=0)
    div = (w * mask).sum(dim=0)
    div[div == 0] = 1
    return base + lam * (mixed / div)


def test_ties_paper_whole_model_trimming(models, tmp_path):
    out = tmp_path / "ties"
    assert run_cli("ties", "--base", models["base"], "--models", models["task"], models["lang"],
                   "--density", 0.1, "--lambda", 0.8, "-o", out) == 0
    base = load_state(models["base"])
    expect = _ref_ties_paper(base, [load_state(models["task"]), load_state(models["lang"])], 0.1, 0.8)
    got = load_state(out)
    for name in base:
        torch.testing.assert_close(got[name], expect[name], rtol=1e-6, atol=1e-7)
    # whole-model trimming keeps the task expert's large layer-2 changes and drops the small noise of layer 1
    def changed(layer):
        name = f"model.layers.{layer}.mlp.up_proj.weight"
        return (got[name] != base[name]).float().mean().item()

    assert changed(2) > 0.2 and changed(1) < 0.01


def test_ties_mergekit_per_tensor_trimming(models, tmp_path):
    out = tmp_path / "ties"
    assert run_cli("ties", "--trim", "mergekit", "--base", models["base"], "--models", models["task"],
                   models["lang"], "--weights", "1,0.5", "--density", 0.25, "--lambda", 1.5, "-o", out) == 0
    base, t, g = load_state(models["base"]), load_state(models["task"]), load_state(models["lang"])
    got = load_state(out)
    name = "model.layers.1.mlp.up_proj.weight"  # per-tensor trimming keeps changes in every tensor
    assert (got[name] != base[name]).float().mean() > 0.2
    for name in base:
        expect = _ref_ties_mergekit(base[name], [t[name], g[name]], [1.0, 0.5], 0.25, 1.5)
        torch.testing.assert_close(got[name], expect, rtol=1e-6, atol=1e-7)


# --------------------------------------------------------------------------------------------- mergekit

def _mergekit_semantics(cfg: dict, name_to_layer) -> dict:
    """Interpret an emitted `linear`/`passthrough` slices config by the documented mergekit rules."""
    def value(param, tensor):
        if not isinstance(param, list):
            return param
        for cond in param:
            if cond.get("filter") is None or cond["filter"] in tensor:
                return cond["value"]
        raise AssertionError("no matching condition")

    states = {}
    out_plan = {}
    offset = 0
    slices = cfg["slices"]
    for si, sl in enumerate(slices):
        srcs = sl["sources"]
        lo, hi = srcs[0]["layer_range"]
        for i in range(lo, hi):
            out_plan[("layer", offset + i - lo)] = [(s["model"], s.get("parameters", {}).get("weight", 1.0), i)
                                                    for s in srcs]
        offset += hi - lo
        if si == 0:
            out_plan["pre"] = [(s["model"], s.get("parameters", {}).get("weight", 1.0), None) for s in srcs]
        if si == len(slices) - 1:
            out_plan["post"] = [(s["model"], s.get("parameters", {}).get("weight", 1.0), None) for s in srcs]

    def load(m):
        if m not in states:
            states[m] = load_state(Path(m))
        return states[m]

    result = {}
    for name in load(slices[0]["sources"][0]["model"]):
        i = name_to_layer(name)
        key = ("layer", i) if i is not None else ("pre" if "embed_tokens" in name else "post")
        srcs = out_plan[key]
        if cfg["merge_method"] == "passthrough":
            (m, _, li), = srcs
            src_name = name if li is None else name.replace(f".layers.{i}.", f".layers.{li}.")
            result[name] = load(m)[src_name]
            continue
        ws = [value(w, name) for _, w, _ in srcs]
        acc = sum(w * load(m)[name if li is None else name.replace(f".layers.{i}.", f".layers.{li}.")]
                  for (m, _, li), w in zip(srcs, ws))
        result[name] = acc / sum(ws)
    return result


@pytest.mark.parametrize("flags", [
    ["-b", 1, "-u", 1, "--tb", 1, "--tu", 1],
    ["-b", 2, "-u", 1, "--tb", 2, "--non-layer", "task"],
    ["-b", 2, "-u", 1, "--non-layer", "lang"],  # hard swap -> passthrough
])
def test_emit_mergekit_config_reproduces_the_merge(models, tmp_path, flags):
    from langlock.merge.plan import layer_index

    out, yml = tmp_path / "out", tmp_path / "mk.yaml"
    common = ["layer-swap", "--task-expert", models["task"], "--lang-expert", models["lang"], *flags]
    assert run_cli(*common, "--emit-mergekit", yml) == 0
    assert not out.exists()
    assert run_cli(*common, out) == 0
    cfg = yaml.safe_load(yml.read_text())
    assert cfg["merge_method"] == ("passthrough" if "lang" in flags else "linear")
    assert (out / "mergekit.yaml").read_text() == yml.read_text()
    expect = _mergekit_semantics(cfg, layer_index)
    got = load_state(out)
    assert set(expect) == set(got)
    for name in got:
        torch.testing.assert_close(got[name], expect[name].float(), rtol=1e-6, atol=1e-7)


def test_emit_mergekit_matches_mergekit_itself(models, tmp_path):
    pytest.importorskip("mergekit")
    from mergekit.config import MergeConfiguration
    from mergekit.merge import MergeOptions, run_merge

    yml, ours, theirs = tmp_path / "mk.yaml", tmp_path / "ours", tmp_path / "theirs"
    common = ["layer-swap", "--task-expert", models["task"], "--lang-expert", models["lang"], "-b", 1, "-u", 1,
              "--tb", 1, "--tu", 1]
    assert run_cli(*common, "--emit-mergekit", yml) == 0
    assert run_cli(*common, ours) == 0
    run_merge(MergeConfiguration.model_validate(yaml.safe_load(yml.read_text())), str(theirs),
              options=MergeOptions(copy_tokenizer=False, lazy_unpickle=False))
    a, b = load_state(ours), load_state(theirs)
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=1e-6, atol=1e-6)


# ------------------------------------------------------------------------------------------------ bad input

def _assert_clean_failure(capsys, out: Path, *argv, match: str):
    capsys.readouterr()
    code = run_cli(*argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and err[0].startswith("langlock merge: error:") and match in err[0], err
    assert not out.exists()
    assert not [p for p in out.parent.iterdir() if p.name.startswith(f".{out.name}.")]  # no temp dir left


def test_rejects_different_architectures(models, tmp_path, capsys):
    qwen = save_tiny_lm(tmp_path / "qwen", arch="qwen2", seed=0)
    out = tmp_path / "out"
    _assert_clean_failure(capsys, out, "layer-swap", "--task-expert", models["task"], "--lang-expert", qwen,
                          "-b", 1, "-u", 1, out, match="different architectures")


def test_rejects_zones_wider_than_model(models, tmp_path, capsys):
    out = tmp_path / "out"
    _assert_clean_failure(capsys, out, "layer-swap", "--task-expert", models["task"], "--lang-expert",
                          models["lang"], "-b", 3, "-u", 2, "--tb", 1, "--tu", 1, out, match="exceeds the model's 6")


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def test_rejects_missing_shard(models, tmp_path, capsys):
    broken = _copy(models["lang"], tmp_path / "lang")
    victim = sorted(broken.glob("model-*.safetensors"))[2]
    victim.unlink()
    out = tmp_path / "out"
    _assert_clean_failure(capsys, out, "layer-swap", "--task-expert", models["task"], "--lang-expert", broken,
                          "-b", 1, "-u", 1, out, match=f"missing shard {victim.name}")


@pytest.mark.parametrize("damage", ["json", "length", "offsets"])
def test_rejects_corrupt_safetensors_header(models, tmp_path, capsys, damage):
    broken = _copy(models["lang"], tmp_path / "lang")
    victim = sorted(broken.glob("model-*.safetensors"))[1]
    data = bytearray(victim.read_bytes())
    if damage == "json":
        data[8:20] = b"\x00garbage!!{{"
    elif damage == "length":
        data[:8] = (len(data) * 2).to_bytes(8, "little")
    else:
        victim.write_bytes(bytes(data[: len(data) - 100]))  # data section shorter than the header says
        data = None
    if data is not None:
        victim.write_bytes(bytes(data))
    out = tmp_path / "out"
    _assert_clean_failure(capsys, out, "soup", "--models", models["task"], broken, "-o", out,
                          match="corrupt safetensors header")


def test_rejects_mismatched_shapes(models, tmp_path, capsys):
    odd = save_tiny_lm(tmp_path / "odd", seed=5, intermediate=48)
    cfg = json.loads((odd / "config.json").read_text())
    cfg["intermediate_size"] = 64  # same config, different tensors: caught by the shape check
    (odd / "config.json").write_text(json.dumps(cfg))
    out = tmp_path / "out"
    _assert_clean_failure(capsys, out, "soup", "--models", models["task"], odd, "-o", out, match="shape mismatch")


def test_rejects_mismatched_config_and_tokenizer(models, tmp_path, capsys):
    wide = save_tiny_lm(tmp_path / "wide", seed=5, vocab=160)
    out = tmp_path / "out"
    _assert_clean_failure(capsys, out, "soup", "--models", models["task"], wide, "-o", out,
                          match="'vocab_size': 128")
    other_tok = _copy(models["lang"], tmp_path / "lang_tok")
    from tiny_merge_models import save_tokenizer

    save_tokenizer(other_tok, 128, variant=7)
    _assert_clean_failure(capsys, out, "soup", "--models", models["task"], other_tok, "-o", out,
                          match="tokenizers differ (tokenizer.json)")


def test_rejects_unknown_config_key_and_existing_output(models, tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("task_expert: a\nlang_expert: b\nbotom: 1\ntop: 1\n")
    out = tmp_path / "out"
    _assert_clean_failure(capsys, out, "layer-swap", "--config", cfg, out, match="did you mean 'bottom'")
    out.mkdir()
    (out / "keep.txt").write_text("x")
    assert run_cli("soup", "--models", models["task"], models["lang"], "-o", out) == 2
    assert "already exists" in capsys.readouterr().err
    assert (out / "keep.txt").read_text() == "x"


def test_failure_mid_write_leaves_nothing(models, tmp_path, monkeypatch):
    from langlock.merge import execute

    calls = {"n": 0}
    real = execute.compute_tensor

    def flaky(plan, t, state=None):
        calls["n"] += 1
        if calls["n"] == 20:
            raise OSError("disk full (simulated)")
        return real(plan, t, state)

    monkeypatch.setattr(execute, "compute_tensor", flaky)
    out = tmp_path / "out"
    with pytest.raises(OSError, match="simulated"):
        run_cli("soup", "--models", models["task"], models["lang"], "-o", out)
    assert list(tmp_path.iterdir()) == []


def test_merge_help_exits_zero(capsys):
    for sub in ("layer-swap", "soup", "ties", "apply-adapter", "analyze"):
        with pytest.raises(SystemExit) as exc:
            main(["merge", sub, "--help"])
        assert exc.value.code == 0
