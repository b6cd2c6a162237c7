"""The search methods: each a function of history and knowledge, host-agnostic."""

from .base import Method
from .seki import SEKI

__all__ = ["Method", "SEKI"]
