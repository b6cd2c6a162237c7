"""History ranking: directions, feasibility, pruned and failed trials, Pareto fronts."""

from __future__ import annotations

import math

import pytest

from llmnas import History, InMemoryKnowledge, Observation, TrialState


def test_maximize_and_minimize_rank_opposite_ways():
    for direction, best in (("maximize", 3), ("minimize", 1)):
        h = History(directions=(direction,))
        for x in (1, 3, 2):
            h.add(Observation({"x": x}, (float(x),)))
        assert h.best().config == {"x": best}


def test_feasible_and_complete_rank_first_and_failed_not_at_all():
    h = History()
    h.add(Observation({"x": 1}, (10.0,), feasible=False))
    h.add(Observation({"x": 2}, (9.0,), state=TrialState.PRUNED))
    h.add(Observation({"x": 3}, (1.0,)))
    h.add(Observation({"x": 4}, None, state=TrialState.FAILED))
    assert [o.config["x"] for o in h.ranked()] == [3, 2, 1]
    assert h.n_failed == 1 and len(h) == 4


def test_non_finite_values_become_failed():
    for bad in (math.nan, math.inf):
        assert Observation({"x": 1}, (bad,)).state == TrialState.FAILED


def test_ties_prefer_the_latest():
    h = History()
    h.add(Observation({"x": 1}, (5.0,)))
    h.add(Observation({"x": 2}, (5.0,)))
    assert h.best().config == {"x": 2}


def test_multi_objective_ranks_by_pareto_front():
    h = History(directions=("maximize", "minimize"))
    h.add(Observation({"x": "dominated"}, (0.5, 5.0)))
    h.add(Observation({"x": "fast"}, (0.6, 1.0)))
    h.add(Observation({"x": "accurate"}, (0.9, 4.0)))
    top2 = {o.config["x"] for o in h.top(2)}
    assert top2 == {"fast", "accurate"}
    assert h.ranked()[-1].config["x"] == "dominated"
    assert "Pareto" in h.direction_text()


def test_wrong_number_of_values_is_refused():
    h = History(directions=("maximize", "minimize"))
    with pytest.raises(ValueError, match="2 objectives"):
        h.add(Observation({"x": 1}, (1.0,)))
    with pytest.raises(ValueError, match="directions"):
        History(directions=("up",))


def test_json_round_trip_keeps_everything():
    h = History(directions=("minimize",))
    h.add(Observation({"x": 1}, (0.5,), metrics={"params": 3.0}, trial_id=7))
    h.add(Observation({"x": 2}, None, state=TrialState.FAILED))
    again = History.from_json(h.to_json())
    assert again.directions == ("minimize",)
    assert [o.to_json() for o in again] == [o.to_json() for o in h]


def test_knowledge_first_writer_wins_latest_and_export(tmp_path):
    k = InMemoryKnowledge()
    assert k.put("seki/strategy/0", "a") == "a"
    assert k.put("seki/strategy/0", "b") == "a"
    k.put("seki/strategy/10", "c")
    k.put("seki/strategy/2", "d")
    assert k.latest("seki/strategy") == (10, "c")
    path = k.export(tmp_path / "k.json", provenance={"study": "s1", "host": "nni"})
    other = InMemoryKnowledge({"seki/strategy/0": "mine"})
    assert other.load(path) == {"study": "s1", "host": "nni"}
    assert other.get("seki/strategy/0") == "mine" and other.get("seki/strategy/10") == "c"
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(ValueError, match="not a knowledge file"):
        other.load(tmp_path / "bad.json")
    with pytest.raises(TypeError):
        k.put("x", object())


# -- the incremental ledger -------------------------------------------------------------------------
def _reference_ranking(history: History) -> list[Observation]:
    """The ranking as it was computed before the ledger: one full sort of the usable observations."""
    usable = [o for o in history if o.usable]
    order = sorted(enumerate(usable), key=lambda io: (io[1].feasible, io[1].state == TrialState.COMPLETE,
                                                      history.signed(io[1]), io[0]), reverse=True)
    return [o for _, o in order]


@pytest.mark.parametrize("direction", ["maximize", "minimize"])
def test_the_maintained_ranking_is_the_full_sort_after_every_add_ties_included(direction):
    import random

    rnd = random.Random(0)
    h = History(directions=(direction,))
    repeated = Observation({"x": -1}, (2.0,))
    for i in range(400):
        state = rnd.choice([TrialState.COMPLETE] * 6 + [TrialState.PRUNED, TrialState.FAILED, TrialState.RUNNING])
        value = None if state in (TrialState.FAILED, TrialState.RUNNING) else float(rnd.randint(-3, 3)) or -0.0
        obs = repeated if i % 97 == 5 else Observation({"x": i}, None if value is None else (value,), state=state,
                                                       feasible=rnd.random() > 0.2)
        h.add(obs)
        if i % 23 == 0 or i > 380:
            expected = _reference_ranking(h)
            assert [id(o) for o in h.ranked()] == [id(o) for o in expected]
            positions = {id(o): k for k, o in enumerate(expected)}  # the old cache: last place wins
            for o in list(h)[-40:] + [Observation({"x": "absent"}, (1.0,))]:
                assert h.rank_position(o) == positions.get(id(o), len(positions))
            assert h.top(5) == expected[:5] and h.best() is (expected[0] if expected else None)
            assert h.usable == [o for o in h if o.usable] and h.n_usable == len(h.usable)
            assert h.n_failed == sum(o.state == TrialState.FAILED for o in h)


def test_dedup_keys_are_kept_per_space_and_follow_adds():
    from llmnas import Categorical, SearchSpace

    space = SearchSpace([Categorical("a", [1, 2, 3]), Categorical("b", ["x", "y"])])
    h = History([Observation({"a": 1, "b": "x"}, (1.0,))])
    keys = h.keys(space)
    assert keys == {space.key({"a": 1, "b": "x"})} and h.keys(space) is keys
    h.add(Observation({"a": 2, "b": "y"}, None, state=TrialState.FAILED))  # failed trials count as tried
    assert space.key({"a": 2, "b": "y"}) in keys and len(keys) == 2
    same = SearchSpace([Categorical("a", [1, 2, 3]), Categorical("b", ["x", "y"])])
    assert h.keys(same) is keys  # an equal space shares the set
    other = SearchSpace([Categorical("a", [1, 2, 3])])
    assert h.keys(other) == {other.key({"a": 1}), other.key({"a": 2})}


def test_a_pickled_history_rebuilds_its_ledger():
    import pickle

    h = History(directions=("minimize",))
    for x in (3.0, 1.0, 2.0):
        h.add(Observation({"x": x}, (x,)))
    again = pickle.loads(pickle.dumps(h))
    assert [o.config for o in again.ranked()] == [{"x": 1.0}, {"x": 2.0}, {"x": 3.0}]
    assert again.rank_position(again[0]) == 2 and again.directions == ("minimize",)


def test_in_memory_latest_matches_a_scan_of_every_entry():
    from llmnas.knowledge import KnowledgeStore

    entries = {"a/b/3": 3, "a/b/10": 10, "a/b/x": "x", "a/b/010": "tie", "a/c/99": 99, "a/b": 0, "z/1": 1}
    store = InMemoryKnowledge(entries)
    store.put("a/b/7", 7)
    store.put("a/b/10", "ignored: first writer wins")
    for prefix in ("a/b", "a/b/", "a/c", "z", "a", "none"):
        assert store.latest(prefix) == KnowledgeStore.latest(store, prefix)
    assert store.latest("a/b") == (10, 10)
    import pickle

    assert pickle.loads(pickle.dumps(store)).latest("a/b") == (10, 10)


def test_source_statistics_are_kept_as_trials_are_added():
    from llmnas.history import SourceStats

    h = History(directions=("maximize",))
    h.add(Observation({"x": 1}, (0.5,), source="llm"))
    h.add(Observation({"x": 2}, (0.4,), source="operator:evolution"))
    h.add(Observation({"x": 3}, (0.9,), source="llm"))
    h.add(Observation({"x": 4}, (0.9,), source="operator:evolution"))  # a tie is no improvement
    h.add(Observation({"x": 5}, None, TrialState.FAILED, source="fallback"))
    stats = h.source_stats()
    assert stats["llm"] == SourceStats(trials=2, usable=2, failed=0, improvements=2)
    assert stats["operator:evolution"] == SourceStats(trials=2, usable=2, failed=0, improvements=0)
    assert stats["fallback"] == SourceStats(trials=1, usable=0, failed=1, improvements=0)
    stats["llm"].trials = 99  # a copy: the history's own stay
    assert h.source_stats()["llm"].trials == 2
    again = History.from_json(h.to_json())
    assert again.source_stats() == h.source_stats()
