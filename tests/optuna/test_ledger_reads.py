"""How the ledger reads an ``InMemoryStorage``: only the trials it looks at, one by one (no copy
of the whole trial list per call), seeing what ``get_all_trials`` shows."""

from __future__ import annotations

import optuna
from optuna.distributions import CategoricalDistribution
from optuna.storages import InMemoryStorage

from optuna_llm_samplers import SEKISampler
from optuna_llm_samplers._ledger import StudyLedger, TrialsView, read_trials

OPS = ["a", "b", "c"]
DISTS = {f"e{i}": CategoricalDistribution(OPS) for i in range(3)}


def _objective(trial: optuna.Trial) -> float:
    return sum(OPS.index(trial.suggest_categorical(f"e{i}", OPS)) for i in range(3))


def _study(n: int) -> optuna.Study:
    study = optuna.create_study(direction="maximize")
    study.add_trials([optuna.trial.create_trial(params={f"e{i}": OPS[(k >> i) % 3] for i in range(3)},
                                                distributions=DISTS, value=float(k)) for k in range(n)])
    return study


def test_a_view_shows_the_trials_get_all_trials_shows() -> None:
    study = _study(12)
    storage, study_id = study._storage, study._study_id
    assert isinstance(read_trials(storage, study_id, 0), list)  # a first read: one list
    running = study.ask()
    view = read_trials(storage, study_id, 10)
    assert isinstance(view, TrialsView) and len(view) == 13
    assert [t.number for t in view] == list(range(13)) and view[-1].number == running.number
    full = storage.get_all_trials(study_id, deepcopy=False)
    assert [(t._trial_id, t.state, t.params) for t in view] == [(t._trial_id, t.state, t.params) for t in full]
    assert [t.number for t in view[11:]] == [11, 12]
    study.ask()  # created after the view: not in it
    assert len(view) == 13 and len(read_trials(storage, study_id, 13)) == 14
    assert isinstance(read_trials(storage, study_id, 99), list)  # a cursor the storage does not reach


def test_a_ledger_fed_views_matches_one_fed_full_reads() -> None:
    study = _study(20)
    storage, study_id = study._storage, study._study_id
    by_view = StudyLedger(storage, ["maximize"], None)
    by_list = StudyLedger(storage, ["maximize"], None)
    for step in range(6):
        trial = study.ask()
        for i in range(3):
            trial.suggest_categorical(f"e{i}", OPS)
        if step % 2:
            study.tell(trial, float(step))
        by_view.apply(by_view.scan(read_trials(storage, study_id, by_view.cursor), {}))
        by_list.apply(by_list.scan(storage.get_all_trials(study_id, deepcopy=False), {}))
        assert [(o.trial_id, o.values) for o in by_view.history] == [(o.trial_id, o.values) for o in by_list.history]
        assert by_view.cursor == by_list.cursor and by_view.unsettled() == by_list.unsettled()


class _CountingStorage(InMemoryStorage):
    """Counts full reads (a subclass: the ledger reads it with ``get_all_trials``)."""

    def __init__(self) -> None:
        super().__init__()
        self.full_reads = 0

    def get_all_trials(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        self.full_reads += 1
        return super().get_all_trials(*args, **kwargs)


def test_a_sampler_copies_no_trial_list_per_trial(monkeypatch) -> None:
    calls = {"n": 0}
    original = InMemoryStorage.get_all_trials

    def counted(self, study_id, deepcopy=True, states=None):  # type: ignore[no-untyped-def]
        if states is None:  # Optuna's own WAITING look-up passes states
            calls["n"] += 1
        return original(self, study_id, deepcopy, states)

    study = optuna.create_study(direction="maximize", sampler=SEKISampler(seed=0, use_llm=False, budget=40))
    study.optimize(_objective, n_trials=10)
    monkeypatch.setattr(InMemoryStorage, "get_all_trials", counted)
    study.optimize(_objective, n_trials=10)
    assert calls["n"] == 0


def test_other_storages_are_read_whole() -> None:
    storage = _CountingStorage()
    study = optuna.create_study(direction="maximize", storage=storage,
                                sampler=SEKISampler(seed=0, use_llm=False, budget=20))
    study.optimize(_objective, n_trials=6)
    assert storage.full_reads > 0 and len(study.trials) == 6
