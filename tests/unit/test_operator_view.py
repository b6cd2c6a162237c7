"""What the method's operator sees of the study under the trust rule (``llmnas.operator_view``)
and the turn's shares: the LLM's architectures join the operator's view only once they rank in
its top quarter and the rule has evidence for the LLM; the operator keeps whole batches."""

from __future__ import annotations

import pytest

from llmnas import History, Observation
from llmnas.operator_view import OperatorView
from llmnas.trust import LLM_SOURCES as LLM
from llmnas.trust import Arm, Turn


def _obs(x: int, value: float | None, source: str, state: str = "complete") -> Observation:
    return Observation({"x": x}, None if value is None else (value,), state=state, source=source)


def _xs(history: History) -> list[int]:
    return [o.config["x"] for o in history]


def test_the_llms_losing_architectures_stay_out_and_its_winners_join() -> None:
    history = History([_obs(i, 10.0 + i, "fallback") for i in range(7)])  # 10 .. 16
    history.add(_obs(100, 1.0, "llm"))        # below every operator trial
    history.add(_obs(101, 15.5, "llm-reask"))  # second of 8: in the top quarter (2 of 8)
    history.add(_obs(102, 13.0, "llm"))       # fifth: out
    history.add(_obs(103, None, "llm", state="failed"))
    history.add(_obs(7, 9.0, "fixed"))         # the host's: always in, even the worst
    view = OperatorView(LLM).update(history)
    assert _xs(view) == [0, 1, 2, 3, 4, 5, 6, 101, 7]
    assert view.best().config == {"x": 6}


def test_an_llm_architecture_waits_until_there_is_something_to_rank_it_against() -> None:
    history = History([_obs(100, 50.0, "llm"), _obs(101, 1.0, "llm")])
    view = OperatorView(LLM)
    assert len(view.update(history)) == 0 and len(view.waiting) == 2
    for i in range(3):
        history.add(_obs(i, 10.0 + i, "operator:ga"))
    assert _xs(view.update(history)) == [0, 100, 1, 2]  # joins once it ranks first of the view
    assert [o.config["x"] for o in view.waiting] == [101]


def test_without_evidence_for_the_llm_the_view_is_the_operators_alone() -> None:
    history = History([_obs(i, float(i), "fallback") for i in range(8)] + [_obs(100, 99.0, "llm")])
    view = OperatorView(LLM)
    assert 100 not in _xs(view.update(history, include_llm=False))
    assert 100 in _xs(view.update(history, include_llm=True))  # built again when the evidence comes
    assert 100 not in _xs(view.update(history, include_llm=False))


def test_the_view_grows_with_the_study_and_equals_one_built_afresh() -> None:
    history, view = History(), OperatorView(LLM)
    values = [3.0, 7.0, 1.0, 9.0, 4.0, 8.0, 2.0, 6.0, 5.0, 10.0, 0.5, 11.0]
    for i, value in enumerate(values):
        history.add(_obs(i, value, "llm" if i % 3 == 2 else "fallback"))
        grown = view.update(history)
        copy = History(list(history), history.directions)  # a host's copy shares the observations
        assert view.update(copy) is grown
    fresh = OperatorView(LLM).update(History(list(history), history.directions))
    assert _xs(grown) == _xs(fresh)
    rebuilt = OperatorView(LLM)
    rebuilt.update(History([_obs(i, v, "fallback") for i, v in enumerate(values)]))
    assert _xs(rebuilt.update(history)) == _xs(fresh)  # other observations: built again from the start


def test_lower_is_better_and_bad_settings() -> None:
    history = History([_obs(i, float(i), "fallback") for i in range(8)], directions=("minimize",))
    history.add(_obs(100, -1.0, "llm"))
    history.add(_obs(101, 7.5, "llm"))
    assert _xs(OperatorView(LLM).update(history))[-1] == 100 and 101 not in _xs(OperatorView(LLM).update(history))
    with pytest.raises(ValueError, match=r"admit_fraction must be in \[0, 1\]"):
        OperatorView(LLM, admit_fraction=1.5)


def test_the_operator_keeps_whole_batches_and_learns_from_the_llm_only_on_evidence() -> None:
    even, strong, weak = Arm(5, 5), Arm(9, 1), Arm(2, 8)
    assert Turn(5, 2, even, even, "shared").operator_slots == 5  # the LLM's two come on top
    assert Turn(15, 15, strong, weak, "all").operator_slots == 0
    assert Turn(5, 0, even, even, "operator").operator_slots == 5
    assert Turn(5, 5, strong, weak, "x").llm_proven
    assert not Turn(5, 5, Arm(3, 2), Arm(2, 3), "x").llm_proven  # ahead, but on five trials each
    assert not Turn(5, 5, strong, Arm(0, 0), "x").llm_proven  # nothing to compare with yet
    assert not Turn(5, 5, weak, strong, "x").llm_proven


def test_a_restarted_or_copied_searcher_goes_on_with_the_operators_stream() -> None:
    """The operator's random stream travels in the searcher's state_dict and a pickled copy
    builds its view again from the study: both propose the next batch the original proposes."""
    import pickle

    from llmnas import InMemoryKnowledge
    from llmnas.methods import SEKI
    from llmnas.searcher import Searcher
    from tests.fake_openai import FakeOpenAIServer
    from tests.unit.test_trust import SPACE, _run

    with FakeOpenAIServer(responder=lambda body, schema, rng: "no JSON") as server:
        first = Searcher(SEKI(budget=60), llm=server.base_url, seed=0, llm_retries=0)
        history = _run(first, 30)
        again = Searcher(SEKI(budget=60), llm=server.base_url, seed=0, llm_retries=0)
        again.load_state_dict(first.state_dict(SPACE), SPACE)
        copied = pickle.loads(pickle.dumps(first))
        assert copied.operator_view is not None and copied.operator_view.view is None  # not pickled
        batches = [s.next_proposals(SPACE, history, [], InMemoryKnowledge(), n=5, budget=60)
                   for s in (first, again, copied)]
    configs = [[p.config for p in batch] for batch in batches]
    assert configs[0] == configs[1] == configs[2] and len(configs[0]) == 5


def test_a_store_that_fails_to_tell_lapts_warm_start_costs_no_batch() -> None:
    """LAPT asks its knowledge whether principles were imported before it tells the searcher
    that a batch is its own; a store that raises then leaves the decision to the rule, and the
    host still gets its proposals."""
    from llmnas import InMemoryKnowledge
    from llmnas.methods import LAPT
    from llmnas.searcher import Searcher
    from tests.fake_openai import FakeOpenAIServer
    from tests.unit.test_trust import SPACE

    class Broken(InMemoryKnowledge):
        def transferred(self, key):
            raise OSError("storage down")

    with FakeOpenAIServer(responder=lambda body, schema, rng: "no JSON") as server:
        searcher = Searcher(LAPT(warmup=10), llm=server.base_url, seed=0, llm_retries=0)
        proposals = searcher.next_proposals(SPACE, History(), [], Broken(), n=5, budget=40)
    assert len(proposals) == 5 and len({SPACE.key(p.config) for p in proposals}) == 5
