"""Baselines for the language-confusion comparison.

- `trl_baselines`: SFT, DPO, ORPO and GRPO built from TRL's own trainers (not re-implemented), with our data
  and, for GRPO, the detector-based reward of `langlock.rewards`.
- `tbpo`: the TokenRatio / TBPO loss maths (Bregman generators, packing, token weights) as pure functions.
- `tbpo_trainer`: `TBPOTrainer`, a `trl.DPOTrainer` subclass that swaps DPO's loss for TBPO's.

Nothing heavy is imported here.
"""
