"""LLM-driven neural architecture search as drop-in Optuna samplers.

``SEKISampler`` (and the other method samplers) replace ``TPESampler`` / ``RandomSampler`` /
``NSGAIISampler`` in ``optuna.create_study(sampler=...)``. ``LLMSampler`` drives any method
of the host-agnostic core ``llmnas``; ``StudyKnowledge`` is the knowledge a study shares
(export it, or load a file into a new study).

Example:
    .. code-block:: python

        import optuna
        from optuna_llm_samplers import SEKISampler

        study = optuna.create_study(direction="maximize", sampler=SEKISampler(seed=0))
"""

from __future__ import annotations

import logging

from ._knowledge import StudyKnowledge
from ._sampler import LLMSampler, study_history
from ._space import to_distributions
from .samplers import CoLLMNASSampler, GPTEASampler, LAPTSampler, SEKISampler

__all__ = [
    "CoLLMNASSampler", "GPTEASampler", "LAPTSampler", "LLMSampler", "SEKISampler", "StudyKnowledge", "study_history",
    "to_distributions",
]

logging.getLogger(__name__).addHandler(logging.NullHandler())  # a library: the application configures logging
