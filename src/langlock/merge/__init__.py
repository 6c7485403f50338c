"""Model merging without loading whole models: layer swapping, model soup, TIES, LoRA folding, analysis.

Layout (one concept per module):

- `io`: safetensors checkpoints read one tensor at a time (header parsing + `os.pread`), and a sharded
  writer that streams each output tensor straight into its shard (the layout is planned before any tensor
  is read), inside a temporary directory renamed into place only on success.
- `plan`: validation of the inputs (configs, tensor names, shapes, tokenizers) and the per-tensor plan
  that names the source models and weights of every output tensor; `execute` runs a plan.
- `layer_swap`, `soup`, `ties`: pure functions for the maths (zone weights, weighted averages, trimming,
  sign election, disjoint merge).
- `analyze`: per-layer, per-module relative change of experts against their base and a suggested (b, u).
- `mergekit_export`: the equivalent mergekit YAML (emitted only; mergekit is never imported).
- `config`: the YAML config with strict keys.

Nothing heavy is imported here: numpy only, torch/transformers/peft only inside `apply_adapter`.
"""
