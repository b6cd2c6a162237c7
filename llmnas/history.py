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

import bisect
import math
import threading
from dataclasses import dataclass, field, replace
from enum import Enum
from collections.abc import MutableSet, Set
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
        source: where the configuration came from, as the hosts label it
            (:func:`llmnas.provenance.provenance`: ``"llm"``, ``"operator:evolution"``,
            ``"screen"``, ``"fallback"``, ...); ``""`` when unknown.
    """

    config: Config
    values: tuple[float, ...] | None = None
    state: TrialState = TrialState.COMPLETE
    metrics: Mapping[str, Any] = field(default_factory=dict)
    feasible: bool = True
    trial_id: Any = None
    source: str = ""

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
            **({"source": self.source} if self.source else {}),
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
            source=str(data.get("source") or ""),
        )


@dataclass
class SourceStats:
    """What the trials of one source did in this study, kept up to date as trials are added.

    Attributes:
        trials: trials of the source (every state).
        usable: of them, complete or pruned (with a value).
        failed: of them, failed.
        improvements: how often one of them became the strictly best trial so far (single
            objective; feasible and complete trials rank first, as in :meth:`History.ranked`).
    """

    trials: int = 0
    usable: int = 0
    failed: int = 0
    improvements: int = 0


def _jsonable(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool, type(None)))


class History:
    """Observations of one study, in the order they finished, with ranking helpers.

    An incremental ledger: :meth:`add` keeps everything the methods read up to date, so no
    read re-scans the study. Costs with ``n`` observations:

    - single objective: the ranking is kept sorted as observations arrive (a binary search
      and a list insertion per :meth:`add`); :meth:`best` O(1), :meth:`top` O(k),
      :meth:`rank_position` O(log n) (a binary search, no rebuild after an add);
    - several objectives: Pareto fronts are recomputed lazily, on the first ranking read
      after an add (O(n²)): fronts are not incremental;
    - :meth:`keys`: the dedup keys of every observation for a search space, built once per
      space and then extended by each :meth:`add` (O(1) per add and per read);
    - :attr:`usable` and :meth:`ranked` return copies of maintained lists (a C-speed copy, no
      Python-level scan); :attr:`n_usable`, :attr:`n_failed` and :meth:`recent` are O(1) / O(k).

    Args:
        observations: initial observations.
        directions: one ``"maximize"`` or ``"minimize"`` per objective.
        names: optional objective names for prompts (e.g. Optuna's ``study.metric_names``).
    """

    _MAX_KEY_SPACES = 8
    """Search spaces whose dedup keys are kept at once (hosts use one, or a growing one)."""

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
        self._signs = tuple(1.0 if d == "maximize" else -1.0 for d in directions)
        self._observations: list[Observation] = []
        self._usable: list[Observation] = []
        self._n_failed = 0
        self._lock = threading.Lock()  # one writer at a time; readers see whole lists
        self._reset_derived()
        for obs in observations:
            self.add(obs)

    def _reset_derived(self) -> None:
        """Empty ranking structures and key sets (filled again by :meth:`_index`)."""
        # Single objective: the ranking, best first, and its sort keys (ascending, unique).
        self._ranked: list[Observation] = []
        self._rank_keys: list[tuple] = []
        self._rank_key_of: dict[int, tuple] = {}  # id(observation) -> its sort key (first add)
        # Several objectives: recomputed on the first read after an add.
        self._front_cache: list[Observation] | None = None
        self._front_position: dict[int, int] | None = None
        # Dedup keys per search space: [space, keys] pairs (equal spaces share one set).
        self._key_sets: list[tuple[SearchSpace, set]] = []
        # What each source's trials did (see SourceStats), by Observation.source, and (single
        # objective) each source's sort keys of the ranking, ascending: its places, by bisection.
        self._sources: dict[str, SourceStats] = {}
        self._source_rank_keys: dict[str, list[tuple]] = {}

    def add(self, observation: Observation) -> None:
        """Append a finished (or failed, or running) trial and update the ranking and keys."""
        if observation.values is not None and observation.usable:
            if len(observation.values) != len(self.directions):
                raise ValueError(
                    f"observation has {len(observation.values)} values for "
                    f"{len(self.directions)} objectives"
                )
        with self._lock:
            self._observations.append(observation)
            self._index(observation, len(self._observations) - 1)

    def _index(self, obs: Observation, position: int) -> None:
        """Fold one appended observation into the maintained structures."""
        if obs.state == TrialState.FAILED:
            self._n_failed += 1
        for space, keys in self._distinct_key_sets():
            keys.add(space.key(obs.config))
        stats = self._sources.get(obs.source)
        if stats is None:
            stats = self._sources[obs.source] = SourceStats()
        stats.trials += 1
        if not obs.usable:
            stats.failed += obs.state == TrialState.FAILED
            return
        stats.usable += 1
        self._usable.append(obs)
        if self.multi_objective:
            self._front_cache = None
            self._front_position = None
            return
        # The order of ranked(): descending on (feasible, complete, signed value, arrival), i.e.
        # ascending on this key; arrival is unique, so the order is total and ties go to the latest.
        key = self.rank_key(obs, position)
        at = bisect.bisect_left(self._rank_keys, key)
        if at == 0 and (not self._rank_keys or key[:3] < self._rank_keys[0][:3]):
            stats.improvements += 1  # strictly better than the best so far
        self._rank_keys.insert(at, key)
        self._ranked.insert(at, obs)
        bisect.insort(self._source_rank_keys.setdefault(obs.source, []), key)
        self._rank_key_of.setdefault(id(obs), key)  # the same object twice: its first place, as before

    def rank_key(self, obs: Observation, position: int) -> tuple:
        """The ranking's sort key of a usable ``obs`` arriving at ``position`` (single objective)."""
        return (not obs.feasible, obs.state != TrialState.COMPLETE,
                tuple(-s * v for s, v in zip(self._signs, obs.values or ())), -position)

    def place_of(self, obs: Observation) -> int:
        """The position a usable ``obs`` would take in :meth:`ranked` if added now (0 = best; it
        goes before its ties, as the latest arrival does). Single objective, O(log n)."""
        if self.multi_objective:
            raise ValueError("place_of ranks by one objective; this history has several.")
        return bisect.bisect_left(self._rank_keys, self.rank_key(obs, len(self._observations)))

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
        """Observations with objective values (complete or pruned), in arrival order (a copy)."""
        return list(self._usable)

    def usable_at(self, index: int) -> Observation:
        """The ``index``-th usable observation (in arrival order), without copying :attr:`usable`."""
        return self._usable[index]

    @property
    def n_usable(self) -> int:
        """How many observations are usable (O(1))."""
        return len(self._usable)

    def source_stats(self) -> dict[str, SourceStats]:
        """What each source's trials did (:class:`SourceStats` by :attr:`Observation.source`),
        maintained on :meth:`add`, so reading it costs nothing per trial."""
        return {source: replace(stats) for source, stats in self._sources.items()}

    def top_by_source(self, k: int) -> dict[str, int]:
        """How many observations of each source rank among the top ``k`` (as :meth:`top`
        ranks them; single objective): O(sources × log n), no scan of the ranking."""
        if self.multi_objective:
            raise ValueError("top_by_source ranks by one objective; this history has several.")
        k = min(k, len(self._rank_keys))
        if k <= 0:
            return {}
        cut = self._rank_keys[k - 1]
        counts = {source: bisect.bisect_right(keys, cut) for source, keys in self._source_rank_keys.items()}
        return {source: count for source, count in counts.items() if count}

    @property
    def n_failed(self) -> int:
        return self._n_failed

    def keys(self, space: SearchSpace) -> set:
        """The dedup keys (:meth:`SearchSpace.key`) of every observation, for ``space``: built on
        the first call for a space (or an equal one), then kept up to date by :meth:`add`. The
        set is the history's own: read it, never change it."""
        with self._lock:
            for known, keys in self._key_sets:
                if known is space:
                    return keys
            for known, keys in self._key_sets:
                if known == space:
                    break
            else:
                keys = {space.key(o.config) for o in self._observations}
            self._key_sets.append((space, keys))
            if len(self._key_sets) > self._MAX_KEY_SPACES:
                del self._key_sets[0]
            return keys

    def _distinct_key_sets(self) -> list[tuple[SearchSpace, set]]:
        seen: set[int] = set()
        out = []
        for space, keys in self._key_sets:
            if id(keys) not in seen:
                seen.add(id(keys))
                out.append((space, keys))
        return out

    def signed(self, observation: Observation) -> tuple[float, ...]:
        """Objective values turned so that higher is better for every objective."""
        assert observation.values is not None
        return tuple(v if d == "maximize" else -v for v, d in zip(observation.values, self.directions))

    def _ranking(self) -> list[Observation]:
        """The maintained ranking (not a copy): callers must not change it."""
        if not self.multi_objective:
            return self._ranked
        cache = self._front_cache
        if cache is None:
            usable = list(self._usable)
            fronts = _front_index([self.signed(o) for o in usable])
            score = {id(o): (-f, sum(self.signed(o))) for o, f in zip(usable, fronts)}
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
            cache = [o for _, o in order]
            self._front_position = {id(o): i for i, o in enumerate(cache)}
            self._front_cache = cache
        return cache

    def ranked(self) -> list[Observation]:
        """Usable observations, best first: feasible before infeasible, complete before
        pruned, then by objective (single) or Pareto front (multi), latest first on ties."""
        return list(self._ranking())

    def rank_position(self, obs: Observation) -> int:
        """``obs``'s position in :meth:`ranked` (0 = best); the number of distinct ranked
        observations when it is not usable or not in this history. O(log n) for one
        objective (no rebuild after an add), O(1) for several once the fronts are computed."""
        if not self.multi_objective:
            key = self._rank_key_of.get(id(obs))
            if key is None:
                return len(self._rank_key_of)
            return bisect.bisect_left(self._rank_keys, key)
        self._ranking()
        positions = self._front_position or {}
        return positions.get(id(obs), len(positions))

    def top(self, k: int) -> list[Observation]:
        return self._ranking()[:k]

    def best(self) -> Observation | None:
        ranked = self._ranking()
        return ranked[0] if ranked else None

    def recent(self, k: int) -> list[Observation]:
        return self._observations[-k:] if k > 0 else []

    def recent_usable(self, k: int) -> list[Observation]:
        """The last ``k`` usable observations, newest first (O(k))."""
        return self._usable[: -k - 1 : -1] if k > 0 else []

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

    def __getstate__(self) -> dict[str, Any]:
        """Pickled as its observations: the indexes hold object ids, rebuilt on load."""
        return {"directions": self.directions, "names": self.names, "observations": self._observations}

    def __setstate__(self, state: dict[str, Any]) -> None:
        observations = state.get("observations", state.get("_observations", ()))  # or an older pickle
        self.__init__(observations, state["directions"], state.get("names"))  # type: ignore[misc]


class TakenKeys(MutableSet):
    """The keys (:meth:`SearchSpace.key`) a proposal may not have: the history's, which the
    :class:`History` keeps up to date (shared, never copied, never changed here), plus this
    context's own (running trials, proposals accepted so far). Membership and :meth:`add` are
    O(1), ``len`` O(own), ``taken | more`` O(own + more); iterating copies (O(n)).
    """

    __slots__ = ("_base", "_own")

    def __init__(self, base: Set[Any] = frozenset(), own: Iterable[Any] = ()) -> None:
        self._base = base
        self._own: set = set(own)

    def __contains__(self, key: object) -> bool:
        return key in self._own or key in self._base

    def __len__(self) -> int:
        base = self._base
        return len(base) + sum(1 for k in self._own if k not in base)

    def __iter__(self) -> Iterator[Any]:
        return iter(set(self._base) | self._own)  # a snapshot: the history may grow meanwhile

    def add(self, key: Any) -> None:
        self._own.add(key)

    def discard(self, key: Any) -> None:
        """Forget a key this context took (the history's keys stay)."""
        self._own.discard(key)

    def __or__(self, other: Iterable[Any]) -> "TakenKeys":  # type: ignore[override]
        return TakenKeys(self._base, self._own.union(other))

    def copy(self) -> "TakenKeys":
        return TakenKeys(self._base, self._own)

    @classmethod
    def _from_iterable(cls, it: Iterable[Any]) -> set:
        return set(it)  # the mixins' results (&, -, ^) are plain sets

    def __repr__(self) -> str:
        return f"TakenKeys({len(self._base)} from the history, {len(self._own)} own)"


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
