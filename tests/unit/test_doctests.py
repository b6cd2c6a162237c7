"""The runnable examples in the docstrings run (each public class documents one)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import llmnas

MODULES = sorted(m.name for m in pkgutil.walk_packages(llmnas.__path__, "llmnas."))
"""Every module of the core (the host packages' examples run in tests/optuna and tests/nni)."""
HAVE_EXAMPLES = {
    "llmnas.space", "llmnas.history", "llmnas.knowledge", "llmnas.searcher", "llmnas.screening",
    "llmnas.methods.seki", "llmnas.methods.gpt_ea", "llmnas.methods.lapt", "llmnas.methods.collm_nas",
    "llmnas.llm.resolve", "llmnas.benchmarks.digits", "llmnas.benchmarks.tables", "llmnas.benchmarks._lookup",
    "llmnas.benchmarks.macro", "llmnas.benchmarks.transnas", "llmnas.benchmarks.graph",
    "llmnas.benchmarks.registry", "llmnas.app.runner", "llmnas.app.report", "llmnas.app.records",
    "llmnas.app.contenders",
}
"""Modules with public classes, each of which documents a runnable example."""


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    if name in HAVE_EXAMPLES:
        assert result.attempted > 0, f"{name} has no docstring example"
    assert result.failed == 0
