"""The strategy's ledger: one History appended as models end, never rebuilt, always equal to the
History rebuilt from the records (what the strategy handed the methods before the ledger)."""

from __future__ import annotations

import random

import pytest

from llmnas.history import History
from llmnas.proposals import Proposal
from nni_llm_strategies._ledger import Ledger, ModelRecord


def _rebuilt(ledger: Ledger) -> History:
    finished = sorted((r for r in ledger.records if r.state != "running"), key=lambda r: r.finish_order)
    return History([r.observation() for r in finished], directions=(ledger.optimize_mode,))


def _rows(history: History) -> list[tuple]:
    return [(o.config, o.values, o.state, dict(o.metrics), o.trial_id) for o in history]


class _Model:
    """Stands in for an ``ExecutableModelSpace``: the ledger keys models by identity."""


def test_sync_appends_to_one_history_and_ended_models_are_pending_until_then() -> None:
    ledger = Ledger("maximize")
    models = [_Model() for _ in range(3)]
    for i, model in enumerate(models):
        ledger.submit(Proposal({"x": i}, "fallback"), model)
    history = ledger.sync()
    assert len(history) == 0 and len(ledger.pending()) == 3
    ledger.final_metric(models[1], {"default": 0.5, "params": 3})
    ledger.training_end(models[1], trained=True)
    ledger.training_end(models[0], trained=False)
    assert len(history) == 0, "nothing is appended outside sync()"
    assert sorted(c["x"] for c in ledger.pending()) == [0, 1, 2], "ended models stay pending until synced"
    assert ledger.sync() is history, "the same History, appended to"
    assert [o.config["x"] for o in history] == [1, 0]  # finishing order
    assert [c["x"] for c in ledger.pending()] == [2]
    assert ledger.best().number == 2 and ledger.best().value == 0.5
    assert ledger.counts() == {"submitted": 3, "complete": 1, "failed": 1, "running": 1}


def test_a_metric_after_the_end_corrects_the_history_once() -> None:
    ledger = Ledger("maximize")
    model = _Model()
    ledger.submit(Proposal({"x": 0}, "llm"), model)
    ledger.training_end(model, trained=True)  # no metric yet: failed
    history = ledger.sync()
    assert history[0].value is None and ledger.best() is None
    ledger.final_metric(model, 0.7)  # NNI's web-UI engine may deliver it after the end
    assert ledger.best().value == 0.7
    corrected = ledger.sync()
    assert _rows(corrected) == _rows(_rebuilt(ledger)) and corrected[0].value == 0.7
    assert ledger.sync() is corrected, "rebuilt once, then appended to again"


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("mode", ["maximize", "minimize"])
def test_random_event_orders_match_the_rebuilt_history(seed: int, mode: str) -> None:
    rng = random.Random(seed)
    ledger = Ledger(mode)
    running: list[_Model] = []
    ended: list[_Model] = []
    for step in range(120):
        action = rng.random()
        if action < 0.35 or not running:
            model = _Model()
            ledger.submit(Proposal({"x": step}, "fallback"), model)
            running.append(model)
        elif action < 0.6:
            model = rng.choice(running)
            ledger.final_metric(model, rng.choice([rng.randint(0, 5) / 4, float("nan"), {"default": 0.25}, "x"]))
        elif action < 0.85:
            model = running.pop(rng.randrange(len(running)))
            ledger.training_end(model, trained=rng.random() < 0.9)
            ended.append(model)
        elif ended:
            ledger.final_metric(rng.choice(ended), rng.randint(0, 5) / 4)  # late, after the end
        if rng.random() < 0.4:
            history = ledger.sync()
            rebuilt = _rebuilt(ledger)
            assert _rows(history) == _rows(rebuilt)
            expected = rebuilt.best()
            best = ledger.best()
            assert (best.number if best else None) == (expected.trial_id if expected else None)


def test_restore_rebuilds_once_and_keeps_finishing_order() -> None:
    from llmnas.space import Categorical, SearchSpace

    space = SearchSpace([Categorical("x", list(range(10)))])
    ledger = Ledger("minimize")
    models = [_Model() for _ in range(4)]
    for i, model in enumerate(models):
        ledger.submit(Proposal({"x": i}, "llm"), model)
    for i in (2, 0, 3):
        ledger.final_metric(models[i], float(i))
        ledger.training_end(models[i], trained=True)
    ledger.sync()
    items = ledger.to_state(space)
    restored = Ledger("minimize")
    restored.restore(items, space, counter=4, max_in_flight=4)
    assert _rows(restored.history) == _rows(ledger.history)
    assert [r.config["x"] for r in restored.orphans.values()] == [1]
    assert restored.best().config == {"x": 0} and restored.counter == 4
    assert isinstance(restored.records[0], ModelRecord)


def test_the_strategy_keeps_one_history_for_the_whole_run() -> None:
    from nni.nas.execution import SequentialExecutionEngine

    from nni_llm_strategies import SEKIStrategy
    from nni_llm_strategies.benchmarks import nas_bench_201_model_space

    strategy = SEKIStrategy(use_llm=False, seed=0)
    seen: list[int] = []
    searcher_next = strategy.searcher.next_proposals

    def spy(space, history, *args, **kwargs):  # the History each proposal gets
        seen.append(id(history))
        return searcher_next(space, history, *args, **kwargs)

    strategy.searcher.next_proposals = spy  # type: ignore[method-assign]
    strategy(nas_bench_201_model_space("cifar10"), SequentialExecutionEngine(max_model_count=12))
    assert len(seen) >= 2 and len(set(seen)) == 1, "one History, never rebuilt"
    assert strategy.history() is strategy.history() and len(strategy.history()) == 12
    assert strategy.history().best().value == strategy.summary()["best"]
