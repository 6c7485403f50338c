"""`langlock adapters`: a library of LoRA adapters of one base model (see `langlock.adapters.library`).

    langlock adapters add LIB runs/tlpo-ko                 # a langlock run folder (OUT/model + results.json)
    langlock adapters add LIB path/to/lora --language de --name de-sft --method sft   # any PEFT LoRA
    langlock adapters list LIB
    langlock adapters show LIB ko
    langlock adapters merge LIB --sources de,es,fr --method ties --weights 1,1,1 --density 0.5 --name des-ties
    langlock adapters study --config configs/adapters/smollm2-study.yaml   # routed vs merged vs joint, resumable

The library directory is the single source of truth (LIB/library.json + LIB/adapters/NAME/). An adapter of
another base model is refused (exit 2). Route prompts to the adapters with `langlock bench --adapters LIB
--route oracle|requested|detected`.
"""

from __future__ import annotations

import argparse
import json


def _floats(text: str) -> list[float]:
    try:
        return [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"comma-separated numbers expected, got {text!r}") from None


def _names(text: str) -> list[str]:
    return [x.strip() for x in text.split(",") if x.strip()]


def register(sub) -> None:
    p = sub.add_parser("adapters", help="a library of LoRA adapters: add, list, show, merge",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    s = p.add_subparsers(dest="action", metavar="ACTION", parser_class=type(p))
    s.required = True
    a = s.add_parser("add", help="register an adapter (a langlock run folder or a PEFT LoRA directory)")
    a.add_argument("library", help="library directory (created on first add)")
    a.add_argument("adapter", help="a langlock run folder (OUT) or a PEFT LoRA adapter directory")
    a.add_argument("--name", help="name in the library (default: its language(s), else the folder name)")
    a.add_argument("--language", type=_names, help="comma-separated language code(s) the adapter fixes "
                                                   "(default: the run's language)")
    a.add_argument("--method", help="how it was trained (default: the run's method, else 'lora')")
    a.add_argument("--base", help="its base model, when adapter_config.json's base_model_name_or_path is not "
                                  "a local model (checked against the library's base)")
    a.add_argument("--cache-dir", help="converted-model cache")
    a.set_defaults(func=run, run_dir="library")
    ls = s.add_parser("list", help="one line per adapter")
    ls.add_argument("library")
    ls.set_defaults(func=run)
    sh = s.add_parser("show", help="an adapter's full metadata (JSON)")
    sh.add_argument("library")
    sh.add_argument("name")
    sh.set_defaults(func=run)
    m = s.add_parser("merge", help="merge adapters with PEFT's add_weighted_adapter into a new adapter")
    m.add_argument("library")
    m.add_argument("--sources", type=_names, required=True, help="comma-separated adapter names")
    m.add_argument("--method", required=True, choices=("linear", "cat", "ties", "dare_ties", "dare_linear", "svd",
                                                       "magnitude_prune"))
    m.add_argument("--weights", type=_floats, help="comma-separated weights, one per source (default 1/N each)")
    m.add_argument("--density", type=float, help="ties/dare/magnitude_prune: share of each update kept (0.5)")
    m.add_argument("--majority-sign-method", default="total", choices=("total", "frequency"))
    m.add_argument("--svd-rank", type=int, help="svd: rank of the result (default: the largest source rank)")
    m.add_argument("--name", required=True, help="name of the merged adapter")
    m.set_defaults(func=run, run_dir="library")
    st = s.add_parser("study", help="per-language fixes routed, merged (linear, TIES, CAT) or one joint adapter, "
                                    "as N languages are combined; resumable (langlock.adapters.study)")
    st.add_argument("--config", required=True, help="YAML study config (see configs/adapters/)")
    st.add_argument("-o", "--output-dir", help="override the config's output_dir")
    st.add_argument("--report-only", action="store_true", help="only write the report from the finished cells")
    # no folder lock: workers started with the same command share the cells (each cell and step is locked)
    st.set_defaults(func=run, run_dir=None)


def run(args) -> int:
    from ..adapters.actions import run_action

    out = run_action(args.action, vars(args))
    print(out if isinstance(out, str) else json.dumps(out, ensure_ascii=False, indent=2))
    return 0
