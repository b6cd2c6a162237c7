"""What has been tried: observations of finished (and running) trials, and their ranking.

The hosts fill a :class:`History` from their own records (NNI engine events, Optuna
storage); methods read it. Ranking follows the study's directions: single-objective studies
rank by the objective (maximize or minimize), multi-objective ones by Pareto front. Feasible
trials rank above infeasible ones, complete above pruned; failed trials are never ranked but
count as tried, so they are not proposed again.

Example:
    >>> h = History(directions=("minimize",))
    >>> h.add(Observation({"x": 1}, (0.5,)))
    >>> h.add(Observation({"x": 2}, (0.2,)))
    >>> h.best().config
    {'x': 2}
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any, Iterable, Iterator, Mapping, Sequence

from .space import Config, SearchSpace

DIRECTIONS = ("maximize", "minimize")


class TrialState(str, Enum):
    """The state of a trial as the method sees it."""

    COMPLETE = "complete"
    PRUNED = "pruned"
    FAILED = "failed"
    RUNNING = "running"


@dataclass(frozen=True)
class Observation:
    """One trial: its configuration, objective value(s), state and extra metrics.

    A non-finite objective value (NaN, inf) turns a COMPLETE or PRUNED observation into a
    FAILED one: it carries no usable signal.

    Attributes:
        config: the configuration, host-typed.
        values: objective values (one per direction), ``None`` when failed or running.
        state: see :class:`TrialState`.
        metrics: extra metrics the host reported (params, FLOPs, latency, test accuracy...).
        feasible: ``False`` when a constraint was violated.
        trial_id: the host's trial/model number, for logs.
    """

    config: Config
    values: tuple[float, ...] | None = None
    state: TrialState = TrialState.COMPLETE
    metrics: Mapping[str, Any] = field(default_factory=dict)
    feasible: bool = True
    trial_id: Any = None

    def __post_init__(self) -> None:
        values = self.values
        if values is not None and not isinstance(values, tuple):
            values = (values,) if isinstance(values, (int, float)) else tuple(values)
            object.__setattr__(self, "values", tuple(float(v) for v in values))
        if self.state in (TrialState.COMPLETE, TrialState.PRUNED):
            if self.values is None or not all(math.isfinite(v) for v in self.values):
                object.__setattr__(self, "state", TrialState.FAILED)

    @property
    def value(self) -> float | None:
        """The first objective value (the only one in single-objective studies)."""
        return self.values[0] if self.values else None

    @property
    def usable(self) -> bool:
        """Whether it carries an objective value to learn from (complete or pruned)."""
        return self.state in (TrialState.COMPLETE, TrialState.PRUNED)

    def to_json(self, space: SearchSpace | None = None) -> dict[str, Any]:
        config = space.encode(self.config) if space is not None else dict(self.config)
        return {
            "config": config,
            "values": list(self.values) if self.values is not None else None,
            "state": self.state.value,
            "metrics": {k: v for k, v in self.metrics.items() if _jsonable(v)},
            "feasible": self.feasible,
            "trial_id": self.trial_id if _jsonable(self.trial_id) else str(self.trial_id),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Observation":
        values = data.get("values")
        return cls(
            config=dict(data["config"]),
            values=tuple(values) if values is not None else None,
            state=TrialState(data.get("state", "complete")),
            metrics=dict(data.get("metrics") or {}),
            feasible=bool(data.get("feasible", True)),
            trial_id=data.get("trial_id"),
        )


def _jsonable(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool, type(None)))


class History:
    """Observations of one study, in the order they finished, with ranking helpers.

    Args:
        observations: initial observations.
        directions: one ``"maximize"`` or ``"minimize"`` per objective.
        names: optional objective names for prompts (e.g. Optuna's ``study.metric_names``).
    """

    def __init__(
        self, observations: Iterable[Observation] = (), directions: Sequence[str] = ("maximize",),
        names: Sequence[str] | None = None,
    ) -> None:
        directions = tuple(directions)
        if names is not None and len(names) != len(directions):
            raise ValueError(f"names must give one name per objective ({len(directions)}), got {list(names)!r}.")
        self.names = tuple(str(n) for n in names) if names is not None else None
        if not directions or any(d not in DIRECTIONS for d in directions):
            raise ValueError(f"directions must be a non-empty list of {DIRECTIONS}, got {directions!r}.")
        self.directions = directions
        self._observations: list[Observation] = []
        self._rank_cache: list[Observation] | None = None
        self._rank_position: dict[int, int] | None = None
        for obs in observations:
            self.add(obs)

    def add(self, observation: Observation) -> None:
        if observation.values is not None and observation.usable:
            if len(observation.values) != len(self.directions):
                raise ValueError(
                    f"observation has {len(observation.values)} values for "
                    f"{len(self.directions)} objectives"
                )
        self._observations.append(observation)
        self._rank_cache = None
        self._rank_position = None

    def __len__(self) -> int:
        return len(self._observations)

    def __iter__(self) -> Iterator[Observation]:
        return iter(self._observations)

    def __getitem__(self, index: int) -> Observation:
        return self._observations[index]

    @property
    def multi_objective(self) -> bool:
        return len(self.directions) > 1

    @property
    def usable(self) -> list[Observation]:
        """Observations with objective values (complete or pruned)."""
        return [o for o in self._observations if o.usable]

    @property
    def n_failed(self) -> int:
        return sum(o.state == TrialState.FAILED for o in self._observations)

    def signed(self, observation: Observation) -> tuple[float, ...]:
        """Objective values turned so that higher is better for every objective."""
        assert observation.values is not None
        return tuple(v if d == "maximize" else -v for v, d in zip(observation.values, self.directions))

    def ranked(self) -> list[Observation]:
        """Usable observations, best first: feasible before infeasible, complete before
        pruned, then by objective (single) or Pareto front (multi), latest first on ties."""
        if self._rank_cache is None:
            usable = self.usable
            if self.multi_objective:
                fronts = _front_index([self.signed(o) for o in usable])
                score = {id(o): (-f, sum(self.signed(o))) for o, f in zip(usable, fronts)}
            else:
                score = {id(o): self.signed(o) for o in usable}
            order = sorted(
                enumerate(usable),
                key=lambda io: (
                    io[1].feasible,
                    io[1].state == TrialState.COMPLETE,
                    score[id(io[1])],
                    io[0],
                ),
                reverse=True,
            )
            self._rank_cache = [o for _, o in order]
        return list(self._rank_cache)

    def rank_position(self, obs: Observation) -> int:
        """``obs``'s position in :meth:`ranked` (0 = best); ``len(ranked)`` when it is not
        usable or not in this history. Cached with the ranking, so operators that compare many
        observations (tournaments) cost O(1) per comparison."""
        if self._rank_position is None or self._rank_cache is None:
            self.ranked()  # fills the ranking cache
            self._rank_position = {id(o): i for i, o in enumerate(self._rank_cache or [])}
        return self._rank_position.get(id(obs), len(self._rank_position))

    def top(self, k: int) -> list[Observation]:
        return self.ranked()[:k]

    def best(self) -> Observation | None:
        ranked = self.ranked()
        return ranked[0] if ranked else None

    def recent(self, k: int) -> list[Observation]:
        return self._observations[-k:] if k > 0 else []

    def is_better(self, a: Observation, b: Observation | None) -> bool:
        """Whether ``a`` ranks strictly above ``b`` on the objective (single-objective)."""
        if b is None or b.values is None:
            return a.values is not None
        if a.values is None:
            return False
        return self.signed(a) > self.signed(b)

    def direction_text(self) -> str:
        if not self.multi_objective:
            return "higher is better" if self.directions[0] == "maximize" else "lower is better"
        parts = [f"{self.objective_name(i)}: {'higher' if d == 'maximize' else 'lower'} is better"
                 for i, d in enumerate(self.directions)]
        return ("; ".join(parts) + ". Several objectives: scores are listed in this order; an architecture "
                "is better only if no other is at least as good on every objective (Pareto front)")

    def objective_name(self, i: int) -> str:
        return f"objective {i + 1} ({self.names[i]})" if self.names else f"objective {i + 1}"

    def to_json(self, space: SearchSpace | None = None) -> dict[str, Any]:
        return {
            "directions": list(self.directions),
            "observations": [o.to_json(space) for o in self._observations],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], space: SearchSpace | None = None) -> "History":
        observations = []
        for item in data.get("observations", []):
            obs = Observation.from_json(item)
            if space is not None:
                decoded, _ = space.decode(obs.config)
                obs = replace(obs, config={**obs.config, **decoded})
            observations.append(obs)
        return cls(observations, data.get("directions", ("maximize",)))


def _front_index(points: list[tuple[float, ...]]) -> list[int]:
    """Non-dominated sorting (maximizing every coordinate): the front number of each point."""
    n = len(points)
    fronts = [0] * n
    remaining = set(range(n))
    level = 0
    while remaining:
        current = {
            i for i in remaining
            if not any(_dominates(points[j], points[i]) for j in remaining if j != i)
        }
        for i in current:
            fronts[i] = level
        remaining -= current
        level += 1
    return fronts


def _dominates(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return all(x >= y for x, y in zip(a, b)) and any(x > y for x, y in zip(a, b))
