"""What a `langlock compare` method is besides its weights: its decoding and its cost.

- Decoding (`decoding_for`): the per-language parts of the evaluation plan's `langlock.evaluate.Decoding`, for
  the target language only — ``lock``: a LanguageLock (``lock_options``); ``site``: the SITE steering file
  fitted for the seed (`fit_site`); ``fewshot``: N of langlock's own demonstrations before each prompt
  (`langlock.fewshot.demonstration_turns`, the examples SITE builds its embedding from; never evaluation
  prompts). Every other method decodes plainly. The evaluation code knows none of the methods.
- Fitting (`fit_site`, the ``site`` method's training stage): `langlock.steer.fit_steer` with the seed, into
  ``runs/site/seedN/steer-LANG.safetensors`` (or ``checkpoints.site``, "{seed}" filled in, fitted elsewhere);
  a finished file is reused when it was fitted with these settings and refused otherwise.
- Cost (`run_cost`): trainable parameters (LoRA: the adapter's stored tensors; full fine-tuning: the model's;
  SITE: its L x H selection logits; base / lock / fewshot: 0) and the seconds spent training or fitting (the
  run manifest's ``runtime_s``; SITE: embedding + fit), read from the files, so a report rewritten later has
  them too (a run kept without its weights: the manifest's ``trainable_params``).
"""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError, UsageError
from .config import LOCKED, UNTRAINED, CompareConfig, run_dir, say

#: defaults of ``method_args.site`` (a CPU-sized fit; the paper: 10 shots, 50 prompts, 400 steps, first token)
#: ``examples``: "builtin" (langlock's own demonstrations, `langlock.fewshot.demonstrations`), "data" (the compare's
#: shared training data: its target-language SFT rows, `compare.data.site_examples`) or a JSONL file of
#: {"prompt", "answer"}
SITE_DEFAULTS = {"shots": 5, "num_prompts": 20, "steps": 100, "loss": "first", "lr": 0.2, "examples": "builtin"}
#: defaults of ``method_args.fewshot``
FEWSHOT_DEFAULTS = {"shots": 5}


def site_args(cfg: CompareConfig) -> dict:
    return {**SITE_DEFAULTS, **(cfg.method_args.get("site") or {})}


def loss_tokens(loss) -> int:
    """``method_args.site.loss``: "first" (the first answer token) or k >= 1 (the first k answer tokens)."""
    if loss == "first":
        return 1
    if isinstance(loss, int) and not isinstance(loss, bool) and loss >= 1:
        return loss
    raise UsageError(f"method_args.site.loss: 'first' or an integer k >= 1, got {loss!r}")


def steer_path(cfg: CompareConfig, seed: int) -> Path:
    """The ``site`` steering file of `seed`: fitted elsewhere (``checkpoints.site``) or under the run folder."""
    if "site" in cfg.checkpoints:
        return Path(str(cfg.checkpoints["site"]).replace("{seed}", str(seed))).expanduser()
    return run_dir(cfg, "site", seed) / f"steer-{cfg.language}.safetensors"


def site_examples_file(cfg: CompareConfig) -> str | None:
    """The examples file SITE is fitted on (None: langlock's own demonstrations); see ``SITE_DEFAULTS``."""
    from .data import site_examples_path

    examples = site_args(cfg)["examples"]
    if examples == "builtin":
        return None
    if examples == "data":
        return str(site_examples_path(cfg))
    if not isinstance(examples, str) or not examples.strip():
        raise UsageError(f"method_args.site.examples: 'builtin', 'data' or a JSONL file, got {examples!r}")
    return examples


def _fit_settings(cfg: CompareConfig, seed: int) -> dict:
    a = site_args(cfg)
    return {"shots": a["shots"], "num_prompts": a["num_prompts"], "steps": a["steps"],
            "loss_tokens": loss_tokens(a["loss"]), "lr": float(a["lr"]), "seed": seed,
            "examples": site_examples_file(cfg) or "langlock.fewshot.demonstrations"}


def fit_site(cfg: CompareConfig, seed: int, data_dir=None) -> Path:
    """The ``site`` method's steering file for `seed`, fitted now unless it is there. `data_dir`: a callable that
    returns the shared training data's folder (building it when needed), for ``examples: data``."""
    from ..steer.file import load_steer_file

    path = steer_path(cfg, seed)
    if "site" in cfg.checkpoints:
        if not path.is_file():
            raise InputError(f"checkpoints.site for seed {seed}: {path} is not a file")
        return path
    want = _fit_settings(cfg, seed)
    if path.is_file():
        have = load_steer_file(path).meta.get("settings", {})
        if any(have.get(k) != v for k, v in want.items()):
            found = {k: have.get(k) for k in want}
            raise UsageError(f"{path} was fitted with other settings ({found}, not {want}); use another output_dir")
        return path
    from ..steer.fit import SteerFitConfig, fit_steer

    del want["examples"]  # the settings' record of it; the fit takes the file (None: langlock's own)
    if cfg.site_on_data:
        from .data import site_examples

        pairs = data_dir() if data_dir is not None else None
        if pairs is None:
            raise UsageError("method_args.site.examples: data needs the shared training data, which was not built")
        site_examples(cfg, pairs)
    fit_steer(SteerFitConfig(model=str(cfg.model), language=cfg.language, output=str(path), dtype=cfg.dtype,
                             device=cfg.device, threads=cfg.threads,
                             examples=site_examples_file(cfg), **want))
    fit = load_steer_file(path).meta["fit"]
    say(f"fitted site seed {seed}: {want['steps']} steps, {fit['embed_seconds'] + fit['fit_seconds']:.0f} s, "
        f"loss {fit['eval_loss_unsteered']} unsteered -> {fit['eval_loss_fitted']} fitted")
    return path


#: methods whose artefact is produced by the training stage without a training run
FITS = {"site": fit_site}


def decoding_for(cfg: CompareConfig, method: str, seed: int) -> dict:
    """`langlock.evaluate.Decoding` fields (locks, steer, shots) of `method` at `seed`, for the target language."""
    lang = cfg.language
    return {"locks": {lang: dict(cfg.lock_options)} if method in LOCKED else {},
            "steer": {lang: str(steer_path(cfg, seed))} if method == "site" else {},
            "shots": {lang: int((cfg.method_args.get("fewshot") or {}).get("shots", FEWSHOT_DEFAULTS["shots"]))}
            if method == "fewshot" else {}}


def stored_parameters(model_dir: Path) -> int | None:
    """Parameters stored in a trained run's model folder: its LoRA adapter's tensors, else the full model's
    (from the safetensors headers; None when there is no safetensors file)."""
    from ..adapters.library import parameter_count

    adapter = model_dir / "adapter_model.safetensors"
    files = [adapter] if adapter.is_file() else sorted(model_dir.glob("*.safetensors"))
    return parameter_count(files) if files else None


def run_cost(cfg: CompareConfig, method: str, seed: int, model: str | None = None) -> dict:
    """``trainable_params`` and ``train_seconds`` of `method` at `seed` (None where the files do not say)."""
    from ..results import read_results
    from ..steer.file import load_steer_file

    if method == "site":
        path = steer_path(cfg, seed)
        if not path.is_file():
            return {"trainable_params": None, "train_seconds": None}
        f = load_steer_file(path)
        fit = f.meta.get("fit", {})
        secs = (fit.get("embed_seconds") or 0) + (fit.get("fit_seconds") or 0) if "fit_seconds" in fit else None
        return {"trainable_params": int(f.logits.numel()), "train_seconds": secs}
    if method in UNTRAINED:
        return {"trainable_params": 0, "train_seconds": 0.0}
    model_dir = Path(model) if model else run_dir(cfg, method, seed) / "model"
    manifest = model_dir.parent / "results.json"
    run = read_results(manifest, kinds=("train",)) if manifest.is_file() else {}
    # the weights' own count; a run kept without its weights: the count its manifest recorded
    params = stored_parameters(model_dir) if model_dir.is_dir() else run.get("trainable_params")
    return {"trainable_params": params, "train_seconds": run.get("runtime_s")}
