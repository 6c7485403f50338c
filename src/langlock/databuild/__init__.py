"""Training-data builders (the TLPO data pipeline, tlpo-and-lcb-spec §3), one module per step.

- `prompts`: filter a prompt pool (rules documented there, configurable);
- `sample`: N completions per prompt from a model, resumable and appending;
- `pairs`: detector verdicts → DPO/ORPO/TBPO pairs, SFT data and prompt-only data, seeded.

(`langlock.data` holds package data files; the code lives here.) Nothing heavy is imported here.
"""
