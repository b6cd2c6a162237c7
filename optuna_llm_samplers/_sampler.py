"""``LLMSampler``: any core :class:`~llmnas.methods.base.Method` as an Optuna sampler.

How a trial is sampled (Optuna calls the sampler lazily, inside the objective):

1. ``infer_relative_search_space``: the study's known space, the union of the distributions
   its finished trials used (a define-by-run space grows; a name keeps its latest range).
2. ``sample_relative`` (at the trial's first ``suggest_*``, so under the heartbeat): one
   proposal from the method through a :class:`~llmnas.searcher.Searcher`. The searcher keeps
   a batch in process memory, so one LLM answer fills several trials; the threads of a
   process share it behind one lock. The proposal is then **claimed** in the trial's own
   system attribute (``llmnas:claim``) and **checked** against the other trials (running
   ones by their claims, finished ones by their parameters); on a clash the trial yields and
   takes the next proposal, so workers on one storage do not evaluate the same
   configuration twice.
3. ``sample_independent``: parameters the relative space did not cover (a parameter new to
   the study, a value outside a range that changed): the claimed value when it fits the
   distribution, else a random value from the sampler's seeded generator, counted.
4. ``after_trial`` (before Optuna stores the state): the finishing trial joins this process's
   view of the history; when every configuration of a finite space has been tried or is
   running, the study is stopped, as ``GridSampler`` does (``stop_when_exhausted``).

Conditional spaces: a trial that used only some parameters (``units_l2`` exists only when
``n_layers == 3``) is a duplicate of any proposal that agrees with it on those parameters,
so such proposals are refused too (the method is told why and asked again).

Bad input: a trial that suggests nothing runs as it is (one warning; nothing to propose). A
NaN value is a FAIL trial (Optuna's rule); ``inf`` stays COMPLETE in Optuna but the method
counts it as failed (one warning), so no prompt shows it as a score; failures are counted in
``summary()["sampler"]["trials_failed"]`` and their configurations are never proposed again.
Continuous, log and huge numeric ranges are searched by the method; a ``suggest_float`` with
an infinite bound, or a distribution other than Optuna's three, is an error naming the
parameter (at construction for ``search_space=``, else in the trial that suggests it).
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

import numpy as np
from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler, RandomSampler
from optuna.samplers._base import _process_constraints_after_trial
from optuna.trial import TrialState as OptunaTrialState

from llmnas.history import History, Observation, TrialState
from llmnas.llm.protocol import LLMError, LLMSetupError, llm_endpoint, trace_context
from llmnas.methods.base import Method
from llmnas.proposals import SpaceExhausted, TargetReached, provenance
from llmnas.screening import SurrogateScreen
from llmnas.searcher import Searcher
from llmnas.space import Config, SearchSpace

from ._knowledge import StudyKnowledge
from ._space import (
    enumerate_configs, known_distributions, make_validator, to_dimension, to_search_space, value_problems,
)

if TYPE_CHECKING:
    from optuna.study import Study
    from optuna.trial import FrozenTrial

    from llmnas.llm.protocol import LLM

__all__ = ["CLAIM_KEY", "RATIONALE_ATTR", "REASON_ATTR", "SOURCE_ATTR", "LLMSampler"]

logger = logging.getLogger(__name__)

CLAIM_KEY = "llmnas:claim"
"""Trial system attribute holding ``{"config": ..., "source": ..., "method": ...}``."""

ATTR_PREFIX = "llmnas_"
SOURCE_ATTR = "llmnas_source"
"""Trial user attribute: where the trial's parameters came from, a label of
:data:`llmnas.proposals.SOURCE_LABELS` (``llm``, ``llm-reask``, ``operator:<name>``, ``screen``,
``fallback``, ``fixed``, ``random``, ``exhausted``, ``none``); shown by optuna-dashboard and as
``user_attrs_llmnas_source`` in ``study.trials_dataframe()``."""
REASON_ATTR = "llmnas_reason"
"""Trial user attribute: why a fallback stood in for the LLM (only for ``fallback`` trials)."""
RATIONALE_ATTR = "llmnas_rationale"
"""Trial user attribute: the LLM's reasoning behind the proposal (e.g. SEKI's strategy), at most
:data:`llmnas.proposals.RATIONALE_CHARS` characters."""

ENUMERATION_LIMIT = 20_000
"""Spaces up to this size are enumerated to prove exhaustion (and to find what is left)."""

MAX_CLAIM_ATTEMPTS = 8
CLASHES_BEFORE_OWN_STREAM = 2
"""After this many clashes in a row a trial takes an untried configuration from its own random
stream (seed and trial), so workers that propose in lockstep (one ``seed=``) part ways."""
UNCLAIMED_REDRAWS = 32
RANDOM_TRIES = 256
_FINISHED = (OptunaTrialState.COMPLETE, OptunaTrialState.PRUNED, OptunaTrialState.FAIL)
_CORE_STATE = {OptunaTrialState.COMPLETE: TrialState.COMPLETE, OptunaTrialState.PRUNED: TrialState.PRUNED}

_TrialKey = tuple[int, int, int]


def _key(study: Study, trial: FrozenTrial) -> _TrialKey:
    """A trial's identity in this process: storage object, study, trial."""
    return id(study._storage), study._study_id, trial._trial_id


# --------------------------------------------------------------------------- the study as seen now


@dataclass
class _Snapshot:
    """What the study has tried, seen from this process at one moment."""

    space: SearchSpace
    history: History
    pending: list[Config]
    partial: dict[tuple[str, ...], dict[tuple[Any, ...], int]]
    """Finished trials that used only some dimensions: names used → value keys → number."""

    def taken(self) -> set[tuple[Any, ...]]:
        keys = {self.space.key(o.config) for o in self.history}
        keys.update(self.space.key(c) for c in self.pending)
        return keys

    def prefix_duplicate(self, config: Config) -> tuple[int, tuple[str, ...]] | None:
        """The trial that ``config`` repeats although it sets more parameters: one that used
        only some of them, with the same values (the objective took the same path)."""
        for names, seen in self.partial.items():
            if all(n in config for n in names):
                number = seen.get(tuple(self.space[n].key(config[n]) for n in names))
                if number is not None:
                    return number, names
        return None

    def problems(self, config: Config) -> list[str]:
        hit = self.prefix_duplicate(config)
        if hit is None:
            return []
        number, names = hit
        return [
            f"the same architecture as trial {number}, which used only {', '.join(names)} "
            "with these values; change at least one of them"
        ]


def _observation(
    trial: FrozenTrial, state: OptunaTrialState, values: Sequence[float] | None, n_objectives: int
) -> Observation:
    """A finished Optuna trial as the core sees it (PRUNED keeps its last intermediate value)."""
    usable = values is not None and len(values) == n_objectives
    constraints = trial.constraints
    metrics: dict[str, Any] = {  # our own provenance attributes are not the trial's metrics
        k: v for k, v in trial.user_attrs.items()
        if isinstance(v, (str, int, float, bool)) and not k.startswith(ATTR_PREFIX)
    }
    metrics.update({f"constraint:{k}": v for k, v in constraints.items()})
    return Observation(
        config=dict(trial.params),
        values=tuple(float(v) for v in values) if usable else None,  # type: ignore[union-attr]
        state=_CORE_STATE.get(state, TrialState.FAILED),
        metrics=metrics,
        feasible=all(v <= 0 for v in constraints.values()),
        trial_id=trial.number,
    )


def _metric_names(study: Study) -> list[str] | None:
    """``study.metric_names``; ``None`` when unset or hidden (HyperbandPruner's bracket
    studies allow only a few attributes)."""
    try:
        return study.metric_names
    except AttributeError:
        return None


def study_history(study: Study) -> History:
    """A finished (or running) study's complete and pruned trials as a core
    :class:`~llmnas.history.History`: a LAPT source, or data for your own analysis."""
    n_objectives = len(study.directions)
    history = History(directions=[d.name.lower() for d in study.directions], names=_metric_names(study))
    for trial in study.get_trials(deepcopy=False, states=(OptunaTrialState.COMPLETE, OptunaTrialState.PRUNED)):
        values = trial.values if trial.values is not None else (
            [trial.intermediate_values[max(trial.intermediate_values)]] if trial.intermediate_values else None)
        history.add(_observation(trial, trial.state, values, n_objectives))
    return history


def _claimed_config(trial: FrozenTrial, space: SearchSpace) -> Config | None:
    claim = trial.system_attrs.get(CLAIM_KEY)
    if not isinstance(claim, Mapping) or not isinstance(claim.get("config"), Mapping):
        return None
    config, errors = space.decode({k: v for k, v in claim["config"].items() if k in space})
    return None if errors else config


def _same_as_finished(space: SearchSpace, config: Config, trial: FrozenTrial) -> bool:
    used = [n for n in space.names if n in trial.params]
    return bool(used) and all(space[n].key(config[n]) == space[n].key(trial.params[n]) for n in used)


# --------------------------------------------------------------------------- the sampler


class LLMSampler(BaseSampler):
    """Drives any LLM-driven NAS method of ``llmnas`` as an Optuna sampler.

    Each trial gets one proposal of the method (SEKI, LAPT, ...): the method asks the LLM for
    a batch of architectures in one call, checks them with Optuna's own rules, drops
    duplicates and fills gaps with its own evolutionary operators; every fallback is counted
    in :meth:`summary`. Workers on one storage share what the LLM wrote (study system
    attributes) and never evaluate the same configuration twice (claim, then check). Works
    with define-by-run and conditional spaces, pruners (also ``HyperbandPruner``), failed
    trials, constraints (``trial.set_constraint``), several objectives, ``n_jobs > 1`` and
    ``JournalStorage``/RDB storages. A finite space that has been fully tried stops the
    study, as :class:`~optuna.samplers.GridSampler` does.

    The method-specific samplers (:class:`~optuna_llm_samplers.SEKISampler`, ...) are thin
    subclasses; use this class directly to run a method object of your own.

    Example:
        .. code-block:: python

            import optuna
            from llmnas.methods import SEKI
            from optuna_llm_samplers import LLMSampler

            def objective(trial):
                ops = [trial.suggest_categorical(f"op{i}", ["conv3x3", "conv1x1", "skip"])
                       for i in range(3)]
                return sum(op == "conv3x3" for op in ops)

            # use_llm=False: the method's own operators only (no LLM needed to try it).
            sampler = LLMSampler(SEKI(budget=20), seed=0, use_llm=False)
            study = optuna.create_study(direction="maximize", sampler=sampler)
            study.optimize(objective, n_trials=20)
            best, fallback_rate = study.best_params, sampler.summary()["fallback_rate"]

    Args:
        method: the search method (an :class:`llmnas.methods.base.Method`).
        llm: an LLM object, a spec (``"openai:gpt-4o-mini"``, ``"local"``, an
            ``http://host:port/v1`` URL) or ``None`` for the environment's choice
            (``OPENAI_BASE_URL``/``OPENAI_API_KEY``, else the embedded demo model); see
            :func:`llmnas.llm.resolve_llm`. Resolved at the first LLM call.
        seed: seeds the method's generator and the random fallback. With ``n_jobs > 1``
            Optuna reseeds samplers before every trial, so threaded runs are not
            reproducible; give each worker process its own seed (or ``None``).
        budget: the planned number of trials, passed to the method (Optuna does not tell
            samplers ``n_trials``); default: the method's own budget.
        task: a short description of the task, added to prompts (never name a benchmark).
        use_llm: ``False`` runs the method's own operators only (an ablation, or no LLM).
        max_calls_per_proposal: LLM call budget, calls ≤ this × proposals (default 0.5).
        temperature: sampling temperature for the LLM (``None``: the backend's default).
        log_every: log :meth:`summary` at INFO every this many finished trials (0: never).
        stop_when_exhausted: stop the study once every configuration of a finite space has
            been tried (as ``GridSampler`` does). ``False`` keeps going, re-evaluating random
            configurations (counted as ``exhausted_trials``): for noisy objectives, or when
            ``n_trials`` must be met exactly.
        role_llms: LLMs for the method's roles (e.g. CoLLM-NAS's ``navigator``/``generator``);
            a role left out uses ``llm``.
        search_space: the distributions, when known up front, so the first trial is proposed
            by the method too (and checked by its rules, e.g. a resource limit); else the
            space is learned from finished trials (define-by-run).
        prefetch: ask the method for its next batch in a background thread once fewer than
            two proposals are buffered, so workers (``n_jobs > 1``, several processes) take
            proposals without waiting for the LLM. A prefetched batch was asked with the
            history of when it started. Off by default (each batch sees every result so far).
        screen: ``True`` or a :class:`llmnas.SurrogateScreen`: each batch competes with many
            more candidates of the method's own operator and a surrogate fitted on the trials
            picks which are evaluated (our addition, not the paper's). Off by default.
        constraints_func: as in Optuna's TPE, NSGA-II and GP samplers: called with each
            COMPLETE or PRUNED trial, returns a sequence of floats (each <= 0: feasible),
            stored in the trial's ``constraints`` exactly as Optuna does (so the trial is
            ranked like one that called ``trial.set_constraint``).
        llm_timeout, llm_retries, llm_request_timeout: how long one proposal waits for an
            OpenAI-compatible endpoint at most, all exchanges and retries together (default
            ``LLMNAS_LLM_TIMEOUT``, else 60 s; an endpoint that keeps timing out is called
            less often), the retries of one exchange (4) and the seconds per HTTP attempt (60,
            or ``llm_timeout`` when shorter); see :class:`llmnas.searcher.Searcher`.
    """

    def __init__(
        self,
        method: Method,
        *,
        llm: LLM | str | None = None,
        seed: int | None = None,
        budget: int | None = None,
        task: str | None = None,
        use_llm: bool = True,
        max_calls_per_proposal: float = 0.5,
        temperature: float | None = None,
        log_every: int = 10,
        stop_when_exhausted: bool = True,
        role_llms: Mapping[str, LLM | str | None] | None = None,
        search_space: Mapping[str, BaseDistribution] | None = None,
        prefetch: bool = False,
        screen: bool | SurrogateScreen = False,
        constraints_func: Callable[[FrozenTrial], Sequence[float]] | None = None,
        llm_timeout: float | None = None,
        llm_retries: int | None = None,
        llm_request_timeout: float | None = None,
    ) -> None:
        if constraints_func is not None and not callable(constraints_func):
            raise ValueError("constraints_func must be a function of a FrozenTrial returning a sequence of "
                             f"floats (<= 0: feasible) or None, got {constraints_func!r}.")
        if budget is not None and (isinstance(budget, bool) or not isinstance(budget, int) or budget < 1):
            raise ValueError(f"budget must be a positive number of trials or None, got {budget!r}.")
        if isinstance(log_every, bool) or not isinstance(log_every, int) or log_every < 0:
            raise ValueError(f"log_every must be an integer >= 0 (0: never), got {log_every!r}.")
        if not isinstance(stop_when_exhausted, (bool, np.bool_)):
            raise ValueError(f"stop_when_exhausted must be True or False, got {stop_when_exhausted!r}.")
        self._searcher = Searcher(
            method, llm=llm, seed=seed, task=task, max_calls_per_proposal=max_calls_per_proposal,
            temperature=temperature, use_llm=use_llm, role_llms=role_llms, prefetch=prefetch,
            screen=screen, llm_timeout=llm_timeout, llm_retries=llm_retries, llm_request_timeout=llm_request_timeout,
        )
        if search_space is not None and (not isinstance(search_space, Mapping) or not all(
                isinstance(d, BaseDistribution) for d in search_space.values())):
            raise ValueError(
                "search_space must map parameter names to optuna distributions (for a core SearchSpace "
                f"such as table.space(), pass optuna_llm_samplers.to_distributions(space)); got {search_space!r}.")
        self._search_space = dict(search_space or {})
        to_search_space(self._search_space)  # an unsupported distribution is a TypeError now, naming it
        self._budget = budget if budget is not None else method.budget_hint()
        self._log_every = log_every
        self._stop_when_exhausted = bool(stop_when_exhausted)
        self._random_sampler = RandomSampler(seed=seed)
        self._constraints_func = constraints_func
        self._reseeded = False
        self._counts: dict[str, int] = dict.fromkeys(_COUNTERS, 0)
        self._reasons: dict[str, dict[str, int]] = {"independent": {}, "host": {}}
        self._warned: set[str] = set()  # warnings given once per sampler
        self._init_transient()

    def _init_transient(self) -> None:
        """Process-local state: locks, and this process's claims and finishing trials (keyed by
        storage, study and trial, so one sampler may serve several studies)."""
        self._propose_lock = threading.Lock()
        self._state_lock = threading.Lock()
        self._claims: dict[_TrialKey, Config] = {}
        self._finishing: dict[_TrialKey, Observation] = {}
        self._unclaimed: dict[_TrialKey, RandomSampler] = {}
        self._own: set[_TrialKey] = set()  # trials this sampler drew in this process
        self._llm_recorded: set[tuple[int, int]] = set()
        self._usage_written: dict[tuple[int, int], tuple[int, int]] = {}

    @property
    def method(self) -> Method:
        """The method this sampler drives."""
        return self._searcher.method

    # -- Optuna's contract ---------------------------------------------------------------------
    def infer_relative_search_space(self, study: Study, trial: FrozenTrial) -> dict[str, BaseDistribution]:
        # Finished trials only: a running one may be half-way through its suggest calls, and a
        # space inferred from it would be missing dimensions (and void the buffered batch).
        known = known_distributions(study._get_trials(deepcopy=False, states=_FINISHED, use_cache=True))
        return {**self._search_space, **known}

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        if not search_space:
            return {}
        space = to_search_space(search_space)
        with self._propose_lock, trace_context(study=study.study_name, study_id=study._study_id,
                                               trial=trial.number, trial_id=trial._trial_id):
            config = self._propose_and_claim(study, trial, space, search_space)
        with self._state_lock:
            self._claims[_key(study, trial)] = config
            self._own.add(_key(study, trial))
            self._counts["trials_proposed"] += 1
        return {name: config[name] for name in search_space if name in config}

    def sample_independent(
        self, study: Study, trial: FrozenTrial, param_name: str, param_distribution: BaseDistribution
    ) -> Any:
        with self._state_lock:
            claim = self._claims.get(_key(study, trial))
        if claim is not None and param_name in claim:
            value = claim[param_name]
            if not value_problems(param_name, param_distribution, value):
                self._count("independent_from_proposal")
                return value
            reason = "proposed value outside the parameter's current range"
        else:
            reason = "parameter not in the known search space yet"
        if claim is None:  # sampled before the study knows any space: no claim to check against
            if not trial.params:
                self._record_source(study, trial, "random", "the study knew no search space yet")
            value = self._unclaimed_sample(study, trial, param_name, param_distribution)
        else:
            value = self._random_value(self._random_sampler, study, trial, param_name, param_distribution)
        self._count("independent_fallbacks", reason, "independent")
        logger.debug("Trial %d: %s = %r at random (%s)", trial.number, param_name, value, reason)
        return value

    def _random_value(
        self, sampler: RandomSampler, study: Study, trial: FrozenTrial, name: str, distribution: BaseDistribution
    ) -> Any:
        try:
            return sampler.sample_independent(study, trial, name, distribution)
        except (OverflowError, ValueError):  # a range wider than a float: RandomSampler cannot draw
            return to_dimension(name, distribution).sample(self._searcher.rng)

    def _unclaimed_sample(self, study: Study, trial: FrozenTrial, name: str, distribution: BaseDistribution) -> Any:
        """A parameter of a trial that has no claim (the study knew no space when it began:
        the first trials of a define-by-run study). Such trials can run at once in several
        workers; with one ``seed=`` they would draw the same values. So a trial that starts
        while an earlier trial of another worker is running (or has parameters) draws from its
        own stream (the seed and the trial number), and a value that would repeat the
        parameters of another worker's trial so far is drawn again (a bounded number of times).
        A lone worker draws exactly as before: its own trials never count."""
        trials = study._storage.get_all_trials(study._study_id, deepcopy=False)
        key = _key(study, trial)
        with self._state_lock:
            own = set() if self._reseeded else set(self._own)  # threads of one process: every trial counts
            self._own.add(key)
        others = [t for t in trials if t._trial_id != trial._trial_id and t.state != OptunaTrialState.WAITING
                  and (id(study._storage), study._study_id, t._trial_id) not in own]
        with self._state_lock:
            sampler = self._unclaimed.get(key)
            if sampler is None:
                concurrent = any(t.number < trial.number and (t.state == OptunaTrialState.RUNNING or t.params)
                                 for t in others)
                sampler = self._random_sampler
                if concurrent and (self._searcher.seed is None or self._reseeded):
                    sampler = RandomSampler()  # fresh entropy, as the sampler's own stream has
                elif concurrent:
                    entropy = [self._searcher.seed, trial.number]
                    sampler = RandomSampler(seed=int(np.random.SeedSequence(entropy).generate_state(1)[0]))
                self._unclaimed[key] = sampler
        so_far = dict(trial.params)
        same = [t.params for t in others
                if t.params and all(n in t.params and t.params[n] == v for n, v in so_far.items())]
        value = self._random_value(sampler, study, trial, name, distribution)
        for _ in range(UNCLAIMED_REDRAWS):
            if not any(name in p and p[name] == value for p in same):
                break
            value = self._random_value(sampler, study, trial, name, distribution)
        return value

    def before_trial(self, study: Study, trial: FrozenTrial) -> None:
        # Nothing to do here: the LLM call belongs inside the objective (sample_relative), under
        # the storage heartbeat, not in before_trial.
        pass

    def after_trial(
        self, study: Study, trial: FrozenTrial, state: OptunaTrialState, values: Sequence[float] | None
    ) -> None:
        # Optuna has not stored the state yet: keep the finished trial until it has.
        if self._constraints_func is not None:
            trial = self._apply_constraints_func(study, trial, state)
        observation = _observation(trial, state, values, len(study.directions))
        self._after_trial_attrs(study, trial)
        with self._state_lock:
            self._finishing[_key(study, trial)] = observation
            self._claims.pop(_key(study, trial), None)
            self._unclaimed.pop(_key(study, trial), None)
            self._counts["trials_finished"] = self._counts.get("trials_finished", 0) + 1
            if not observation.usable:
                self._counts["trials_failed"] = self._counts.get("trials_failed", 0) + 1
            due = self._log_every > 0 and self._counts["trials_finished"] % self._log_every == 0
        self._warn_about(trial, state, values)
        if due:
            logger.info("%s", self.summary_line())
        checks = []
        if self._has_stop_rule and observation.usable:
            checks.append(("stop rule", lambda: self._stop_if_done(study, observation)))
        if trial.params and self._stop_when_exhausted:
            checks.append(("exhaustion", lambda: self._stop_if_exhausted(study, trial)))
        for what, check in checks:
            try:
                check()
            except Exception:  # never let a bookkeeping error abort Study.optimize
                logger.exception("Trial %d: the %s check failed", trial.number, what)
                self._count("errors")

    def _apply_constraints_func(self, study: Study, trial: FrozenTrial, state: OptunaTrialState) -> FrozenTrial:
        """``constraints_func``'s values stored as Optuna's own samplers store them (the trial's
        ``constraints``, as ``trial.set_constraint`` would), for COMPLETE and PRUNED trials; the
        trial as stored now. A function that raises is logged (WARNING) and the trial has no
        constraint values from it."""
        try:
            _process_constraints_after_trial(self._constraints_func, study, trial, state)  # type: ignore[arg-type]
        except Exception as exc:
            logger.warning("Trial %d: constraints_func raised %s: %s; the trial has no constraint values from it",
                           trial.number, type(exc).__name__, exc)
        try:
            return study._storage.get_trial(trial._trial_id)
        except Exception:
            return trial

    def _record_source(self, study: Study, trial: FrozenTrial, source: str, reason: str = "",
                       rationale: str = "") -> None:
        """Write the trial's provenance as user attributes (see :data:`SOURCE_ATTR`)."""
        label, why = provenance(source, reason)
        storage = study._storage
        try:
            storage.set_trial_user_attr(trial._trial_id, SOURCE_ATTR, label)
            if why:
                storage.set_trial_user_attr(trial._trial_id, REASON_ATTR, why)
            if rationale and label in ("llm", "llm-reask", "screen") or rationale and label.startswith("operator:"):
                storage.set_trial_user_attr(trial._trial_id, RATIONALE_ATTR, rationale)
        except Exception:  # provenance is for people: never let it cost the trial
            logger.warning("Trial %d: could not record its source (%s)", trial.number, label, exc_info=True)
        self._record_llm(study)

    def _record_llm(self, study: Study) -> None:
        """The LLM in use as study user attributes, once per study and process: ``llmnas_llm``
        (the description, no credentials), ``llmnas_llm_model``, ``llmnas_llm_endpoint`` (host)."""
        llm = self._searcher.llm_in_use()
        if llm is None and self._searcher.llm_description() == "not used yet":
            return  # recorded once the method has asked the LLM
        key = (id(study._storage), study._study_id)
        with self._state_lock:
            if key in self._llm_recorded:
                return
            self._llm_recorded.add(key)
        attrs = {"llmnas_method": self.method.name, "llmnas_llm": self._searcher.llm_description()}
        if llm is not None:
            attrs["llmnas_llm_model"] = str(getattr(llm, "model", "") or "")
            endpoint = llm_endpoint(llm)
            if endpoint:
                attrs["llmnas_llm_endpoint"] = endpoint
        try:
            for name, value in attrs.items():
                study._storage.set_study_user_attr(study._study_id, name, value)
        except Exception:
            logger.warning("Could not record the LLM in the study's user attributes", exc_info=True)

    def _after_trial_attrs(self, study: Study, trial: FrozenTrial) -> None:
        """A trial with no source yet (it suggested nothing) gets ``none``; the study's LLM
        calls and tokens so far (this worker's) are updated when they changed."""
        if SOURCE_ATTR not in trial.user_attrs:  # the sampler was never asked (no parameter, or all fixed)
            fixed = trial.system_attrs.get("fixed_params") or {}
            source = "none" if not trial.params else "fixed" if set(trial.params) <= set(fixed) else "random"
            self._record_source(study, trial, source)
        usage = self._searcher.summary()
        calls = int(usage["pipeline"]["llm_calls"])
        tokens = int(usage["llm_usage"].get("prompt_tokens", 0)) + int(usage["llm_usage"].get("completion_tokens", 0))
        key = (id(study._storage), study._study_id)
        with self._state_lock:
            if self._usage_written.get(key) == (calls, tokens):
                return
            self._usage_written[key] = (calls, tokens)
        try:
            study._storage.set_study_user_attr(study._study_id, "llmnas_llm_calls", calls)
            study._storage.set_study_user_attr(study._study_id, "llmnas_llm_tokens", tokens)
            study._storage.set_study_user_attr(study._study_id, "llmnas_llm", self._searcher.llm_description())
        except Exception:
            logger.warning("Could not record LLM usage in the study's user attributes", exc_info=True)

    def _warn_about(
        self, trial: FrozenTrial, state: OptunaTrialState, values: Sequence[float] | None
    ) -> None:
        """Warn once per sampler about a trial that suggested nothing, and about a non-finite
        objective value that Optuna stores as COMPLETE (the method counts it as failed)."""
        if not trial.params and state != OptunaTrialState.FAIL:
            self._warn_once(
                "no-parameters", "Trial %d suggested no parameters: there is nothing for %s to choose in it "
                "(the sampler proposes values for suggest_* calls only; trials without any run as they are).",
                trial.number, self.method.name)
        if state != OptunaTrialState.FAIL and values is not None and not all(math.isfinite(v) for v in values):
            self._warn_once(
                "non-finite", "Trial %d returned %s: Optuna keeps it as COMPLETE (and may rank it best), but %s "
                "counts a non-finite value as a failed trial: no score to learn from, never proposed again.",
                trial.number, list(values), self.method.name)

    def _warn_once(self, key: str, message: str, *args: Any) -> None:
        with self._state_lock:
            warned = getattr(self, "_warned", None)
            if warned is None:
                warned = self._warned = set()
            first = key not in warned
            warned.add(key)
        logger.log(logging.WARNING if first else logging.DEBUG, message, *args)

    @property
    def _has_stop_rule(self) -> bool:
        return type(self.method).stop_reason is not Method.stop_reason

    def _stop_if_done(self, study: Study, finishing: Observation) -> None:
        """The method's stop rule (e.g. CoLLM-NAS's target) on the finished trials plus this one."""
        history = study_history(study)
        history.add(finishing)
        reason = self._searcher.stop_reason(history)
        if reason:
            logger.info("%s: %s; the study is stopped.", self.method.name, reason)
            _stop(study)

    def reseed_rng(self) -> None:
        # Called by Optuna before every trial when n_jobs > 1 (and for copies of a sampler):
        # fresh entropy for the random fallback and the method's generator. The proposal
        # buffer and the counters are kept.
        self._random_sampler.reseed_rng()
        self._searcher.rng = np.random.default_rng()
        with self._state_lock:
            self._reseeded = True  # per-trial streams no longer derive from the seed
            self._unclaimed.clear()

    # -- reporting ---------------------------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        """What the search did: the searcher's summary (method settings, LLM, calls, tokens,
        pipeline counts and fallbacks) plus this sampler's own counts under ``"sampler"``:
        trials proposed, finished and failed (``trials_failed``: FAIL, or a NaN/inf value that
        Optuna keeps as COMPLETE), parameters taken from the proposal or sampled at random
        (with reasons), configurations the host had to find itself, claim clashes, trials
        that re-evaluated an exhausted space, and errors."""
        summary = self._searcher.summary()
        with self._state_lock:
            sampler = dict(self._counts)
            sampler["independent_fallback_reasons"] = dict(self._reasons["independent"])
            sampler["host_fallback_reasons"] = dict(self._reasons["host"])
        summary["sampler"] = sampler
        return summary

    def summary_line(self) -> str:
        """:meth:`summary` in one line, as logged every ``log_every`` trials."""
        s = self.summary()
        usage, pipe, own = s["llm_usage"], s["pipeline"], s["sampler"]
        tokens = int(usage.get("prompt_tokens", 0)) + int(usage.get("completion_tokens", 0))
        return (
            f"{s['method']} sampler: {own['trials_finished']} trials finished "
            f"({own.get('trials_failed', 0)} failed or without a finite value); "
            f"LLM {s['llm']}: {pipe['llm_calls']} calls ({pipe['llm_errors']} failed), {tokens} tokens; "
            f"proposals: {pipe['accepted_llm'] + pipe['accepted_reask']} from the LLM, "
            f"{pipe['fallback_proposals'] + own['host_fallbacks']} from fallbacks; "
            f"{own['independent_fallbacks']} parameters sampled at random; "
            f"{own['claim_clashes']} claim clashes"
        )

    def knowledge(self, study: Study) -> StudyKnowledge:
        """The knowledge the method shares through ``study`` (export it with ``.export(path)``,
        seed a new study with ``.load(path)``)."""
        return StudyKnowledge.of(study)

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
        self, study: Study, trial: FrozenTrial, snapshot: _Snapshot, validator: Any, yielded: list[Config]
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
            _stop(study)
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
        config = self._repeat_candidate(snapshot)
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
            _stop(study)
        else:
            logger.log(
                logging.WARNING if self._counts["exhausted_trials"] == 1 else logging.DEBUG,
                "Trial %d: every configuration of the search space (%g) has been tried or is "
                "running; re-evaluating a random one (stop_when_exhausted=False)",
                trial.number, snapshot.space.size(),
            )
        return config, "exhausted", "every configuration was tried", ""

    def _host_search(
        self, snapshot: _Snapshot, validator: Any, yielded: list[Config], *, rng: np.random.Generator | None = None,
    ) -> tuple[Config | None, bool]:
        """An untried, valid configuration found by the host itself (at random, then by
        enumerating a small space), and whether the space is proven exhausted."""
        space, rng = snapshot.space, rng if rng is not None else self._searcher.rng
        taken = snapshot.taken() | {space.key(c) for c in yielded}
        for _ in range(RANDOM_TRIES):
            config = space.sample(rng)
            if space.key(config) not in taken and not validator(config):
                return config, False
        configs = enumerate_configs(space, ENUMERATION_LIMIT)
        if configs is None:
            return None, False
        free = [c for c in configs if space.key(c) not in taken and not validator(c)]
        if not free:
            return None, True
        return free[int(rng.integers(len(free)))], False

    def _claim(self, study: Study, trial: FrozenTrial, space: SearchSpace, config: Config, source: str) -> None:
        """Write ``config`` into the trial's own system attribute (JSON; non-JSON categorical
        choices as their text, as the core encodes them)."""
        claim = {"config": space.encode(config), "source": source, "method": self.method.name}
        study._storage.set_trial_system_attr(trial._trial_id, CLAIM_KEY, claim)

    def _clash(self, study: Study, trial_id: int, space: SearchSpace, config: Config) -> int | None:
        """The number of another trial that claimed or evaluated ``config`` (fresh from storage)."""
        key = space.key(config)
        for other in study._storage.get_all_trials(study._study_id, deepcopy=False):
            if other._trial_id == trial_id:
                continue
            if other.state == OptunaTrialState.RUNNING:
                claimed = _claimed_config(other, space)
                if claimed is not None and space.key(claimed) == key:
                    return other.number
            elif other.state in _FINISHED and _same_as_finished(space, config, other):
                return other.number
        return None

    # -- what the study has tried --------------------------------------------------------------
    def _snapshot(
        self, study: Study, space: SearchSpace, *, exclude_id: int | None = None,
        trials: Sequence[FrozenTrial] | None = None,
    ) -> _Snapshot:
        """History, running claims and partial configurations, fresh from storage (not the
        per-thread trial cache, which is stale after waiting for another thread's LLM call),
        with this process's finishing trials whose state Optuna has not stored yet."""
        if trials is None:
            trials = study._storage.get_all_trials(study._study_id, deepcopy=False)
        n_objectives = len(study.directions)
        history = History(directions=[d.name.lower() for d in study.directions], names=_metric_names(study))
        pending: list[Config] = []
        partial: dict[tuple[str, ...], dict[tuple[Any, ...], int]] = {}
        with self._state_lock:
            for t in trials:
                if t.state in _FINISHED:
                    self._finishing.pop(_key(study, t), None)
            finishing = dict(self._finishing)
        for t in trials:
            if t._trial_id == exclude_id:
                continue
            observation = None
            if t.state in _FINISHED:
                observation = _observation(t, t.state, t.values, n_objectives)
            elif t.state == OptunaTrialState.RUNNING:
                observation = finishing.get(_key(study, t))
            if observation is not None:
                history.add(observation)
                used = tuple(n for n in space.names if n in t.params)
                if used and len(used) < len(space):
                    keys = tuple(space[n].key(t.params[n]) for n in used)
                    partial.setdefault(used, {}).setdefault(keys, t.number)
            elif t.state == OptunaTrialState.RUNNING:
                claimed = _claimed_config(t, space)
                if claimed is not None:
                    pending.append(claimed)
                elif any(n in space for n in t.params):
                    pending.append({n: v for n, v in t.params.items() if n in space})
            elif t.state == OptunaTrialState.WAITING:
                fixed = t.system_attrs.get("fixed_params") or {}
                if any(n in space for n in fixed):
                    pending.append({n: v for n, v in fixed.items() if n in space})
        return _Snapshot(space, history, pending, partial)

    def _stop_if_exhausted(self, study: Study, trial: FrozenTrial) -> None:
        """Stop the study when no untried configuration is left for a next trial (finite spaces
        up to :data:`ENUMERATION_LIMIT` configurations)."""
        trials = study._storage.get_all_trials(study._study_id, deepcopy=False)
        distributions = known_distributions(trials)
        try:
            space = to_search_space(distributions)
        except (TypeError, ValueError):
            return
        if not space.names or space.size() > ENUMERATION_LIMIT:
            return
        names = set(distributions)
        if len(trials) < space.size() and all(set(t.params) == names for t in trials):
            return  # fewer trials than configurations, each using every dimension: something is left
        snapshot = self._snapshot(study, space, trials=trials)
        taken = snapshot.taken()
        if not snapshot.partial and len(taken) < space.size():
            return  # something is certainly left
        validator = self._searcher.with_method_rules(make_validator(distributions, snapshot.problems))
        configs = enumerate_configs(space, ENUMERATION_LIMIT)
        if configs is None or any(space.key(c) not in taken and not validator(c) for c in configs):
            return
        logger.info(
            "Every configuration of the search space (%g) has been tried or is running: stopping "
            "the study after trial %d (as GridSampler does)", space.size(), trial.number,
        )
        _stop(study)

    def _repeat_candidate(self, snapshot: _Snapshot) -> Config:
        """A configuration to evaluate again when nothing new is left: a finished one that
        follows the method's own rules (e.g. within a resource limit), else a random one."""
        rng = self._searcher.rng
        finished = [o.config for o in snapshot.history if len(o.config) == len(snapshot.space)]
        for i in rng.permutation(len(finished))[:RANDOM_TRIES] if finished else []:
            if not self.method.problems(finished[int(i)]):
                return dict(finished[int(i)])
        return snapshot.space.sample(rng)

    # -- bookkeeping ---------------------------------------------------------------------------
    def _count(self, name: str, reason: str | None = None, kind: str | None = None) -> None:
        with self._state_lock:
            self._counts[name] = self._counts.get(name, 0) + 1
            if reason is not None and kind is not None:
                reasons = self._reasons[kind]
                reasons[reason] = reasons.get(reason, 0) + 1

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        for name in ("_propose_lock", "_state_lock", "_claims", "_finishing", "_unclaimed", "_llm_recorded",
                     "_usage_written"):
            state.pop(name, None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._init_transient()


_COUNTERS = (
    "trials_proposed", "trials_finished", "trials_failed", "independent_from_proposal", "independent_fallbacks",
    "host_fallbacks", "claim_clashes", "exhausted_trials", "errors",
)


def _stop(study: Study) -> None:
    try:
        study.stop()
    except RuntimeError:
        # Outside Study.optimize (ask-and-tell) there is no loop to stop.
        logger.info("The study is not running in Study.optimize; the sampler cannot stop it")
