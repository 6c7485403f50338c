"""LoRA adapters as a modular memory of per-language fixes: a library, routing, merging.

- `library`: `AdapterLibrary`, a directory of LoRA adapters of one base model indexed by ``library.json``
  (base fingerprint, languages, method, rank, the run's measured metrics); wrong bases are refused.
- `route`: which language answers each prompt (``oracle`` | ``requested`` | ``detected``), the request-language
  parser, routing accuracy. The routed generation itself is the generation core's (`generate.hf.HFGenerator`
  with ``adapters=``, one PEFT adapter name per row); `langlock bench --adapters LIB --route MODE` uses it.
- `merge`: new adapters from library adapters through PEFT's `add_weighted_adapter`.
- `study` (+ `study_report`): per-language fixes routed vs merged vs one joint adapter as N languages are
  combined, every (N, variant, rank, seed) cell a resumable unit (`langlock adapters study --config FILE`).

Importing this package imports neither torch nor PEFT.
"""

from __future__ import annotations

from .library import BASE_NAME, AdapterEntry, AdapterLibrary, base_fingerprint
from .route import ROUTES, identify_language, instructed_language, requested_language, routing_report

__all__ = ["BASE_NAME", "ROUTES", "AdapterEntry", "AdapterLibrary", "base_fingerprint", "identify_language",
           "instructed_language", "requested_language", "routing_report"]
