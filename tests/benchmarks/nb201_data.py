"""The NAS-Bench-201 data the benchmarks share: the CIFAR-10 table and the prefilled
histories (distinct cells in a fixed random order, every ``FAIL_EVERY``-th trial failed),
as core observations, as Optuna trials and as a prefilled study."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import optuna
from optuna.distributions import CategoricalDistribution
from optuna.trial import TrialState as OptunaTrialState

from llmnas import Observation
from llmnas.benchmarks.tables import NB201_EDGES, NB201_OPS, NasBench201Table
from llmnas.history import TrialState

__all__ = ["DISTRIBUTIONS", "FAIL_EVERY", "frozen_trials", "nb201_table", "observations", "prefilled_study"]

FAIL_EVERY = 50
"""Every 50th trial of the prefilled history failed (failures have their own prompt block)."""
DISTRIBUTIONS = {edge: CategoricalDistribution(list(NB201_OPS)) for edge in NB201_EDGES}
"""The Optuna distributions of the six edges."""


@functools.lru_cache(maxsize=1)
def nb201_table() -> NasBench201Table:
    """The CIFAR-10 table, loaded once (``FileNotFoundError`` when the data is absent)."""
    return NasBench201Table("cifar10")


@functools.lru_cache(maxsize=1)
def _order() -> tuple[int, ...]:
    """The cells of the prefilled histories, in order (the first N make a history of N)."""
    return tuple(int(i) for i in np.random.default_rng(0).permutation(len(nb201_table())))


def _failed(k: int) -> bool:
    return k % FAIL_EVERY == FAIL_EVERY - 1


@functools.lru_cache(maxsize=None)
def observations(n: int) -> tuple[Observation, ...]:
    """The first ``n`` trials of the prefilled history, as core observations."""
    table = nb201_table()
    out = []
    for k, index in enumerate(_order()[:n]):
        config = table.config_of_index(index)
        if _failed(k):
            out.append(Observation(config, None, TrialState.FAILED, trial_id=k))
        else:
            out.append(Observation(config, (table.objective(config),), trial_id=k))
    return tuple(out)


@functools.lru_cache(maxsize=None)
def frozen_trials(n: int) -> tuple[optuna.trial.FrozenTrial, ...]:
    """The same ``n`` trials as Optuna trials."""
    out = []
    for obs in observations(n):
        if obs.state == TrialState.FAILED:
            out.append(optuna.trial.create_trial(state=OptunaTrialState.FAIL, params=dict(obs.config),
                                                 distributions=DISTRIBUTIONS))
        else:
            out.append(optuna.trial.create_trial(params=dict(obs.config), distributions=DISTRIBUTIONS,
                                                 value=obs.value))
    return tuple(out)


def prefilled_study(n: int, sampler: optuna.samplers.BaseSampler, storage: Any = None) -> optuna.Study:
    """A maximizing study of ``sampler`` (on ``storage``, default in memory) holding the first
    ``n`` trials."""
    study = optuna.create_study(direction="maximize", sampler=sampler, storage=storage)
    study.add_trials(frozen_trials(n))
    return study
