"""llmnas: the host-agnostic core of LLM-driven neural architecture search.

The search space model, history, knowledge, the LLM layer, the proposal pipeline, the
methods and the tabular benchmarks. No NNI or Optuna import anywhere in this package: the
host adapters live in ``nni_llm_strategies`` and ``optuna_llm_samplers``.
"""

from .history import History, Observation, TrialState
from .knowledge import InMemoryKnowledge, KnowledgeStore
from .proposals import Context, PipelineStats, Proposal, SpaceExhausted
from .screening import SurrogateScreen
from .searcher import Searcher
from .space import Categorical, Config, Dimension, Float, Integer, MultiChoice, SearchSpace

__version__ = "0.1.0"

__all__ = [
    "Categorical", "Config", "Context", "Dimension", "Float", "History", "InMemoryKnowledge",
    "Integer", "KnowledgeStore", "MultiChoice", "Observation", "PipelineStats", "Proposal",
    "SearchSpace", "Searcher", "SpaceExhausted", "SurrogateScreen", "TrialState", "__version__",
]
