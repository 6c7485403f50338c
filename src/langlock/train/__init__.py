"""Training: TLPO (token-level policy optimisation) and its pure maths.

Import the pieces from their modules (`langlock.train.tlpo_ops`, `tlpo_config`, `tlpo_trainer`); nothing
heavy is imported here.
"""
