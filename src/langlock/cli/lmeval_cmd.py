"""`langlock lm-eval-path`: print the lm-evaluation-harness include path of langlock's LCB tasks.

Tasks `lcb_monolingual_<lang>`, `lcb_crosslingual_<lang>` and the groups `lcb_language_confusion`,
`lcb_language_confusion_{monolingual,crosslingual}` (the Language Confusion Benchmark, not LiveCodeBench).
They read the test sets `langlock lcb fetch` cached and report LPR/WPR/LCPR of langlock's `lcb` detector.
Needs the `lmeval` extra (`pip install 'langlock[lmeval]'`; `make install` includes it).

Example:
    langlock lcb fetch
    lm_eval --model hf --model_args pretrained=$(langlock models path smollm2-135m-instruct) \\
        --tasks lcb_crosslingual_ko --include_path $(langlock lm-eval-path) --limit 4 --log_samples --output_path out/
    langlock score out/*/samples_lcb_crosslingual_ko_*.jsonl
"""

from __future__ import annotations

import argparse


def register(sub) -> None:
    p = sub.add_parser("lm-eval-path", help="print the lm-eval include path of the LCB tasks", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.set_defaults(func=run)


def run(args) -> int:
    from ..lmeval import include_path

    print(include_path())
    return 0
