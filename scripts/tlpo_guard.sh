#!/usr/bin/env bash
# The guarded TLPO measurement (docs/tlpo.md, "Validity guard"): SmolLM2-135M-Instruct, Korean, the 40-step recipe
# trained with and without `validity_guard`, then base, checkpoint 10 and step 40 of both arms evaluated
# identically on the benchmark's cross-lingual ko prompts (configs/compare/smollm2-ko-tlpo-guard.yaml).
#
#   bash scripts/tlpo_guard.sh seed 0        # train seed 0 without, then with the guard; evaluate all of seed 0
#   bash scripts/tlpo_guard.sh train 1 guard # one training run (arm: noguard | guard)
#   bash scripts/tlpo_guard.sh eval 1        # the five evaluations of seed 1
#   bash scripts/tlpo_guard.sh report        # compare.md of every folder and the paired deltas (seeds done so far)
#
# Seed-major, so an interrupted measurement is balanced between the arms; every stage skips what is finished
# (a finished training run, a cached evaluation). LANGLOCK overrides the command (default: langlock).
# Seeds can run in parallel (`seed 1 & seed 2 &`): their trainings are independent, and their evaluations, which
# write the same compare folders, take turns (flock on runs/.tlpo-guard-eval.lock; compare's own run lock would
# refuse the second writer).
# One thread per job (OMP_NUM_THREADS=1, the config's threads: 1); run it in the background:
#   nohup bash -c 'for s in 0 1 2; do bash scripts/tlpo_guard.sh seed $s; done; bash scripts/tlpo_guard.sh report' \
#     > runs/tlpo-guard.log 2>&1 &
{
set -euo pipefail
export OMP_NUM_THREADS=1
LANGLOCK=${LANGLOCK:-langlock}
RECIPE=configs/tlpo/smollm2-135m-instruct_ko.yaml
CONFIG=configs/compare/smollm2-ko-tlpo-guard.yaml
OUT=runs/compare-smollm2-ko-tlpo-guard          # base + guarded step 40 (the config's output_dir)

train_dir() {  # arm seed
  if [ "$1" = guard ]; then echo "runs/tlpo-smollm2-135m-ko-guard/seed$2"; else echo "runs/tlpo-smollm2-135m-ko/seed$2"; fi
}

train() {  # seed arm
  local extra=""
  [ "$2" = guard ] && extra="validity_guard=true"
  echo "== train seed $1 $2 ($(date +%T))"
  $LANGLOCK train tlpo --config "$RECIPE" seed="$1" output_dir="$(train_dir "$2" "$1")" $extra
}

evaluate() {  # seed
  local s=$1
  echo "== evaluate seed $s ($(date +%T))"
  # base and the guarded model at step 40
  $LANGLOCK compare --config "$CONFIG" --seeds "$s"
  # the guarded model at checkpoint 10, the unguarded one at step 40 and at checkpoint 10
  $LANGLOCK compare --config "$CONFIG" --seeds "$s" --methods tlpo \
    --checkpoint "tlpo=runs/tlpo-smollm2-135m-ko-guard/seed{seed}/checkpoint-10" -o "$OUT-step10"
  $LANGLOCK compare --config "$CONFIG" --seeds "$s" --methods tlpo \
    --checkpoint "tlpo=runs/tlpo-smollm2-135m-ko/seed{seed}/model" -o "$OUT-noguard"
  $LANGLOCK compare --config "$CONFIG" --seeds "$s" --methods tlpo \
    --checkpoint "tlpo=runs/tlpo-smollm2-135m-ko/seed{seed}/checkpoint-10" -o "$OUT-noguard-step10"
}

report() {
  $LANGLOCK compare --config "$CONFIG" --report-only
  for d in step10 noguard noguard-step10; do
    $LANGLOCK compare --config "$CONFIG" --methods tlpo --report-only -o "$OUT-$d"
  done
  local py=${PYTHON:-python}
  for d in "" -step10 -noguard -noguard-step10; do
    echo "## tlpo${d:-" (guard, step 40)"} minus base"
    $py scripts/paired_delta.py "$OUT" --method-dir "$OUT$d"
  done
  echo "## guard minus no guard, step 40"
  $py scripts/paired_delta.py "$OUT-noguard" --base-method tlpo --method-dir "$OUT"
  echo "## guard minus no guard, checkpoint 10"
  $py scripts/paired_delta.py "$OUT-noguard-step10" --base-method tlpo --method-dir "$OUT-step10"
}

case "${1:-}" in
  # each stage re-reads this file (a fresh bash), so it can be fixed while an earlier stage runs
  seed) bash "$0" train "$2" noguard; bash "$0" train "$2" guard; bash "$0" eval "$2" ;;
  train) train "$2" "$3" ;;
  eval) mkdir -p runs; exec 9> runs/.tlpo-guard-eval.lock; flock 9; evaluate "$2" ;;
  report) report ;;
  *) echo "usage: $0 seed S | train S noguard|guard | eval S | report" >&2; exit 2 ;;
esac
exit 0
}
