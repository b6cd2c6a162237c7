"""llmnas: the host-agnostic core of LLM-driven neural architecture search.

The search space model, history, knowledge, the LLM layer, the proposal pipeline, the
methods and the tabular benchmarks. No NNI or Optuna import anywhere in this package: the
host adapters live in ``nni_llm_strategies`` and ``optuna_llm_samplers``.

Logging: every module logs to its own logger under ``llmnas`` (``logging.getLogger(__name__)``);
the package logger has a :class:`logging.NullHandler` and importing the package changes nothing
else (no root-logger handlers or levels, no log-record factory). Configure ``logging`` in your
application to see the messages; the ``llmnas`` command sets up its own handlers.
"""

import logging as _logging

__version__ = "0.1.0"
"""The package version: the single source (``pyproject.toml`` reads it at build time)."""

_logging.getLogger(__name__).addHandler(_logging.NullHandler())

from .history import History, Observation, TrialState  # noqa: E402
from .knowledge import InMemoryKnowledge, KnowledgeStore  # noqa: E402
from .options import SearchOptions  # noqa: E402
from .proposals import Context, PipelineStats, Proposal, Source, SpaceExhausted  # noqa: E402
from .screening import SurrogateScreen  # noqa: E402
from .searcher import Searcher  # noqa: E402
from .space import Categorical, Config, Dimension, Float, Integer, MultiChoice, SearchSpace  # noqa: E402

__all__ = [
    "Categorical", "Config", "Context", "Dimension", "Float", "History", "InMemoryKnowledge",
    "Integer", "KnowledgeStore", "MultiChoice", "Observation", "PipelineStats", "Proposal",
    "SearchOptions", "SearchSpace", "Searcher", "Source", "SpaceExhausted", "SurrogateScreen", "TrialState", "__version__",
]
