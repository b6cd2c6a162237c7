"""The runnable examples in the docstrings run (each public class documents one)."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "llmnas.space", "llmnas.history", "llmnas.knowledge", "llmnas.searcher", "llmnas.screening",
    "llmnas.methods.seki", "llmnas.methods.gpt_ea", "llmnas.methods.lapt", "llmnas.llm.resolve", "llmnas.benchmarks.digits",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"{name} has no docstring example"
    assert result.failed == 0
