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
