"""The runnable examples in the NNI adapter's docstrings run (real NNI engines, NAS-Bench-201
look-ups in place of training)."""

from __future__ import annotations

import doctest
import importlib

import pytest


@pytest.mark.parametrize("name", [
    "nni_llm_strategies._space", "nni_llm_strategies._strategy", "nni_llm_strategies.benchmarks",
    "nni_llm_strategies.strategies",
])
def test_docstring_examples_run(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"{name} has no docstring example"
    assert result.failed == 0
