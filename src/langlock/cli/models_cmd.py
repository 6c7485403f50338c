"""`langlock models path NAME`: print the local Hugging Face directory of a model, for tools that want a path.

NAME is a packaged short name (smollm2-135m-instruct, gemma3-270m, or the test subject gemma3-270m-it: a LoRA
adapter langlock ships, merged into gemma3-270m once), a .gguf file or a model directory; a GGUF
is converted once into the model cache ($LANGLOCK_CACHE or ~/.cache/langlock/models, or --cache-dir; the
conversion is atomic) and the converted directory is printed. Only the path goes to stdout.

Example:
    lm_eval --model hf --model_args pretrained=$(langlock models path smollm2-135m-instruct) ...
"""

from __future__ import annotations

import argparse


def register(sub) -> None:
    p = sub.add_parser("models", help="local paths of packaged models", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = p.add_subparsers(dest="models_action", metavar="ACTION")
    actions.required = True
    q = actions.add_parser("path", help="print the local directory of a model (converting a GGUF once)",
                           description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    q.add_argument("name", metavar="NAME", help="short name, .gguf file or model directory")
    q.add_argument("--cache-dir", help="converted-model cache (default: $LANGLOCK_CACHE or ~/.cache/langlock/models)")
    q.set_defaults(func=run_path)


def run_path(args) -> int:
    from ..models import resolve_model

    print(resolve_model(args.name, args.cache_dir).resolve())
    return 0
