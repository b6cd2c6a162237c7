"""Optuna distributions ↔ the core's search space, and Optuna's own validity rules.

- :func:`to_dimension` / :func:`to_search_space`: ``CategoricalDistribution`` →
  :class:`~llmnas.space.Categorical`, ``IntDistribution`` → :class:`~llmnas.space.Integer`,
  ``FloatDistribution`` → :class:`~llmnas.space.Float` (``step`` and ``log`` kept; infinite
  bounds raise ``ValueError``); any other distribution raises ``TypeError``. Continuous, log
  and very wide ranges are searched by the method too: the LLM writes numbers (snapped to a
  ``step`` grid), the evolutionary operators perturb them.
- :func:`known_distributions`: the study's known space, the union of the distributions its
  trials used (define-by-run spaces grow; a name keeps its latest definition).
- :func:`value_problems` / :func:`make_validator`: Optuna does not validate what a sampler
  returns from ``sample_independent``, so every value is checked here with the
  distribution's own ``_contains(to_internal_repr(value))``.
- :func:`enumerate_configs`: re-exported from :mod:`llmnas.untried` (where the searcher uses it).

Example:
    >>> from optuna.distributions import CategoricalDistribution, IntDistribution
    >>> space = to_search_space({"op": CategoricalDistribution(["conv", "pool"]),
    ...                          "depth": IntDistribution(1, 4)})
    >>> space.names, space.size()
    (['op', 'depth'], 8.0)
    >>> value_problems("depth", IntDistribution(1, 4), 9)
    ['depth: 9 is outside [1, 4]']
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Sequence

from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from llmnas.space import Categorical, Config, Dimension, Float, Integer, SearchSpace
from llmnas.untried import enumerate_configs  # re-exported: it lived here

if TYPE_CHECKING:
    from optuna.distributions import BaseDistribution
    from optuna.trial import FrozenTrial

__all__ = [
    "SUPPORTED_DISTRIBUTIONS",
    "enumerate_configs",
    "known_distributions",
    "make_validator",
    "to_dimension",
    "to_distributions",
    "to_search_space",
    "value_problems",
]

SUPPORTED_DISTRIBUTIONS = (CategoricalDistribution, IntDistribution, FloatDistribution)


def to_dimension(name: str, distribution: BaseDistribution) -> Dimension:
    """The core dimension for one Optuna distribution; ``TypeError`` for any other kind."""
    if isinstance(distribution, CategoricalDistribution):
        return Categorical(name, list(distribution.choices))
    if isinstance(distribution, IntDistribution):
        return Integer(name, int(distribution.low), int(distribution.high), int(distribution.step), bool(distribution.log))
    if isinstance(distribution, FloatDistribution):
        if not (math.isfinite(distribution.low) and math.isfinite(distribution.high)):
            raise ValueError(
                f"parameter {name!r}: {distribution} has an infinite bound; the LLM samplers (as Optuna's "
                "RandomSampler and TPESampler) need finite bounds: give suggest_float a finite low and high.")
        step = float(distribution.step) if distribution.step is not None else None
        return Float(name, float(distribution.low), float(distribution.high), step, bool(distribution.log))
    raise TypeError(
        f"parameter {name!r}: {type(distribution).__name__} is not supported by the LLM samplers; "
        "use trial.suggest_categorical, suggest_int or suggest_float "
        "(CategoricalDistribution, IntDistribution, FloatDistribution)."
    )


def to_distributions(space: SearchSpace) -> dict[str, BaseDistribution]:
    """Optuna distributions for a core search space (e.g. ``NasBench201Table.space()``): the
    ``search_space=`` of a sampler that should propose the very first trial too.

    >>> from llmnas import Categorical, Integer, SearchSpace
    >>> to_distributions(SearchSpace([Categorical("op", ["a", "b"]), Integer("width", 8, 64, 8)]))
    {'op': CategoricalDistribution(choices=('a', 'b')), 'width': IntDistribution(high=64, log=False, low=8, step=8)}
    """
    out: dict[str, BaseDistribution] = {}
    for dim in space:
        if isinstance(dim, Categorical):
            out[dim.name] = CategoricalDistribution(list(dim.choices))
        elif isinstance(dim, Integer):
            out[dim.name] = IntDistribution(dim.low, dim.high, log=dim.log, step=dim.step)
        elif isinstance(dim, Float):
            out[dim.name] = FloatDistribution(dim.low, dim.high, log=dim.log, step=dim.step)
        else:
            raise TypeError(f"dimension {dim.name!r}: {type(dim).__name__} has no Optuna distribution.")
    return out


def to_search_space(distributions: Mapping[str, BaseDistribution]) -> SearchSpace:
    """The core search space for a ``{name: distribution}`` mapping, in its order (the same
    immutable object for the same mapping: the sampler asks for it a few times per trial)."""
    key = tuple((name, type(dist), repr(dist)) for name, dist in distributions.items())  # repr: True is not 1
    space = _SPACES.get(key)
    if space is None:
        space = SearchSpace(to_dimension(name, dist) for name, dist in distributions.items())
        if len(_SPACES) >= _SPACES_KEPT:
            _SPACES.clear()
        _SPACES[key] = space
    return space


_SPACES: dict[tuple[tuple[str, type, str], ...], SearchSpace] = {}
_SPACES_KEPT = 64


def known_distributions(trials: Iterable[FrozenTrial]) -> dict[str, BaseDistribution]:
    """The union of the distributions used by ``trials`` (in trial order).

    Names come in the order they first appeared; a name whose range changed between trials
    (a dynamic ``suggest_int(..., high=n)``) keeps its latest definition. Optuna's storage
    already refuses incompatible redefinitions (other choices, another kind).
    """
    known: dict[str, BaseDistribution] = {}
    for trial in sorted(trials, key=lambda t: t.number):
        for name, dist in trial.distributions.items():
            known[name] = dist
    return known


def value_problems(name: str, distribution: BaseDistribution, value: Any) -> list[str]:
    """Why ``value`` cannot be used for ``distribution`` (empty when it can): the core's type
    and grid rules, then Optuna's own ``_contains(to_internal_repr(value))``."""
    problems = to_dimension(name, distribution).errors(value)
    if problems:
        return problems
    try:
        internal = distribution.to_internal_repr(value)
        contained = distribution._contains(internal)
    except (ValueError, TypeError) as exc:
        return [f"{name}: {value!r} is not valid for {distribution}: {exc}"]
    if not contained:
        return [f"{name}: {value!r} is not contained in {distribution}"]
    return []


def make_validator(
    distributions: Mapping[str, BaseDistribution],
    extra: Callable[[Config], Sequence[str]] | None = None,
) -> Callable[[Config], list[str]]:
    """A host validator for the core pipeline: every value of a configuration must pass
    :func:`value_problems` for its distribution; ``extra`` adds further host rules."""

    def validate(config: Config) -> list[str]:
        problems: list[str] = []
        for name, value in config.items():
            dist = distributions.get(name)
            if dist is not None:
                problems.extend(value_problems(name, dist, value))
        if not problems and extra is not None:
            problems.extend(extra(config))
        return problems

    return validate
