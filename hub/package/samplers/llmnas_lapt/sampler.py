"""LAPT (arXiv 2408.11330) as an OptunaHub package.

The sampler is the one of the ``llmnas`` distribution (``pip install "llmnas[optuna]"``, see
``requirements.txt``); this package re-exports it so that ``optunahub.load_module`` gives the
same class as ``from optuna_llm_samplers import LAPTSampler``.
"""

from __future__ import annotations

from optuna_llm_samplers import LAPTSampler

__all__ = ["LAPTSampler"]
