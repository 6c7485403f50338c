"""`langlock steer fit`: fit a SITE language steering (task embedding + soft head selection) for one model and
one answer language, written as one small safetensors file (`langlock.steer`).

The demonstrations (prompt + answer in the target language) are `--examples FILE` (JSONL lines
``{"prompt": ..., "answer": ...}``) or langlock's own examples for the language (`langlock.fewshot`), never
evaluation prompts. Prompts are rendered like inference renders them (chat template, or ``Q:/A:`` for models
without one). Apply the file with `langlock bench --steer FILE ...`.

Examples:
    langlock steer fit --model smollm2-135m-instruct --lang ko -o steer/smol-ko.safetensors
    langlock steer fit --model smollm2-135m-instruct --lang de --loss 4 --steps 200 -o steer/smol-de.safetensors
"""

from __future__ import annotations

import argparse


def _loss(value: str) -> int:
    if value == "first":
        return 1
    try:
        k = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected 'first' or a number of answer tokens, got {value!r}") from None
    if k < 1:
        raise argparse.ArgumentTypeError(f"the number of answer tokens must be >= 1, got {k}")
    return k


def register(sub) -> None:
    p = sub.add_parser("steer", help="SITE: steer the answer language with a task embedding (fit a file)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ss = p.add_subparsers(dest="steer_command", metavar="STEP", parser_class=type(p))
    ss.required = True
    f = ss.add_parser("fit", help="build the language's task embedding and fit the head selection",
                      description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    f.add_argument("--model", required=True, help="HF model directory or short name (smollm2-135m-instruct...)")
    f.add_argument("--lang", required=True, help="the answer language (e.g. ko)")
    f.add_argument("--examples", metavar="FILE", help="JSONL of {\"prompt\", \"answer\"} demonstrations "
                                                      "(default: langlock's own examples for --lang)")
    f.add_argument("--shots", type=int, default=10, help="demonstrations per embedding prompt (default 10)")
    f.add_argument("--num-prompts", type=int, default=50, help="embedding prompts averaged (default 50)")
    f.add_argument("--steps", type=int, default=400, help="selection fit steps, one example each (default 400)")
    f.add_argument("--loss", type=_loss, default=1, metavar="first|K",
                   help="cross-entropy of the first answer token (default) or of the first K answer tokens")
    f.add_argument("--lr", type=float, default=0.2, help="Adam learning rate (default 0.2)")
    f.add_argument("--seed", type=int, default=0)
    f.add_argument("--no-chat-template", dest="chat_template", action="store_const", const=False, default=None,
                   help="render Q:/A: prompts even when the tokenizer has a chat template")
    f.add_argument("--device", default="cpu")
    f.add_argument("--dtype", default="float32", choices=("float32", "bfloat16", "float16", "auto"))
    f.add_argument("--threads", type=int, help="torch CPU threads")
    f.add_argument("--cache-dir", help="converted-model cache")
    f.add_argument("-o", "--output", required=True, help="the steering file to write (.safetensors)")
    f.set_defaults(func=run_fit, run_dir="output")


def run_fit(args) -> int:
    from ..steer.fit import SteerFitConfig, fit_steer

    path = fit_steer(SteerFitConfig(
        model=args.model, language=args.lang, output=args.output, examples=args.examples, shots=args.shots,
        num_prompts=args.num_prompts, steps=args.steps, loss_tokens=args.loss, lr=args.lr, seed=args.seed,
        chat_template=args.chat_template, dtype=args.dtype, device=args.device, cache_dir=args.cache_dir,
        threads=args.threads))
    print(path)
    return 0
