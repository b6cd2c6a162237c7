"""The study as this process sees it, kept up to date incrementally (one ledger per storage and study).

Optuna never changes a finished trial, so the ledger reads each trial until it has finished
and never again: every call looks only at the trials that are new since the last call (a cursor
over trial numbers) and at those that had not finished then (running, waiting). Finished
trials are appended to one persistent :class:`~llmnas.history.History` (in the order this
process sees them finish: storage order, this process's finishing trials in their storage
position, as long as trials finish in the order of their numbers; with several workers a trial
that finishes after a later-numbered one comes after it), and the dedup keys, the index of
trials that used only some parameters, the known distributions and the parameter names used
are maintained next to it. The cost of a call is the number of trials new or running since the
last one, not the size of the study.

:meth:`StudyLedger.scan` only reads (the ``after_trial`` checks and ``infer_relative_search_space``
use it, outside the proposal lock); :meth:`StudyLedger.apply` appends what a scan found. The
ledger lives in process memory only: after unpickling or in a new process it is rebuilt from
storage at the first call (one full read). A storage that numbers trials other than ``0..n-1``
in order, or that lost trials, makes the ledger start over.

Reading: :func:`read_trials` gives the study's trials as a sequence. Storages copy their whole
trial list on every ``get_all_trials`` (a copy of 10,000 references each time, several times a
trial); for an ``InMemoryStorage`` the ledger reads instead only the trials it looks at, one by
one (:class:`TrialsView`), so a call costs what it reads.
"""

from __future__ import annotations

import threading
import weakref
from collections import Counter
from dataclasses import dataclass, field
from itertools import chain
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence, overload

from optuna.storages import InMemoryStorage
from optuna.trial import TrialState as OptunaTrialState

from llmnas.history import History, Observation, TrialState
from llmnas.space import Config, SearchSpace
from llmnas.studies import ATTR_PREFIX, trial_observation

if TYPE_CHECKING:
    from optuna.distributions import BaseDistribution
    from optuna.storages import BaseStorage
    from optuna.trial import FrozenTrial

__all__ = [
    "ATTR_PREFIX", "CLAIM_KEY", "FINISHED", "Delta", "Snapshot", "SpaceIndex", "StudyLedger", "TrialsView",
    "claimed_config", "metric_names", "observation", "read_trials", "same_as_finished",
]

CLAIM_KEY = "llmnas:claim"
"""Trial system attribute holding ``{"config": ..., "source": ..., "method": ...}``."""

FINISHED = (OptunaTrialState.COMPLETE, OptunaTrialState.PRUNED, OptunaTrialState.FAIL)
_CORE_STATE = {OptunaTrialState.COMPLETE: TrialState.COMPLETE, OptunaTrialState.PRUNED: TrialState.PRUNED}
_INDEXES_KEPT = 2
"""Spaces whose dedup index is kept (the proposal space and the exhaustion check's)."""


def observation(
    trial: FrozenTrial, state: OptunaTrialState, values: Sequence[float] | None, n_objectives: int
) -> Observation:
    """A finished Optuna trial as the core sees it (PRUNED keeps the value Optuna stored)."""
    return trial_observation(trial, _CORE_STATE.get(state, TrialState.FAILED), values, n_objectives)


def metric_names(study: Any) -> list[str] | None:
    """``study.metric_names``; ``None`` when unset or hidden (HyperbandPruner's bracket
    studies allow only a few attributes)."""
    try:
        return study.metric_names
    except AttributeError:
        return None


def claimed_config(trial: FrozenTrial, space: SearchSpace) -> Config | None:
    """The configuration a trial claimed (its :data:`CLAIM_KEY` attribute) over ``space``."""
    claim = trial.system_attrs.get(CLAIM_KEY)
    if not isinstance(claim, Mapping) or not isinstance(claim.get("config"), Mapping):
        return None
    config, errors = space.decode({k: v for k, v in claim["config"].items() if k in space})
    return None if errors else config


def same_as_finished(space: SearchSpace, config: Config, trial: FrozenTrial) -> bool:
    """Whether a finished trial took the path ``config`` would take: the same values for every
    parameter of ``space`` it used (at least one)."""
    used = [n for n in space.names if n in trial.params]
    return bool(used) and all(space[n].key(config[n]) == space[n].key(trial.params[n]) for n in used)


# --------------------------------------------------------------------------- reading storage


class TrialsView(Sequence["FrozenTrial"]):
    """The trials ``0..n-1`` of an ``InMemoryStorage`` study, each read from the storage when it
    is first asked for (``get_trial``: O(1), no copy of the trial list) and then kept, so one
    view shows each trial in one state. Trials created after the view are not in it; a trial
    read later may show a later state than one read earlier (each is a state it had)."""

    def __init__(self, storage: InMemoryStorage, study_id: int, n: int) -> None:
        self._storage, self._study_id, self._n = storage, study_id, n
        self._read: dict[int, FrozenTrial] = {}

    def __len__(self) -> int:
        return self._n

    @overload
    def __getitem__(self, number: int) -> FrozenTrial: ...

    @overload
    def __getitem__(self, number: slice) -> list[FrozenTrial]: ...

    def __getitem__(self, number: int | slice) -> FrozenTrial | list[FrozenTrial]:
        if isinstance(number, slice):
            return [self[i] for i in range(*number.indices(self._n))]
        if number < 0:
            number += self._n
        if not 0 <= number < self._n:
            raise IndexError(number)
        trial = self._read.get(number)
        if trial is None:
            storage = self._storage
            trial = storage.get_trial(storage.get_trial_id_from_study_id_trial_number(self._study_id, number))
            self._read[number] = trial
        return trial


def _has_trial(storage: InMemoryStorage, study_id: int, number: int) -> bool:
    try:
        storage.get_trial_id_from_study_id_trial_number(study_id, number)
    except KeyError:
        return False
    return True


def read_trials(storage: BaseStorage, study_id: int, known: int = 0) -> Sequence[FrozenTrial]:
    """The study's trials in number order (``FrozenTrial`` objects shared with the storage: read
    only). ``known``: how many trials the caller knows exist (the ledger's cursor), where an
    ``InMemoryStorage`` starts counting the new ones; its trials come as a :class:`TrialsView`.
    Any other storage (or a first read) returns ``get_all_trials``: one list of them all."""
    if type(storage) is not InMemoryStorage or known <= 0 or not _has_trial(storage, study_id, known - 1):
        return storage.get_all_trials(study_id, deepcopy=False)
    n = known
    while _has_trial(storage, study_id, n):  # the trials created since: usually one or none
        n += 1
    return TrialsView(storage, study_id, n)


# --------------------------------------------------------------------------- per space


class SpaceIndex:
    """The dedup keys of a history's observations over one space, maintained as it grows.

    ``full`` maps the key of a trial that used every dimension to its trial numbers; ``partial``
    maps the names a trial used (only some) to the keys of their values and the numbers."""

    def __init__(self, space: SearchSpace, observations: Sequence[Observation] = ()) -> None:
        self.space = space
        self._dims = {d.name: d for d in space}
        self.keys: set[tuple[Any, ...]] = set()
        self.full: dict[tuple[Any, ...], list[int]] = {}
        self.partial: dict[tuple[str, ...], dict[tuple[Any, ...], list[int]]] = {}
        for obs in observations:
            self.add(obs)

    def add(self, obs: Observation) -> None:
        config = obs.config
        key = self.space.key(config)
        self.keys.add(key)
        used = tuple(n for n in self._dims if n in config)
        if not used:
            return
        number = obs.trial_id if obs.trial_id is not None else -1
        if len(used) == len(self._dims):
            self.full.setdefault(key, []).append(number)
        else:
            values = tuple(self._dims[n].key(config[n]) for n in used)
            self.partial.setdefault(used, {}).setdefault(values, []).append(number)

    def prefix_duplicate(self, config: Config) -> tuple[int, tuple[str, ...]] | None:
        """The first trial that ``config`` repeats although it sets more parameters."""
        for names, seen in list(self.partial.items()):
            if all(n in config for n in names):
                numbers = seen.get(tuple(self._dims[n].key(config[n]) for n in names))
                if numbers:
                    return numbers[0], names
        return None

    def finished_match(self, config: Config, unsettled: set[int]) -> int | None:
        """A trial, finished in storage (not in ``unsettled``), that used only values of ``config``."""
        found = [n for n in self.full.get(self.space.key(config), ()) if n not in unsettled][:1]
        for names, seen in list(self.partial.items()):
            if all(n in config for n in names):
                numbers = seen.get(tuple(self._dims[n].key(config[n]) for n in names), ())
                found.extend([n for n in numbers if n not in unsettled][:1])
        return min(found) if found else None


@dataclass
class Snapshot:
    """What the study has tried, seen from this process at one moment: the history, the
    configurations of running and waiting trials, and the dedup index (``extra``: finished
    trials a read-only scan found that the history does not hold yet)."""

    space: SearchSpace
    history: History
    pending: list[Config]
    index: SpaceIndex
    extra: SpaceIndex | None = None
    _pending_keys: set[tuple[Any, ...]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._pending_keys = {self.space.key(c) for c in self.pending}

    def is_taken(self, key: tuple[Any, ...]) -> bool:
        """Whether a configuration with this key was tried or is running."""
        return key in self.index.keys or key in self._pending_keys or (
            self.extra is not None and key in self.extra.keys)

    def n_taken(self) -> int:
        """How many distinct configurations were tried or are running."""
        others = self._pending_keys | (self.extra.keys if self.extra is not None else set())
        return len(self.index.keys) + len(others - self.index.keys)

    @property
    def has_partial(self) -> bool:
        return bool(self.index.partial) or (self.extra is not None and bool(self.extra.partial))

    def prefix_duplicate(self, config: Config) -> tuple[int, tuple[str, ...]] | None:
        """The trial that ``config`` repeats although it sets more parameters: one that used
        only some of them, with the same values (the objective took the same path)."""
        hit = self.index.prefix_duplicate(config)
        if hit is None and self.extra is not None:
            hit = self.extra.prefix_duplicate(config)
        return hit

    def problems(self, config: Config) -> list[str]:
        hit = self.prefix_duplicate(config)
        if hit is None:
            return []
        number, names = hit
        return [
            f"the same architecture as trial {number}, which used only {', '.join(names)} "
            "with these values; change at least one of them"
        ]


# --------------------------------------------------------------------------- per study


class _Distributions:
    """The union of the distributions trials used, as :func:`~._space.known_distributions`
    computes it (names in order of first use, each with its latest definition), fed trials
    in any order."""

    def __init__(self) -> None:
        self._first: dict[str, tuple[int, int]] = {}
        self._latest: dict[str, tuple[int, BaseDistribution]] = {}

    def copy(self) -> "_Distributions":
        out = _Distributions()
        out._first, out._latest = dict(self._first), dict(self._latest)
        return out

    def add(self, trial: FrozenTrial) -> None:
        number = trial.number
        for position, (name, dist) in enumerate(trial.distributions.items()):
            first = self._first.get(name)
            if first is None or (number, position) < first:
                self._first[name] = (number, position)
            latest = self._latest.get(name)
            if latest is None or number >= latest[0]:
                self._latest[name] = (number, dist)

    def as_dict(self) -> dict[str, BaseDistribution]:
        return {name: self._latest[name][1] for name in sorted(self._first, key=self._first.__getitem__)}


@dataclass
class Delta:
    """What changed in storage since the ledger's last :meth:`StudyLedger.apply`."""

    trials: Sequence[FrozenTrial]
    end: int
    settled: list[tuple[int, FrozenTrial]]
    """Trials finished in storage (position, trial), in number order."""
    added: list[Observation]
    """Observations the history gains (finished trials and this process's finishing ones)."""
    finishing: list[int]
    """Numbers of this process's finishing trials (running in storage) among ``added``."""
    open: list[tuple[int, FrozenTrial]]
    """Trials not finished in storage (position, trial), in number order (running, waiting,
    finishing)."""


class StudyLedger:
    """One study's history and indexes, kept by one process (see the module docstring).

    Args:
        storage: the study's storage (held weakly: a new storage at the same address is
            another study).
        directions: ``"maximize"``/``"minimize"`` per objective.
        names: the objective names (``study.metric_names``), or ``None``.
    """

    def __init__(self, storage: BaseStorage, directions: Sequence[str], names: Sequence[str] | None) -> None:
        try:
            self._storage: Callable[[], Any] = weakref.ref(storage)
        except TypeError:  # a storage without weak references: keep it
            self._storage = lambda: storage
        self.lock = threading.RLock()
        self._directions = list(directions)
        self._names = names
        self._reset()

    def _reset(self) -> None:
        self.history = History(directions=self._directions, names=self._names)
        self._cursor = 0
        self._last_id: int | None = None
        self._open: set[int] = set()
        self._in_history: set[int] = set()  # open trials already in the history (finishing here)
        self._distributions = _Distributions()
        self._param_names: Counter[frozenset[str]] = Counter()
        self._indexes: list[SpaceIndex] = []
        self.pruned_without_values = 0
        """Pruned trials stored without a value but with intermediate values (no ``tell``)."""

    @property
    def cursor(self) -> int:
        """How many trials (numbers ``0..cursor-1``) the ledger has read."""
        return self._cursor

    def belongs_to(self, storage: BaseStorage) -> bool:
        return self._storage() is storage

    def set_names(self, names: Sequence[str] | None) -> None:
        """Objective names set after the study began (``study.set_metric_names``)."""
        names = tuple(str(n) for n in names) if names is not None else None
        if names != self.history.names:
            self.history.names = names
            self._names = names

    # -- reading storage -----------------------------------------------------------------------
    def _consistent(self, trials: Sequence[FrozenTrial]) -> bool:
        n = len(trials)
        if n and trials[n - 1].number != n - 1:
            return False
        if self._cursor == 0:
            return True
        return n >= self._cursor and trials[self._cursor - 1]._trial_id == self._last_id

    def scan(self, trials: Sequence[FrozenTrial], finishing: Mapping[int, Observation]) -> Delta:
        """The trials new or unfinished since the last :meth:`apply` (``trials``: the study's
        trials in number order, as storages return them; ``finishing``: this process's
        finishing observations by trial id). Reads only, unless the storage no longer matches
        the ledger: then the ledger starts over."""
        if not self._consistent(trials):
            self._reset()
            if not all(t.number == i for i, t in enumerate(trials)):  # read by position, in number order
                trials = sorted(trials, key=lambda t: t.number)
        n_objectives = len(self._directions)
        settled: list[tuple[int, FrozenTrial]] = []
        added: list[Observation] = []
        finishing_numbers: list[int] = []
        still_open: list[tuple[int, FrozenTrial]] = []
        for number in chain(sorted(self._open), range(self._cursor, len(trials))):
            trial = trials[number]
            if trial.state in FINISHED:
                settled.append((number, trial))
                if number not in self._in_history:
                    added.append(observation(trial, trial.state, trial.values, n_objectives))
                continue
            still_open.append((number, trial))
            if trial.state == OptunaTrialState.RUNNING and number not in self._in_history:
                obs = finishing.get(trial._trial_id)
                if obs is not None:
                    added.append(obs)
                    finishing_numbers.append(number)
        return Delta(trials, len(trials), settled, added, finishing_numbers, still_open)

    def apply(self, delta: Delta) -> None:
        """Append what ``delta`` found (it must be the latest scan of this ledger)."""
        for obs in delta.added:
            self.history.add(obs)
            for index in self._indexes:
                index.add(obs)
        self._open.update(range(self._cursor, delta.end))
        self._in_history.update(delta.finishing)
        if len(delta.settled) > 64:  # a set keeps its table when emptied, and iterating walks it all
            self._open = self._open - {number for number, _ in delta.settled}
        for number, trial in delta.settled:
            self._open.discard(number)
            self._in_history.discard(number)
            self._distributions.add(trial)
            self._param_names[frozenset(trial.params)] += 1
            if trial.state == OptunaTrialState.PRUNED and trial.values is None and trial.intermediate_values:
                self.pruned_without_values += 1
        if delta.end > self._cursor:
            self._cursor = delta.end
            self._last_id = delta.trials[delta.end - 1]._trial_id

    # -- what callers need ---------------------------------------------------------------------
    def index(self, space: SearchSpace) -> SpaceIndex:
        """The dedup index of the history over ``space`` (built once per space)."""
        for index in self._indexes:
            if index.space == space:
                return index
        index = SpaceIndex(space, list(self.history))
        self._indexes = [index, *self._indexes][:_INDEXES_KEPT]
        return index

    def unsettled(self) -> set[int]:
        """Numbers of the trials in the history that have not finished in storage yet."""
        return set(self._in_history)

    def pending(self, delta: Delta, space: SearchSpace, exclude_id: int | None) -> list[Config]:
        """Configurations of running trials (their claims, else their parameters so far) and
        waiting ones (their fixed parameters), in number order; not this process's finishing
        trials, nor ``exclude_id``."""
        finishing = set(delta.finishing) | self._in_history
        pending: list[Config] = []
        for number, trial in delta.open:
            if trial._trial_id == exclude_id or number in finishing:
                continue
            if trial.state == OptunaTrialState.RUNNING:
                claimed = claimed_config(trial, space)
                if claimed is not None:
                    pending.append(claimed)
                elif any(n in space for n in trial.params):
                    pending.append({n: v for n, v in trial.params.items() if n in space})
            elif trial.state == OptunaTrialState.WAITING:
                fixed = trial.system_attrs.get("fixed_params") or {}
                if any(n in space for n in fixed):
                    pending.append({n: v for n, v in fixed.items() if n in space})
        return pending

    def finished_distributions(self, delta: Delta) -> dict[str, BaseDistribution]:
        """The union of the distributions of the trials finished in storage (ledger and delta)."""
        if not delta.settled:
            return self._distributions.as_dict()
        known = self._distributions.copy()
        for _, trial in delta.settled:
            known.add(trial)
        return known.as_dict()

    def all_distributions(self, delta: Delta) -> tuple[dict[str, BaseDistribution], Counter[frozenset[str]]]:
        """The union of the distributions of every trial (any state), and how many trials used
        each set of parameter names."""
        known = self._distributions.copy()
        names = Counter(self._param_names)
        for _, trial in chain(delta.settled, delta.open):
            known.add(trial)
            names[frozenset(trial.params)] += 1
        return known.as_dict(), names
