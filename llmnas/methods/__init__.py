"""The search methods: each a function of history and knowledge, host-agnostic."""

from .base import Method
from .gpt_ea import GPTEA, LLMPrior, Prior, TransformerPrior, mask_rate
from .lapt import LAPT
from .seki import SEKI

__all__ = ["GPTEA", "LAPT", "LLMPrior", "Method", "Prior", "SEKI", "TransformerPrior", "mask_rate"]
