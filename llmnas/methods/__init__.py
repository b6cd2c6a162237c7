"""The search methods: each a function of history and knowledge, host-agnostic."""

from .base import Method
from .collm_nas import CoLLMNAS
from .gpt_ea import GPTEA, CorpusPrior, LLMPrior, Prior, TransformerPrior, make_prior, mask_rate
from .lapt import LAPT
from .seki import SEKI

__all__ = [
    "CoLLMNAS", "CorpusPrior", "GPTEA", "LAPT", "LLMPrior", "Method", "Prior", "SEKI", "TransformerPrior",
    "make_prior", "mask_rate",
]
