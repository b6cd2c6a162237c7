"""Other searches as data: a finished study read through its public attributes, no host import.

A method that learns from another search (LAPT's ``source=``) takes a core
:class:`~llmnas.history.History`. A finished ``optuna.Study`` is turned into one here by
duck typing (``directions``, ``get_trials``, each trial's ``state``, ``values``,
``intermediate_values``, ``params``, ``user_attrs``, ``constraints``, ``number``), so that
either host adapter can accept a study without importing the other one, and the core imports
no host.

Example:
    >>> from types import SimpleNamespace as NS
    >>> trial = NS(state=NS(name="COMPLETE"), values=[0.9], intermediate_values={}, params={"op": "conv"},
    ...            user_attrs={"llmnas_source": "llm", "params_M": 1.2}, constraints={}, number=0)
    >>> study = NS(directions=[NS(name="MAXIMIZE")], get_trials=lambda deepcopy=True, states=None: [trial])
    >>> history = study_history(study)
    >>> history.best().config, history.best().metrics
    ({'op': 'conv'}, {'params_M': 1.2})
"""

from __future__ import annotations

from typing import Any

from .history import History, Observation, TrialState

ATTR_PREFIX = "llmnas_"
"""User attributes this library writes on trials (provenance), not the trial's metrics."""

_STATES = {"COMPLETE": TrialState.COMPLETE, "PRUNED": TrialState.PRUNED}


def is_study(source: Any) -> bool:
    """Whether ``source`` looks like an ``optuna.Study`` (``get_trials`` and ``directions``)."""
    return callable(getattr(source, "get_trials", None)) and hasattr(source, "directions")


def study_history(study: Any) -> History:
    """A finished (or running) study's complete and pruned trials as a :class:`History`, in
    storage order; a pruned trial keeps its last intermediate value."""
    n_objectives = len(study.directions)
    history = History(directions=[_name(d).lower() for d in study.directions], names=_metric_names(study))
    for trial in study.get_trials(deepcopy=False):
        state = _STATES.get(_name(trial.state))
        if state is None:
            continue
        values = trial.values if trial.values is not None else (
            [trial.intermediate_values[max(trial.intermediate_values)]] if trial.intermediate_values else None)
        history.add(trial_observation(trial, state, values, n_objectives))
    return history


def trial_observation(trial: Any, state: TrialState, values: Any, n_objectives: int) -> Observation:
    """One finished trial as the core sees it: its parameters, values (``None`` unless one per
    objective), metrics (scalar user attributes not written by this library, and
    ``constraint:<i>``) and feasibility (every constraint ``<= 0``)."""
    usable = values is not None and len(values) == n_objectives
    constraints = dict(getattr(trial, "constraints", None) or {})
    metrics: dict[str, Any] = {
        k: v for k, v in trial.user_attrs.items()
        if isinstance(v, (str, int, float, bool)) and not k.startswith(ATTR_PREFIX)
    }
    metrics.update({f"constraint:{k}": v for k, v in constraints.items()})
    return Observation(
        config=dict(trial.params),
        values=tuple(float(v) for v in values) if usable else None,
        state=state,
        metrics=metrics,
        feasible=all(v <= 0 for v in constraints.values()),
        trial_id=trial.number,
        source=str(trial.user_attrs.get(f"{ATTR_PREFIX}source") or ""),  # the sampler's provenance label
    )


def as_source(source: Any) -> Any:
    """A source given to a method: a study becomes its :func:`study_history`; anything else is
    returned as it is."""
    return study_history(source) if is_study(source) else source


def _name(enum_member: Any) -> str:
    return str(getattr(enum_member, "name", enum_member))


def _metric_names(study: Any) -> list[str] | None:
    """``study.metric_names``; ``None`` when unset or hidden."""
    try:
        names = study.metric_names
    except AttributeError:
        return None
    return list(names) if names is not None else None
