"""`langlock bench --adapters LIB --route MODE`: the bench runner's routing hooks (the runner stays generic).

`generator_options` names the base and the adapters the `hf` generator loads (PEFT mixed batches) or the `vllm`
one serves (a `LoRARequest` per request) (the library's routing table:
one adapter per language, the most specific first); `plan_routes` decides each prompt's adapter under the
route and the routing report (accuracy against the benchmark's metadata), which bench writes into
``results.json`` as ``routing``, apart from the pass rates.
"""

from __future__ import annotations

from ..errors import UsageError
from .library import AdapterLibrary
from .route import ROUTES, adapter_names, route_languages, routing_report


def open_library(cfg) -> AdapterLibrary:
    if cfg.route not in ROUTES:
        raise UsageError(f"--route must be one of {', '.join(ROUTES)}")
    if cfg.backend not in ("hf", "vllm"):
        raise UsageError("--adapters works with --backend hf (PEFT mixed batches) or vllm (multi-LoRA)")
    return AdapterLibrary.open(cfg.adapters)


def generator_options(cfg) -> dict:
    """`model` (the library's base, or `cfg.model` when it is the same base) and `adapters` (name -> dir)."""
    lib = open_library(cfg)
    model = str(lib.check_base(cfg.model, f"--model {cfg.model}", cfg.cache_dir)) if cfg.model else lib.base_model()
    table = lib.routing_table()
    return {"model": model, "adapters": {n: lib.adapter_path(n) for n in sorted(set(table.values()))}}


def identity(cfg) -> dict:
    lib = open_library(cfg)
    return {"adapters": {"library": lib.base["fingerprint"], "route": cfg.route, "table": lib.routing_table(),
                         "entries": {n: lib.get(n).added for n in sorted(set(lib.routing_table().values()))}}}


def plan_routes(cfg, prompts) -> tuple[dict[str, str], dict]:
    """(prompt key -> adapter name, ``"__base__"`` for none; the routing report) for bench prompts."""
    lib = open_library(cfg)
    table = lib.routing_table()
    oracle = [p.language for p in prompts]
    routed = route_languages([p.prompt for p in prompts], oracle, cfg.route, cfg.lcb_options.get("lid_model"))
    names = adapter_names(routed, table)
    report = routing_report(cfg.route, oracle, routed, table, [p.task for p in prompts])
    return dict(zip((p.key for p in prompts), names, strict=True)), report
