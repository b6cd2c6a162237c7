"""Proposing for one trial: the study as seen now, a proposal, its claim and the clash check.

A trial's configuration comes from the method through the searcher (:meth:`_next_config`), or,
when the method has nothing (or fails), from the host itself: an untried valid configuration
at random, then by enumerating a small space (:meth:`_host_search`). It is claimed in the
trial's own system attribute (:data:`~._ledger.CLAIM_KEY`) and checked against the other
trials (:meth:`_clash`: running ones by their claims, finished ones by their parameters); on a
clash the trial takes the next proposal, and after :data:`CLASHES_BEFORE_OWN_STREAM` clashes in
a row an untried configuration from its own random stream. What the study has tried comes from
the process's :class:`~._ledger.StudyLedger` (read incrementally from storage).
"""

from __future__ import annotations

import logging
import threading
from itertools import chain
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np
from optuna.trial import TrialState as OptunaTrialState

from llmnas.history import History, Observation
from llmnas.llm.protocol import LLMError, LLMSetupError
from llmnas.proposals import SpaceExhausted, TargetReached
from llmnas.space import Config, SearchSpace

from ._knowledge import StudyKnowledge
from ._ledger import (
    CLAIM_KEY, FINISHED, Delta, Snapshot, SpaceIndex, StudyLedger, claimed_config, metric_names, read_trials,
    same_as_finished,
)
from llmnas.untried import ENUMERATION_LIMIT, RANDOM_TRIES, enumerate_configs

from ._space import make_validator, to_search_space

if TYPE_CHECKING:
    from optuna.distributions import BaseDistribution
    from optuna.study import Study
    from optuna.trial import FrozenTrial

    from llmnas.searcher import Searcher

__all__ = [
    "CLASHES_BEFORE_OWN_STREAM", "ENUMERATION_LIMIT", "MAX_CLAIM_ATTEMPTS", "RANDOM_TRIES", "ProposingMixin", "stop",
    "trial_key",
]

logger = logging.getLogger("optuna_llm_samplers._sampler")

MAX_CLAIM_ATTEMPTS = 8
CLASHES_BEFORE_OWN_STREAM = 2
"""After this many clashes in a row a trial takes an untried configuration from its own random
stream (seed and trial), so workers that propose in lockstep (one ``seed=``) part ways."""
TrialKey = tuple[int, int, int]


def trial_key(study: Study, trial: FrozenTrial) -> TrialKey:
    """A trial's identity in this process: storage object, study, trial."""
    return id(study._storage), study._study_id, trial._trial_id


def stop(study: Study) -> None:
    """``study.stop()``, when there is an optimize loop to stop."""
    try:
        study.stop()
    except RuntimeError:
        # Outside Study.optimize (ask-and-tell) there is no loop to stop.
        logger.info("The study is not running in Study.optimize; the sampler cannot stop it")


class ProposingMixin:
    """Proposals, claims and the study's ledger for :class:`~optuna_llm_samplers.LLMSampler`."""

    _searcher: Searcher
    _budget: int | None
    _stop_when_exhausted: bool
    _reseeded: bool
    _counts: dict[str, int]
    _state_lock: threading.Lock
    _finishing: dict[TrialKey, Observation]
    _ledgers: dict[tuple[int, int], StudyLedger]

    if TYPE_CHECKING:  # provided by ReportingMixin
        method: Any

        def _count(self, name: str, reason: str | None = None, kind: str | None = None) -> None: ...

        def _record_source(self, study: Study, trial: FrozenTrial, source: str, reason: str = "",
                           rationale: str = "") -> None: ...

    # -- the study as seen now -----------------------------------------------------------------
    def _ledger(self, study: Study) -> StudyLedger:
        """This process's ledger of ``study`` (one per storage and study)."""
        key = (id(study._storage), study._study_id)
        with self._state_lock:
            ledger = self._ledgers.get(key)
            if ledger is None or not ledger.belongs_to(study._storage):
                ledger = StudyLedger(study._storage, [d.name.lower() for d in study.directions], metric_names(study))
                self._ledgers[key] = ledger
        return ledger

    def _scan(self, study: Study, ledger: StudyLedger, trials: Any = None) -> Delta:
        """What changed since the ledger's last update: ``trials`` (default: fresh from storage,
        not the per-thread trial cache, which is stale after waiting for another thread's LLM
        call), with this process's finishing trials whose state Optuna has not stored yet."""
        if trials is None:
            trials = self._trials(study, ledger)
        storage_id, study_id = id(study._storage), study._study_id
        with self._state_lock:
            finishing = {k[2]: obs for k, obs in self._finishing.items() if k[0] == storage_id and k[1] == study_id}
        return ledger.scan(trials, finishing)

    def _trials(self, study: Study, ledger: StudyLedger) -> Sequence[FrozenTrial]:
        """The study's trials, fresh from storage (for an ``InMemoryStorage`` only the new ones
        and those the ledger asks for are read: :func:`~._ledger.read_trials`)."""
        return read_trials(study._storage, study._study_id, ledger.cursor)

    def _refresh(self, study: Study, trials: Any = None) -> tuple[StudyLedger, Delta]:
        """The study's ledger, updated from storage (under the ledger's lock: the caller holds
        the proposal lock, so no method reads the history meanwhile)."""
        ledger = self._ledger(study)
        with ledger.lock:
            ledger.set_names(metric_names(study))
            delta = self._scan(study, ledger, trials)
            ledger.apply(delta)
        self._settled(study, delta)
        return ledger, delta

    def _settled(self, study: Study, delta: Delta) -> None:
        """Forget this process's finishing trials once their state is stored."""
        if delta.settled:
            storage_id, study_id = id(study._storage), study._study_id
            with self._state_lock:
                for _, trial in delta.settled:
                    self._finishing.pop((storage_id, study_id, trial._trial_id), None)

    def _snapshot(self, study: Study, space: SearchSpace, *, exclude_id: int | None = None) -> Snapshot:
        """History, running claims and partial configurations, fresh from storage (under the
        proposal lock: the history is appended to)."""
        ledger, delta = self._refresh(study)
        with ledger.lock:
            pending = ledger.pending(delta, space, exclude_id)
            index = ledger.index(space)
            history = ledger.history
        if self._searcher.prefetch:  # a batch proposed in the background keeps the history it began with
            history = History(list(history), history.directions, history.names)
        return Snapshot(space, history, pending, index)

    def _known_distributions(self, study: Study, trials: Any = None) -> dict[str, BaseDistribution]:
        """The union of the distributions of the finished trials among ``trials`` (default:
        fresh from storage; reads only)."""
        ledger = self._ledger(study)
        with ledger.lock:
            return ledger.finished_distributions(self._scan(study, ledger, trials))

    # -- proposing ---------------------------------------------------------------------------
    def _propose_and_claim(
        self, study: Study, trial: FrozenTrial, space: SearchSpace, search_space: Mapping[str, BaseDistribution]
    ) -> Config:
        decided = {n: v for n, v in trial.params.items() if n in space}
        fixed = trial.system_attrs.get("fixed_params") or {}
        decided.update({n: v for n, v in fixed.items() if n in space})
        if len(decided) == len(space):  # enqueued or asked with fixed values: nothing to propose
            self._claim(study, trial, space, decided, "fixed")
            self._record_source(study, trial, "fixed")
            return decided
        yielded: list[Config] = []
        config: Config = {}
        for attempt in range(MAX_CLAIM_ATTEMPTS):
            snapshot = self._snapshot(study, space, exclude_id=trial._trial_id)
            validator = self._searcher.with_method_rules(make_validator(search_space, snapshot.problems))
            own = None
            if attempt >= CLASHES_BEFORE_OWN_STREAM:  # in lockstep with another worker: part ways
                seeded = self._searcher.seed is not None and not self._reseeded
                rng = np.random.default_rng([self._searcher.seed, trial.number, attempt] if seeded else None)
                own, _ = self._host_search(snapshot, validator, yielded, rng=rng)
            if own is not None:
                reason = "claim clashes: an untried configuration of the trial's own"
                config, source, reason, rationale = own, "host-fallback", reason, ""
                self._count("host_fallbacks", reason, "host")
            else:
                config, source, reason, rationale = self._next_config(study, trial, snapshot, validator, yielded)
            config = {**config, **decided}
            self._claim(study, trial, space, config, source)
            if source == "exhausted":
                self._record_source(study, trial, source, reason)
                return config
            other = self._clash(study, trial._trial_id, space, config)
            if other is None:
                logger.debug("Trial %d: %s proposal %s", trial.number, source, space.format_config(config))
                self._record_source(study, trial, source, reason, rationale)
                return config
            self._count("claim_clashes")
            logger.info("Trial %d: trial %d claimed the same configuration; taking the next proposal",
                        trial.number, other)
            yielded.append(config)
        logger.warning("Trial %d: %d claim clashes in a row; keeping the last proposal, which "
                       "another trial may also evaluate", trial.number, MAX_CLAIM_ATTEMPTS)
        self._record_source(study, trial, source, reason, rationale)
        return config

    def _next_config(
        self, study: Study, trial: FrozenTrial, snapshot: Snapshot, validator: Any, yielded: list[Config]
    ) -> tuple[Config, str, str, str]:
        """The next configuration, its source, the reason of a fallback and the LLM's rationale."""
        try:
            [proposal] = self._searcher.next_proposals(
                snapshot.space, snapshot.history, snapshot.pending + yielded, StudyKnowledge.of(study), 1,
                host_validator=validator, budget=self._budget,
            )
            return proposal.config, proposal.source, proposal.reason, proposal.rationale
        except TargetReached as exc:
            logger.info("Trial %d: %s; the study is stopped", trial.number, exc)
            stop(study)
            reason = "the method's stop rule fired"
        except SpaceExhausted:
            reason = "the method found no new configuration"
        except LLMSetupError:  # the named LLM cannot be used at all (e.g. it refuses the model): tell the user
            raise
        except LLMError as exc:  # e.g. the LLM spec could not be resolved (endpoint down)
            logger.warning("Trial %d: no LLM: %s; the host picks a configuration", trial.number, exc)
            self._count("errors")
            reason = "LLM unavailable"
        except Exception:  # a broken method or LLM setup must not fail the trial or the study
            logger.exception("Trial %d: the %s searcher failed; the host picks a configuration",
                             trial.number, self.method.name)
            self._count("errors")
            reason = "searcher error"
        config, exhausted = self._host_search(snapshot, validator, yielded)
        if config is not None:
            self._count("host_fallbacks", reason, "host")
            return config, "host-fallback", reason, ""
        config = self._searcher.repeat_candidate(snapshot.space, snapshot.history)
        if not exhausted:
            self._count("host_fallbacks", "nothing new found at random: may repeat a configuration", "host")
            logger.warning("Trial %d: no untried configuration found at random; this trial may repeat one",
                           trial.number)
            return config, "host-fallback", "nothing new found at random: may repeat a configuration", ""
        self._count("exhausted_trials")
        if self._stop_when_exhausted:
            logger.warning(
                "Trial %d: every configuration of the search space (%g) has been tried or is "
                "running; this trial re-evaluates a random one and the study is stopped (as "
                "GridSampler does)", trial.number, snapshot.space.size(),
            )
            stop(study)
        else:
            logger.log(
                logging.WARNING if self._counts["exhausted_trials"] == 1 else logging.DEBUG,
                "Trial %d: every configuration of the search space (%g) has been tried or is "
                "running; re-evaluating a random one (stop_when_exhausted=False)",
                trial.number, snapshot.space.size(),
            )
        return config, "exhausted", "every configuration was tried", ""

    def _host_search(
        self, snapshot: Snapshot, validator: Any, yielded: list[Config], *, rng: np.random.Generator | None = None,
    ) -> tuple[Config | None, bool]:
        """An untried, valid configuration found by the host itself (at random, then by
        enumerating a small space), and whether the space is proven exhausted."""
        space = snapshot.space
        yielded_keys = {space.key(c) for c in yielded}

        def taken(config: Config) -> bool:
            key = space.key(config)
            return key in yielded_keys or snapshot.is_taken(key)

        return self._searcher.untried(space, taken, validator, rng)

    def _claim(self, study: Study, trial: FrozenTrial, space: SearchSpace, config: Config, source: str) -> None:
        """Write ``config`` into the trial's own system attribute (JSON; non-JSON categorical
        choices as their text, as the core encodes them)."""
        claim = {"config": space.encode(config), "source": source, "method": self.method.name}
        study._storage.set_trial_system_attr(trial._trial_id, CLAIM_KEY, claim)

    def _clash(self, study: Study, trial_id: int, space: SearchSpace, config: Config) -> int | None:
        """The number of another trial that claimed or evaluated ``config`` (fresh from storage:
        the ledger's finished trials by their parameters, the others as storage has them now)."""
        ledger = self._ledger(study)
        key = space.key(config)
        with ledger.lock:
            delta = self._scan(study, ledger)
            hit = ledger.index(space).finished_match(config, ledger.unsettled())
        found = [] if hit is None else [hit]
        for number, other in chain(delta.settled, delta.open):
            if other._trial_id == trial_id:
                continue
            if other.state == OptunaTrialState.RUNNING:
                claimed = claimed_config(other, space)
                if claimed is not None and space.key(claimed) == key:
                    found.append(number)
            elif other.state in FINISHED and same_as_finished(space, config, other):
                found.append(number)
        return min(found) if found else None

    def _stop_if_exhausted(self, study: Study, trial: FrozenTrial, trials: Any = None) -> None:
        """Stop the study when no untried configuration is left for a next trial (finite spaces
        up to :data:`ENUMERATION_LIMIT` configurations). Reads the ledger only (no proposal
        lock: another thread may be proposing)."""
        ledger = self._ledger(study)
        with ledger.lock:
            delta = self._scan(study, ledger, trials)
            distributions, param_names = ledger.all_distributions(delta)
            try:
                space = to_search_space(distributions)
            except (TypeError, ValueError):
                return
            if not space.names or space.size() > ENUMERATION_LIMIT:
                return
            names = frozenset(distributions)
            if delta.end < space.size() and all(used == names for used in param_names):
                return  # fewer trials than configurations, each using every dimension: something is left
            extra = SpaceIndex(space, delta.added) if delta.added else None
            snapshot = Snapshot(space, ledger.history, ledger.pending(delta, space, None), ledger.index(space), extra)
        if not snapshot.has_partial and snapshot.n_taken() < space.size():
            return  # something is certainly left
        validator = self._searcher.with_method_rules(make_validator(distributions, snapshot.problems))
        configs = enumerate_configs(space, ENUMERATION_LIMIT)
        if configs is None or any(not snapshot.is_taken(space.key(c)) and not validator(c) for c in configs):
            return
        logger.info(
            "Every configuration of the search space (%g) has been tried or is running: stopping "
            "the study after trial %d (as GridSampler does)", space.size(), trial.number,
        )
        stop(study)

