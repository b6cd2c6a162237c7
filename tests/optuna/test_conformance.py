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


class TestSEKISamplerConformance(BasicSamplerTestCase, RelativeSamplerTestCase, MultiObjectiveSamplerTestCase):
    @pytest.fixture
    def sampler(self) -> Callable[[], BaseSampler]:
        return lambda: SEKISampler(seed=0, use_llm=False, stop_when_exhausted=False)


class TestLAPTSamplerConformance(BasicSamplerTestCase, RelativeSamplerTestCase, MultiObjectiveSamplerTestCase):
    @pytest.fixture
    def sampler(self) -> Callable[[], BaseSampler]:
        return lambda: LAPTSampler(seed=0, use_llm=False, stop_when_exhausted=False)


class TestCoLLMNASSamplerConformance(BasicSamplerTestCase, RelativeSamplerTestCase, MultiObjectiveSamplerTestCase):
    @pytest.fixture
    def sampler(self) -> Callable[[], BaseSampler]:
        return lambda: CoLLMNASSampler(seed=0, use_llm=False, stop_when_exhausted=False)


class TestGPTEASamplerConformance(BasicSamplerTestCase, RelativeSamplerTestCase, MultiObjectiveSamplerTestCase):
    @pytest.fixture
    def sampler(self) -> Callable[[], BaseSampler]:
        return lambda: GPTEASampler(seed=0, use_llm=False, stop_when_exhausted=False)
