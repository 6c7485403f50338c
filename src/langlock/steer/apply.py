"""`Steering`: fitted SITE files (one per language) applied to a Hugging Face model, per batch row.

    steering = Steering(model, [load_steer_file("ko.safetensors"), load_steer_file("de.safetensors")])
    with steering.apply(["ko", "de", None]):   # row languages of the next forward / generate call
        model.generate(...)

Rows whose language has a file are steered with that file's embedding and selection; the others are left
exactly as they are. Every file is checked against the model (`SteerFile.check_model`) and, when the caller
names its prompt format, against the rendering it was fitted with. The `hf` generation core applies a
`Steering` through `DecodeOptions.steer` (rows expanded by the beam count).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

from ..errors import UsageError
from .file import SteerFile
from .hooks import SteerHooks


class Steering:
    def __init__(self, model, files: Sequence[SteerFile], prompt_format: str | None = None,
                 decode_scale: float = 0.0, paths: Sequence[str] = ()):
        if decode_scale < 0:
            raise UsageError(f"decode_scale must be >= 0, got {decode_scale}")
        self.model = model
        self.decode_scale = float(decode_scale)
        self.files: dict[str, SteerFile] = {}
        for i, f in enumerate(files):
            name = paths[i] if i < len(paths) else f.language
            f.check_model(model, name)
            if f.language in self.files:
                raise UsageError(f"two steering files for language {f.language!r}")
            fmt = f.meta.get("prompt_format")
            if prompt_format is not None and fmt != prompt_format:
                raise UsageError(f"steering file {name} was fitted on {fmt!r} prompts; this run renders "
                                 f"{prompt_format!r} prompts")
            self.files[f.language] = f
        dev = next(model.parameters()).device
        self._alpha = {k: f.alpha.to(dev) for k, f in self.files.items()}
        self._vectors = {k: f.embedding.to(dev) for k, f in self.files.items()}

    @property
    def languages(self) -> list[str]:
        return sorted(self.files)

    def describe(self) -> dict:
        return {lang: {"settings": f.meta.get("settings"), "prompt_format": f.meta.get("prompt_format"),
                       "decode_scale": self.decode_scale} for lang, f in sorted(self.files.items())}

    @contextlib.contextmanager
    def apply(self, languages: Sequence[str | None]):
        """Steer the rows of the forward passes inside the block: row i by `languages[i]`'s file."""
        import torch

        rows = [i for i, lang in enumerate(languages) if lang in self.files]
        if not rows:
            yield
            return
        alpha = torch.stack([self._alpha[languages[i]] for i in rows])
        vectors = torch.stack([self._vectors[languages[i]] for i in rows])
        with SteerHooks(self.model) as hooks:
            hooks.set_injection(rows, alpha, vectors, decode_scale=self.decode_scale)
            yield


def load_steering(model, paths: Sequence[str], prompt_format: str | None = None,
                  decode_scale: float = 0.0) -> Steering:
    """`Steering` from file paths (one per language)."""
    from .file import load_steer_file

    return Steering(model, [load_steer_file(p) for p in paths], prompt_format, decode_scale,
                    paths=[str(p) for p in paths])
