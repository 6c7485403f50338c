"""Peak memory of `langlock merge layer-swap` (streaming) vs a naive load-both-and-merge, same run.

Generates two Llama-style multi-shard fp32 checkpoints of about 1.07 GB each (random tensors, written
shard by shard with `safetensors.numpy.save_file`, so the generator holds one shard at a time) under a
temporary directory, then runs

- the streaming merge: `python -m langlock merge layer-swap ...` in a subprocess;
- the naive merge: a subprocess that loads every shard of both models into memory, computes the same
  layer-swapped tensors with numpy, and saves them with `save_file`;

and measures each subprocess's peak resident set size as its own `VmHWM` (read from /proc/self/status
at exit by a small wrapper; see `HWM_WRAPPER` for why not `ru_maxrss`).
Both outputs are compared tensor by tensor.  Ratios are each peak divided by the budget
2 × largest input shard + one output shard.  Last line:

    RESULT peak_ratio=<streaming / budget> naive_peak_ratio=<naive / budget>

Usage: `nice -n 10 .venv/bin/python benchmarks/bench_merge.py [--layers 18] [--shard-mb 220] [--workdir DIR]`
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HIDDEN, INTER, VOCAB, HEADS, KV = 1024, 2816, 32000, 16, 4


def tensor_specs(layers: int) -> list[tuple[str, tuple[int, ...]]]:
    head_dim = HIDDEN // HEADS
    specs = [("model.embed_tokens.weight", (VOCAB, HIDDEN))]
    for i in range(layers):
        p = f"model.layers.{i}."
        specs += [(p + "input_layernorm.weight", (HIDDEN,)),
                  (p + "self_attn.q_proj.weight", (HIDDEN, HIDDEN)),
                  (p + "self_attn.k_proj.weight", (KV * head_dim, HIDDEN)),
                  (p + "self_attn.v_proj.weight", (KV * head_dim, HIDDEN)),
                  (p + "self_attn.o_proj.weight", (HIDDEN, HIDDEN)),
                  (p + "post_attention_layernorm.weight", (HIDDEN,)),
                  (p + "mlp.gate_proj.weight", (INTER, HIDDEN)),
                  (p + "mlp.up_proj.weight", (INTER, HIDDEN)),
                  (p + "mlp.down_proj.weight", (HIDDEN, INTER))]
    specs += [("model.norm.weight", (HIDDEN,)), ("lm_head.weight", (VOCAB, HIDDEN))]
    return specs


def generate(path: Path, seed: int, layers: int, shard_bytes: int) -> None:
    """Write one checkpoint shard by shard (only one shard's tensors are ever in memory)."""
    from safetensors.numpy import save_file

    path.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    groups, size = [[]], 0
    for name, shape in tensor_specs(layers):
        nbytes = int(np.prod(shape)) * 4
        if groups[-1] and size + nbytes > shard_bytes:
            groups.append([])
            size = 0
        groups[-1].append((name, shape))
        size += nbytes
    weight_map, total = {}, 0
    for k, group in enumerate(groups):
        fname = f"model-{k + 1:05d}-of-{len(groups):05d}.safetensors"
        shard = {name: rng.standard_normal(shape, dtype=np.float32) * np.float32(0.02) for name, shape in group}
        save_file(shard, str(path / fname), metadata={"format": "pt"})
        for name, arr in shard.items():
            weight_map[name] = fname
            total += arr.nbytes
        del shard
    (path / "model.safetensors.index.json").write_text(
        json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map}, indent=1))
    (path / "config.json").write_text(json.dumps({
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": HIDDEN,
        "intermediate_size": INTER, "num_hidden_layers": layers, "num_attention_heads": HEADS,
        "num_key_value_heads": KV, "vocab_size": VOCAB, "rms_norm_eps": 1e-5, "tie_word_embeddings": False,
        "max_position_embeddings": 2048, "hidden_act": "silu", "dtype": "float32"}, indent=1))


NAIVE = r"""
import json, sys
from pathlib import Path
import numpy as np
from safetensors.numpy import load_file, save_file
task_dir, lang_dir, out_dir, alphas, shard_bytes = sys.argv[1], sys.argv[2], Path(sys.argv[3]), json.loads(sys.argv[4]), int(sys.argv[5])
def load(d):
    sd = {}
    for f in sorted(Path(d).glob("*.safetensors")):
        sd.update(load_file(str(f)))
    return sd
task, lang = load(task_dir), load(lang_dir)          # both models fully in memory
merged = {}
for name, t in task.items():
    a = alphas[int(name.split(".layers.")[1].split(".")[0])] if ".layers." in name else 0.5
    merged[name] = t if a == 0 else lang[name] if a == 1 else np.float32(1 - a) * t + np.float32(a) * lang[name]
out_dir.mkdir(parents=True)
shard, size, k = {}, 0, 0
for name in task:
    if shard and size + merged[name].nbytes > shard_bytes:
        k += 1; save_file(shard, str(out_dir / f"model-{k:05d}.safetensors")); shard, size = {}, 0
    shard[name] = merged[name]; size += merged[name].nbytes
save_file(shard, str(out_dir / f"model-{k + 1:05d}.safetensors"))
"""


#: Runs a module or a script, then prints the process's own VmHWM (peak RSS of its address space) at exit.
#: `ru_maxrss` from `wait4`/`RUSAGE_CHILDREN` is not used: Linux carries the parent's high-water mark into
#: the child across fork/vfork + exec, so a child of a 500 MB parent reports >= 500 MB even for `pass`.
HWM_WRAPPER = r"""
import atexit, runpy, sys
def _hwm():
    with open("/proc/self/status") as fh:
        kb = next(line.split()[1] for line in fh if line.startswith("VmHWM:"))
    sys.stderr.write(f"\nVMHWM_KB {kb}\n")
atexit.register(_hwm)
kind, target = sys.argv[1], sys.argv[2]
sys.argv = sys.argv[2:]
if kind == "module":
    runpy.run_module(target, run_name="__main__", alter_sys=True)
else:
    exec(compile(target, "<naive>", "exec"), {"__name__": "__main__"})
"""


def run_measured(kind: str, target: str, args: list[str]) -> tuple[int, float, str]:
    """Run a module (`python -m`) or script text with `args`; return (its VmHWM in bytes, seconds, stdout)."""
    cmd = [sys.executable, "-c", HWM_WRAPPER, kind, target, *args]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"command failed ({proc.returncode}): {target[:40]} {' '.join(args)}\n{proc.stderr[-2000:]}")
    kb = int(proc.stderr.rsplit("VMHWM_KB ", 1)[1].split()[0])
    return kb * 1024, time.perf_counter() - t0, proc.stdout


def read_all(path: Path) -> dict:
    from safetensors import safe_open

    out = {}
    for f in sorted(path.glob("*.safetensors")):
        with safe_open(str(f), framework="numpy") as fh:
            for name in fh.keys():
                out[name] = f
    return out


def same_tensors(a: Path, b: Path) -> bool:
    from safetensors import safe_open

    ia, ib = read_all(a), read_all(b)
    if set(ia) != set(ib):
        return False
    for name in ia:
        with safe_open(str(ia[name]), framework="numpy") as fa, safe_open(str(ib[name]), framework="numpy") as fb:
            if not np.array_equal(fa.get_tensor(name), fb.get_tensor(name)):
                return False
    return True


def free_bytes(path: Path) -> int:
    out = subprocess.run(["df", "-Pk", str(path)], capture_output=True, text=True, check=True).stdout
    return int(out.splitlines()[1].split()[3]) * 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--layers", type=int, default=18, help="decoder layers per model (18 -> 1.07 GB)")
    ap.add_argument("--shard-mb", type=float, default=220, help="input and output shard size (MB)")
    ap.add_argument("--workdir", default=None, help="where to put the temporary checkpoints")
    args = ap.parse_args()
    shard_bytes = int(args.shard_mb * 1e6)
    model_bytes = sum(int(np.prod(s)) * 4 for _, s in tensor_specs(args.layers))
    root = Path(tempfile.mkdtemp(prefix="langlock_bench_merge_", dir=args.workdir))
    try:
        need = 4 * model_bytes + 2**28
        have = free_bytes(root)
        if have < need:
            sys.exit(f"not enough free disk under {root}: {have / 1e9:.1f} GB free, {need / 1e9:.1f} GB needed")
        t0 = time.perf_counter()
        task, lang = root / "task", root / "lang"
        generate(task, 1, args.layers, shard_bytes)
        generate(lang, 2, args.layers, shard_bytes)
        largest_in = max(p.stat().st_size for d in (task, lang) for p in d.glob("*.safetensors"))
        print(f"generated 2 x {model_bytes / 1e9:.2f} GB ({len(list(task.glob('*.safetensors')))} shards each, "
              f"largest {largest_in / 1e6:.0f} MB) in {time.perf_counter() - t0:.0f} s")

        b, u = max(1, args.layers // 4), max(1, args.layers // 8)  # 18 layers: b=4, u=2, tb=tu=1
        tb = tu = 1 if b + u + 2 <= args.layers else 0
        from langlock.merge.layer_swap import language_weights

        alphas = language_weights(args.layers, b, u, tb, tu)
        stream_out, naive_out = root / "stream", root / "naive"
        merge_args = ["merge", "layer-swap", "--task-expert", str(task),
                     "--lang-expert", str(lang), "-b", str(b), "-u", str(u), "--tb", str(tb), "--tu", str(tu),
                     "--non-layer", "average", "--max-shard-size", f"{int(shard_bytes)}B", str(stream_out)]
        dry_rss, _, dry_text = run_measured("module", "langlock", [*merge_args, "--dry-run"])
        estimate = next(ln for ln in dry_text.splitlines() if "estimated peak memory" in ln)
        stream_rss, stream_s, _ = run_measured("module", "langlock", merge_args)
        largest_out = max(p.stat().st_size for p in stream_out.glob("*.safetensors"))
        naive_rss, naive_s, _ = run_measured("script", NAIVE, [str(task), str(lang), str(naive_out),
                                                               json.dumps(alphas), str(shard_bytes)])
        identical = same_tensors(stream_out, naive_out)
        budget = 2 * largest_in + largest_out
        print(f"budget = 2 x largest input shard ({largest_in / 1e6:.0f} MB) + one output shard "
              f"({largest_out / 1e6:.0f} MB) = {budget / 1e6:.0f} MB")
        print(f"dry run (headers only, interpreter + imports): peak RSS {dry_rss / 1e6:.0f} MB; plan says: "
              f"{estimate.lstrip('# ').split(' (')[0]}")
        print(f"streaming layer-swap: peak RSS {stream_rss / 1e6:.0f} MB, {stream_s:.1f} s")
        print(f"naive load-both:      peak RSS {naive_rss / 1e6:.0f} MB, {naive_s:.1f} s")
        print(f"outputs identical tensor by tensor: {identical}")
        if not identical:
            sys.exit("streaming and naive merges differ")
        print(f"RESULT peak_ratio={stream_rss / budget:.3f} naive_peak_ratio={naive_rss / budget:.3f}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
