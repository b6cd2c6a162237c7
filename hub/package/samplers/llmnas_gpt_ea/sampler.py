"""GPT-EA (arXiv 2305.05351) as an OptunaHub package.

The sampler is the one of the ``llmnas`` distribution (``pip install "llmnas[optuna]"``, see
``requirements.txt``); this package re-exports it so that ``optunahub.load_module`` gives the
same class as ``from optuna_llm_samplers import GPTEASampler``.
"""

from __future__ import annotations

from optuna_llm_samplers import GPTEASampler

__all__ = ["GPTEASampler"]
