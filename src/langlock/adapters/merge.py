"""Merge adapters of a library into a new registered adapter with PEFT's `add_weighted_adapter`.

No adapter arithmetic here: PEFT computes the merge (`linear`, `cat`, `ties`, `dare_ties`, `dare_linear`,
`svd`, `magnitude_prune`); this module validates the request against PEFT's rules before loading anything
(`linear`, `ties`, `dare_*` and `magnitude_prune` need equal ranks and target modules; `cat` adds the ranks),
saves the result and registers it in the library with its recipe (``merge``: method, sources, weights,
options) and the union of the sources' languages. PEFT gives the merged adapter ``lora_alpha = r`` (scaling 1),
so its update is ``B·A`` itself: for ``cat``, ``Σ wᵢ·sᵢ·Bᵢ·Aᵢ`` with ``sᵢ`` each source's scaling; for ``linear``,
``(Σ √(wᵢsᵢ)·Bᵢ)(Σ √(wⱼsⱼ)·Aⱼ)``, cross terms included (a warning names them when the weights sum above 1).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from ..errors import UsageError
from .library import AdapterEntry, AdapterLibrary

MERGE_METHODS = ("linear", "cat", "ties", "dare_ties", "dare_linear", "svd", "magnitude_prune")
#: methods that need a density (share of each update kept) and equal ranks
_DENSITY = ("ties", "dare_ties", "dare_linear", "magnitude_prune")
_EQUAL_RANKS = ("linear", *_DENSITY)


def merge_adapters(lib: AdapterLibrary, sources: list[str], method: str, name: str,
                   weights: list[float] | None = None, density: float | None = None,
                   majority_sign_method: str = "total", svd_rank: int | None = None) -> AdapterEntry:
    """Merge library adapters `sources` with `method` and `weights` (default: 1/N each) into adapter `name`."""
    if method not in MERGE_METHODS:
        raise UsageError(f"unknown merge method {method!r}; choose one of {', '.join(MERGE_METHODS)}")
    if len(sources) < 1 or len(set(sources)) != len(sources):
        raise UsageError("name one or more distinct adapters to merge")
    entries = [lib.get(s) for s in sources]
    if name in lib.entries:
        raise UsageError(f"{lib.path} already has an adapter named {name!r}; pass another --name")
    weights = list(weights) if weights is not None else [1.0 / len(sources)] * len(sources)
    if len(weights) != len(sources):
        raise UsageError(f"{len(weights)} weight(s) for {len(sources)} adapter(s)")
    if method in _EQUAL_RANKS and len({(e.rank, tuple(e.target_modules)) for e in entries}) > 1:
        raise UsageError(f"{method} needs adapters of one rank and one set of target modules "
                         f"({', '.join(f'{e.name}: r={e.rank} {e.target_modules}' for e in entries)}); use cat or svd")
    if method in _DENSITY:
        density = 0.5 if density is None else density
        if not 0 < density <= 1:
            raise UsageError(f"density must be in (0, 1], got {density}")
    elif density is not None:
        raise UsageError(f"--density applies to {', '.join(_DENSITY)} only")
    if majority_sign_method not in ("total", "frequency"):
        raise UsageError("majority sign method must be 'total' or 'frequency'")
    if method == "linear" and len(sources) > 1 and sum(abs(w) for w in weights) > 1:
        import sys

        print(f"langlock: warning: linear sums the adapters' A and B matrices separately, so the merged update "
              f"(Σ√wᵢBᵢ)(Σ√wⱼAⱼ) holds cross terms Bᵢ·Aⱼ between adapters; with weights summing to "
              f"{sum(abs(w) for w in weights):g} they are large (in the adapter study this broke the model, see "
              f"docs/adapters.md); ties or cat keep each update apart", file=sys.stderr)

    from transformers import AutoModelForCausalLM

    from ..models.adapter import load_adapters

    base = AutoModelForCausalLM.from_pretrained(lib.base_model(), local_files_only=True, trust_remote_code=False)
    model = load_adapters(base, {s: lib.adapter_path(s) for s in sources}, lib.base_model())
    options = {"density": density} if density is not None else {}
    if method in ("ties", "dare_ties"):
        options["majority_sign_method"] = majority_sign_method
    if method == "svd" and svd_rank:
        options["svd_rank"] = svd_rank
    try:
        model.add_weighted_adapter(sources, weights, name, combination_type=method, **options)
    except (ValueError, RuntimeError) as err:
        raise UsageError(f"PEFT refused the {method} merge: {str(err).splitlines()[0][:300]}") from None
    lib.path.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".merge-", dir=lib.path) as tmp:
        model.save_pretrained(tmp, selected_adapters=[name], safe_serialization=True)
        saved = Path(tmp) / name if (Path(tmp) / name / "adapter_config.json").is_file() else Path(tmp)
        langs = sorted({lang for e in entries for lang in e.languages})
        recipe = {"method": method, "sources": sources, "weights": weights, **options}
        return lib.add(saved, name=name, languages=langs, method=f"merge-{method}", base=lib.base_model(),
                       merge=recipe, source=f"{method} merge of {', '.join(sources)} in {lib.path}")
