"""Fixtures of the benchmarks."""

from __future__ import annotations

import pytest

from llmnas.benchmarks.tables import NasBench201Table
from tests.benchmarks.nb201_data import nb201_table


@pytest.fixture(scope="module")
def table() -> NasBench201Table:
    """The NAS-Bench-201 CIFAR-10 table; the test is skipped where the data is absent."""
    try:
        return nb201_table()
    except FileNotFoundError as exc:  # the data lives outside the repository
        pytest.skip(f"NAS-Bench-201 table not found: {exc}")
