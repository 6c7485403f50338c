#!/usr/bin/env bash
# Issue 14's head-to-head (docs/subjects.md §3), every stage in order; run it again to go on where it stopped.
#
#   bash scripts/head_to_head.sh            # every stage: Japanese seeds 0, 1, 2, then Korean; then the reports
#   bash scripts/head_to_head.sh ja 1       # one subject (ja | ko), one seed
#   bash scripts/head_to_head.sh report     # rewrite the reports from the finished evaluations only
#   H2H_STOP_FILE=/tmp/stop bash scripts/head_to_head.sh ja 2   # `touch /tmp/stop` ends it before its next stage
#
# Each stage is a `langlock compare` of a few methods at one seed; compare neither trains nor evaluates a run whose
# evaluation is finished, and results/ keeps the evaluations in git without the weights (results/README.md), so
# the stages resume across sessions. A stage's held-out evaluation (builtin-confusion) runs right after it, while
# the weights it trained are still there. Logs: results/h2h-gemma-it1200-LANG/chain.log (not kept in git).
# Exit status: 0 when every stage asked for finished (or H2H_STOP_FILE ended the run between stages), 2 on bad
# arguments, 1 when a stage failed.
set -uo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1 PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
PY=${PYTHON:-.venv/bin/python}
CFG=configs/subjects/gemma-it1200
# the stages of a seed: one trained method each after the first, so a stop loses at most one training run and each
# is evaluated held out while its weights are there; the methods that train nothing run together, where a stop
# costs nothing (their unfinished evaluations resume in a later session, a trained one's is redone)
JA_STAGES=("base,sft,tlpo" "dpo" "orpo" "lock,fewshot,site" "tbpo-q" "grpo")
KO_STAGES=("base,lock,site" "sft" "tlpo")

compare() {  # compare LANG ARGS...: one compare call, its output logged
    local lang=$1; shift
    local log=results/h2h-gemma-it1200-$lang/chain.log
    mkdir -p "$(dirname "$log")"
    echo "=== $(date -u +%FT%TZ) langlock compare $*" >> "$log"
    "$PY" -m langlock compare "$@" >> "$log" 2>&1
}

subject() {  # subject LANG SEED: every stage of one subject at one seed
    local lang=$1 seed=$2 stages
    if [[ $lang == ja ]]; then stages=("${JA_STAGES[@]}"); else stages=("${KO_STAGES[@]}"); fi
    for methods in "${stages[@]}"; do
        if [[ -n ${H2H_STOP_FILE:-} && -e $H2H_STOP_FILE ]]; then
            echo "$0: $H2H_STOP_FILE exists: stopped before $lang seed $seed stage $methods" >&2; exit 0
        fi
        compare "$lang" --config "$CFG-$lang-head-to-head.yaml" --methods "$methods" --seeds "$seed" || return 1
        if [[ -f $CFG-$lang-head-to-head-heldout.yaml ]]; then
            compare "$lang" --config "$CFG-$lang-head-to-head-heldout.yaml" --methods "$methods" --seeds "$seed" \
                || return 1
        fi
    done
}

report() {
    for lang in ja ko; do
        for c in "$CFG-$lang-head-to-head.yaml" "$CFG-$lang-head-to-head-heldout.yaml"; do
            [[ -f $c ]] && compare "$lang" --config "$c" --report-only
        done
    done
    return 0
}

case "${1:-all}" in
    all) for s in 0 1 2; do subject ja "$s" || exit 1; done
         for s in 0 1 2; do subject ko "$s" || exit 1; done
         report ;;
    ja|ko) [[ ${2:-} =~ ^[0-9]+$ ]] || { echo "$0: usage: $0 [all | report | ja SEED | ko SEED]" >&2; exit 2; }
           subject "$1" "$2" || exit 1 ;;
    report) report ;;
    *) echo "$0: usage: $0 [all | report | ja SEED | ko SEED]" >&2; exit 2 ;;
esac
