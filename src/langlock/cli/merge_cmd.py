"""`langlock merge`: layer-swap, soup, ties (streaming, safetensors), apply-adapter, analyze.

Cheap to import: numpy/yaml/torch are imported inside `run`.
"""

from __future__ import annotations

import argparse

from ..errors import UsageError


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("out", nargs="?", metavar="OUT", help="output model directory (built atomically)")
    p.add_argument("-o", "--output", dest="out_opt", metavar="OUT",
                   help="same as OUT (handy after --models A B ...)")
    p.add_argument("--config", help="YAML file with the settings (CLI flags override it)")
    p.add_argument("--dtype", default=None, help="output dtype: auto (keep), float32, float16, bfloat16")
    p.add_argument("--max-shard-size", default=None, help="output shard size (default 2GB)")
    p.add_argument("--dry-run", action="store_true",
                   help="print the per-tensor plan and estimated peak memory; write nothing")
    p.add_argument("--emit-mergekit", metavar="PATH",
                   help="write the equivalent mergekit YAML to PATH ('-' for stdout) instead of merging")
    p.add_argument("--overwrite", action="store_true", help="replace OUT if it exists (after success)")


def register(subparsers) -> None:
    merge = subparsers.add_parser("merge", help="merge models: layer swap, soup, TIES, LoRA, analysis",
                                  description=__doc__.splitlines()[0])
    sub = merge.add_subparsers(dest="merge_command", metavar="METHOD", parser_class=type(merge))
    sub.required = True

    p = sub.add_parser("layer-swap", help="swap the language expert's bottom/top layers into the task expert")
    p.add_argument("--task-expert", help="model whose middle layers are kept")
    p.add_argument("--lang-expert", help="model whose bottom and top layers are swapped in")
    p.add_argument("--bottom", "-b", type=int, help="b: bottom layers from the language expert")
    p.add_argument("--top", "-u", type=int, help="u: top layers from the language expert")
    p.add_argument("--transition-bottom", "--tb", type=int, help="t_b: blended layers above the bottom block")
    p.add_argument("--transition-top", "--tu", type=int, help="t_u: blended layers below the top block")
    p.add_argument("--weights", help="w_task,w_lang: constant transition weights instead of the linear ramp")
    p.add_argument("--non-layer", choices=("average", "task", "lang"),
                   help="source of embeddings, final norm and lm_head (default average)")
    _common(p)
    p.set_defaults(func=run, merge_method="layer-swap", run_dir="out_opt|out|config.output")

    p = sub.add_parser("soup", help="weighted average of N models")
    p.add_argument("--models", nargs="+", help="model directories")
    p.add_argument("--weights", help="comma-separated weights (default uniform; normalised)")
    _common(p)
    p.set_defaults(func=run, merge_method="soup", run_dir="out_opt|out|config.output")

    p = sub.add_parser("ties", help="TIES-merging of experts against their base")
    p.add_argument("--base", help="the pretrained base the experts were fine-tuned from")
    p.add_argument("--models", nargs="+", help="expert model directories")
    p.add_argument("--density", type=float, help="fraction of each task vector kept (default 0.2)")
    p.add_argument("--lambda", dest="lambda_", type=float, help="scale of the merged task vector (default 1)")
    p.add_argument("--trim", choices=("paper", "mergekit"),
                   help="paper: whole-model trimming (default); mergekit: per-tensor trimming")
    p.add_argument("--weights", help="per-expert weights (mergekit trimming only)")
    p.add_argument("--majority", choices=("sum", "count"), help="sign election (mergekit trimming only)")
    p.add_argument("--no-normalize", dest="normalize", action="store_false", default=None,
                   help="do not divide by the agreeing weights (mergekit trimming only)")
    _common(p)
    p.set_defaults(func=run, merge_method="ties", run_dir="out_opt|out|config.output")

    p = sub.add_parser("apply-adapter", help="merge a PEFT LoRA adapter into its base model")
    p.add_argument("base", metavar="BASE")
    p.add_argument("adapter", metavar="ADAPTER")
    p.add_argument("out", metavar="OUT")
    p.add_argument("--dtype", default="auto")
    p.add_argument("--max-shard-size", default="2GB")
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=run, merge_method="apply-adapter", run_dir="out")

    p = sub.add_parser("analyze", help="where each expert changed the base; suggests (b, u)")
    p.add_argument("base", metavar="BASE")
    p.add_argument("experts", metavar="EXPERT", nargs="+", help="language expert first (see --lang-index)")
    p.add_argument("--out", required=True, help="directory for the CSV tables, JSON and heat-map PNG")
    p.add_argument("--top-fraction", type=float, default=0.05, help="share of largest changes counted (0.05)")
    p.add_argument("--lang-index", type=int, default=0, help="which EXPERT is the language expert (0-based)")
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=run, merge_method="analyze", run_dir="out")


def _cli_values(args) -> dict:
    from ..merge.config import parse_weights

    m = args.merge_method
    if args.out and args.out_opt and args.out != args.out_opt:
        raise UsageError(f"two outputs given: {args.out} and {args.out_opt}")
    vals = {"output": args.out_opt or args.out, "dtype": args.dtype, "max_shard_size": args.max_shard_size,
            "weights": parse_weights(args.weights)}
    if m == "layer-swap":
        vals.update(task_expert=args.task_expert, lang_expert=args.lang_expert, bottom=args.bottom, top=args.top,
                    transition_bottom=args.transition_bottom, transition_top=args.transition_top,
                    non_layer=args.non_layer)
    elif m == "soup":
        vals.update(models=args.models)
    else:
        vals.update({"base": args.base, "models": args.models, "density": args.density, "lambda": args.lambda_,
                     "trim": args.trim, "majority": args.majority, "normalize": args.normalize})
    return vals


def run(args) -> int:
    m = args.merge_method
    if m == "apply-adapter":
        from ..merge.apply_adapter import apply_adapter

        apply_adapter(args.base, args.adapter, args.out, args.dtype, args.overwrite, args.max_shard_size)
        print(f"wrote {args.out}")
        return 0
    if m == "analyze":
        from ..merge.analyze import analyze, format_table, write_outputs

        res = analyze(args.base, args.experts, args.top_fraction, args.lang_index)
        print(format_table(res))
        write_outputs(res, args.out, args.overwrite)
        print(f"wrote {args.out}/analysis_layers.csv, analysis_modules.csv, analysis.json, analysis.png")
        return 0

    from ..merge.run import run_merge

    print(run_merge(m, args.config, _cli_values(args), overwrite=args.overwrite, dry_run=args.dry_run,
                    emit_mergekit=args.emit_mergekit))
    return 0
