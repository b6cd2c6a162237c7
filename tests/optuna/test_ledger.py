"""The sampler's ledger: what a study has tried, read incrementally (only trials new or
unfinished since the last call), in the order a full read gives."""

from __future__ import annotations

import pickle

import optuna
from optuna.distributions import CategoricalDistribution
from optuna.trial import TrialState

from optuna_llm_samplers import SEKISampler
from optuna_llm_samplers._ledger import Snapshot, StudyLedger, observation
from optuna_llm_samplers._space import to_search_space

OPS = ["a", "b", "c"]
DISTS = {f"e{i}": CategoricalDistribution(OPS) for i in range(3)}


def _objective(trial: optuna.Trial) -> float:
    return sum(OPS.index(trial.suggest_categorical(f"e{i}", OPS)) for i in range(3))


def _full_read(study: optuna.Study) -> list[tuple]:
    n = len(study.directions)
    return [(o.trial_id, tuple(sorted(o.config.items())), o.values, o.state)
            for o in (observation(t, t.state, t.values, n) for t in study.get_trials(deepcopy=False)
                      if t.state.is_finished())]


def test_the_ledger_reads_only_new_and_unfinished_trials() -> None:
    study = optuna.create_study(direction="maximize")
    study.add_trials([optuna.trial.create_trial(params={f"e{i}": OPS[(k >> i) % 3] for i in range(3)},
                                                distributions=DISTS, value=float(k)) for k in range(20)])
    running = study.ask()  # stays unfinished
    ledger = StudyLedger(study._storage, ["maximize"], None)
    ledger.apply(ledger.scan(study._storage.get_all_trials(study._study_id, deepcopy=False), {}))
    assert len(ledger.history) == 20
    trials = study._storage.get_all_trials(study._study_id, deepcopy=False)
    delta = ledger.scan(trials, {})
    assert [n for n, _ in delta.open] == [running.number] and not delta.settled and not delta.added
    study.tell(running, 1.0)
    delta = ledger.scan(study._storage.get_all_trials(study._study_id, deepcopy=False), {})
    assert [t.number for _, t in delta.settled] == [running.number] and len(delta.added) == 1
    ledger.apply(delta)
    assert [o.trial_id for o in ledger.history] == list(range(21))


def test_the_sampler_history_matches_a_full_read_and_survives_pickling() -> None:
    sampler = SEKISampler(seed=0, use_llm=False)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(_objective, n_trials=12)
    study.add_trial(optuna.trial.create_trial(state=TrialState.FAIL, params={"e0": "a", "e1": "a", "e2": "a"},
                                              distributions=DISTS))
    study.optimize(_objective, n_trials=3)
    space = sampler._known_distributions(study, study.get_trials(deepcopy=False))
    assert list(space) == ["e0", "e1", "e2"]
    ledger = sampler._ledgers[(id(study._storage), study._study_id)]
    seen = [(o.trial_id, tuple(sorted(o.config.items())), o.values, o.state) for o in ledger.history]
    assert seen[:-1] == _full_read(study)[:len(seen) - 1]  # the last trial joins at the next call
    copy = pickle.loads(pickle.dumps(sampler))  # the ledger is process memory: rebuilt from storage
    assert copy._ledgers == {}
    snapshot = copy._snapshot(study, to_search_space(space))
    assert [(o.trial_id, o.values) for o in snapshot.history] == [(k[0], k[2]) for k in _full_read(study)]
    assert isinstance(snapshot, Snapshot) and snapshot.n_taken() == len({k[1] for k in _full_read(study)})

