"""Optuna's own reusable sampler test suites, run against every sampler (no LLM: mechanics only).

The suites expect ``n_trials`` to be met even on a 3-value space, so the sampler runs with
``stop_when_exhausted=False`` here (the stop itself is tested in ``test_spaces.py``).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from optuna.samplers import BaseSampler
from optuna.testing.pytest_samplers import (
    BasicSamplerTestCase,
    MultiObjectiveSamplerTestCase,
    RelativeSamplerTestCase,
)

from optuna_llm_samplers import CoLLMNASSampler, GPTEASampler, LAPTSampler, SEKISampler

SAMPLERS = [SEKISampler, LAPTSampler, CoLLMNASSampler, GPTEASampler]


class TestSamplerConformance(BasicSamplerTestCase, RelativeSamplerTestCase, MultiObjectiveSamplerTestCase):
    """Every suite once per sampler class (the test ids end in the class name)."""

    @pytest.fixture(params=SAMPLERS, ids=lambda cls: cls.__name__)
    def sampler(self, request: pytest.FixtureRequest) -> Callable[[], BaseSampler]:
        sampler_class = request.param
        return lambda: sampler_class(seed=0, use_llm=False, stop_when_exhausted=False)
