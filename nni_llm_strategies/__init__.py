"""LLM-driven NAS strategies for NNI 3.0: drop-in replacements for NNI's multi-trial strategies.

>>> from nni_llm_strategies import SEKIStrategy
>>> SEKIStrategy(seed=0, budget=20)
SEKIStrategy(method=SEKI, optimize_mode='maximize', budget=20)

NNI runs the trials, keeps the models and shows them in its web UI; the strategy only
decides what to try next (see :class:`LLMStrategy`).
"""

from __future__ import annotations

import logging
import warnings

# Importing nni.nas under torch >= 2.6 warns that torch's Buffer and LinearCrossEntropyOptions
# "are found to be not a nn.Module": harmless, and not the user's concern.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=r".*is found to be not a nn\.Module", category=RuntimeWarning)
    import nni.nas.nn.pytorch  # noqa: F401  (the import that warns)

    from . import _nni_fixes

    from ._strategy import LLMStrategy
    from .strategies import CoLLMNASStrategy, GPTEAStrategy, LAPTStrategy, SEKIStrategy

_nni_fixes.apply()

__all__ = ["CoLLMNASStrategy", "GPTEAStrategy", "LAPTStrategy", "LLMStrategy", "SEKIStrategy"]

logging.getLogger(__name__).addHandler(logging.NullHandler())  # a library: the application configures logging
