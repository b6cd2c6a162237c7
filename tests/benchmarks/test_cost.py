"""Cost per trial against the hosts' own samplers and strategies, in the same run.

Run (short, as CI does it, a few minutes)::

    .venv/bin/python -m pytest tests/benchmarks/test_cost.py

and for the README's numbers (more rounds, a markdown summary)::

    LLMNAS_BENCH_FULL=1 LLMNAS_COST_REPORT=results/cost.md .venv/bin/python -m pytest tests/benchmarks/test_cost.py

**Optuna.** A study is prefilled with ``N`` finished NAS-Bench-201 trials (1,000 and 10,000:
distinct cells, CIFAR-10 validation accuracy from the table, every 50th trial failed; the same
trials as ``test_overhead.py``, from ``nb201_data.py``), then timed over rounds of five ``ask`` + six
``suggest_categorical`` + ``tell`` cycles (one method batch: a round's time / 5 is the amortized
cost per trial). ``TPESampler(seed=0)`` runs the same rounds on the same trials in the same
session. ``operators`` rows are ``use_llm=False`` and their figure is **CPU time**
(``time.process_time``) per trial; ``llm`` rows run the whole LLM path against the instant fake
endpoint (``tests/fake_openai.py``, a thread of this process, so its CPU cannot be told apart):
their figure is the wall time minus the LLM's own round trip as the LLM object measures it. The
growth column is a sampler's cost at 10,000 over its cost at 1,000 (constant cost per trial: 1.0).

**JournalStorage.** The same cycles on a ``JournalStorage(JournalFileBackend)`` study of 1,000
trials: what the journal adds per trial, ours next to TPE's.

**NNI.** Each strategy (``use_llm=False``) and NNI's ``RegularizedEvolution`` search NAS-Bench-201
(``nas_bench_201_model_space``: look-ups in place of training) with a ``SequentialExecutionEngine``
of ``M`` models; the figures are the strategy's own CPU per model (the run's CPU minus what NNI
spends in ``engine.submit_models``: building, freezing and evaluating each model) and the whole
run's CPU per model.

Nothing here asserts a speed beyond sanity bounds (these machines are noisy); the ratios are the
point, and ``LLMNAS_COST_REPORT`` writes them.
"""

from __future__ import annotations

import datetime as _dt
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import optuna
import pytest

from llmnas.benchmarks.tables import NB201_EDGES, NB201_OPS
from llmnas.llm.resolve import resolve_llm
from optuna_llm_samplers import CoLLMNASSampler, GPTEASampler, LAPTSampler, SEKISampler
from tests.benchmarks.nb201_data import nb201_table, prefilled_study
from tests.fake_openai import FakeOpenAIServer
from tests.optuna.conftest import _quiet_optuna  # noqa: F401  (autouse: Optuna logs at WARNING)

FULL = os.environ.get("LLMNAS_BENCH_FULL", "") not in ("", "0")
REPORT = os.environ.get("LLMNAS_COST_REPORT") or None
ROUNDS = 10 if FULL else 3
"""Timed rounds per benchmark (one warm-up round more)."""
PER_ROUND = 5
"""Trials per round: one method batch (the samplers' default ``batch_size``)."""
SIZES = (1000, 10_000)
JOURNAL_SIZE = 1000
NNI_MODELS = 400 if FULL else 150
SANITY_MS = 5_000.0

SAMPLERS: dict[str, Callable[..., optuna.samplers.BaseSampler]] = {
    "SEKI": SEKISampler, "LAPT": LAPTSampler, "CoLLM-NAS": CoLLMNASSampler, "GPT-EA": GPTEASampler,
}
OPS = list(NB201_OPS)
_RESULTS: dict[str, dict[Any, Any]] = {"trial": {}, "journal": {}, "nni": {}}


@pytest.fixture(scope="module", autouse=True)
def _report() -> Iterator[None]:
    yield
    if REPORT and any(_RESULTS.values()):
        Path(REPORT).parent.mkdir(parents=True, exist_ok=True)
        Path(REPORT).write_text(_markdown())


class _Cycles:
    """Ask/suggest/tell cycles on ``study``; the median over rounds of the cost per trial (ms):
    CPU time, or with ``llm`` the wall time minus the LLM's own round trip."""

    def __init__(self, study: optuna.Study, llm: Any = None) -> None:
        self.study, self.llm = study, llm

    def one(self) -> float:
        llm_s = self.llm.usage.seconds if self.llm is not None else 0.0
        cpu, wall = time.process_time(), time.perf_counter()
        trial = self.study.ask()
        config = {edge: trial.suggest_categorical(edge, OPS) for edge in NB201_EDGES}
        self.study.tell(trial, nb201_table().objective(config))
        if self.llm is None:
            return time.process_time() - cpu
        return (time.perf_counter() - wall) - (self.llm.usage.seconds - llm_s)

    def ms_per_trial(self, benchmark: Any) -> float:
        rounds: list[float] = []

        def one_round() -> None:
            rounds.append(sum(self.one() for _ in range(PER_ROUND)) * 1000 / PER_ROUND)

        benchmark.pedantic(one_round, rounds=ROUNDS, iterations=1, warmup_rounds=1)
        return statistics.median(rounds[1:] or rounds)  # the warm-up round left out


def _sampler(name: str, n: int, llm: Any = None) -> optuna.samplers.BaseSampler:
    if name == "TPE":
        return optuna.samplers.TPESampler(seed=0)
    # planned for 2N trials, now half-way: SEKI in self-evolution, GPT-EA's reconstruction rate ~0.2
    return SAMPLERS[name](seed=0, budget=2 * n, llm=llm, use_llm=llm is not None)


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("name", ["TPE", *SAMPLERS])
def test_per_trial_operators(benchmark: Any, table: Any, name: str, n: int) -> None:
    benchmark.group = f"CPU per trial at {n} trials"
    sampler = _sampler(name, n)
    ms = _Cycles(prefilled_study(n, sampler)).ms_per_trial(benchmark)
    _RESULTS["trial"][(name, "operators", n)] = ms
    benchmark.extra_info.update(ms_per_trial=ms, n_finished=n)
    assert 0 < ms < SANITY_MS
    if name != "TPE":
        assert sampler.summary()["pipeline"]["llm_calls"] == 0


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("name", list(SAMPLERS))
def test_per_trial_fake_llm(benchmark: Any, table: Any, fake_openai: FakeOpenAIServer, name: str, n: int) -> None:
    benchmark.group = f"per trial at {n} trials, fake LLM (its round trip subtracted)"
    llm = resolve_llm(fake_openai.base_url)
    sampler = _sampler(name, n, llm)
    ms = _Cycles(prefilled_study(n, sampler), llm).ms_per_trial(benchmark)
    _RESULTS["trial"][(name, "llm", n)] = ms
    benchmark.extra_info.update(ms_per_trial=ms, n_finished=n, llm_calls=llm.usage.calls)
    assert 0 <= ms < SANITY_MS
    assert llm.usage.calls > 0, "the LLM path was not exercised"


@pytest.mark.parametrize("name", ["TPE", *SAMPLERS])
def test_journal_storage(benchmark: Any, table: Any, tmp_path: Path, name: str) -> None:
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    benchmark.group = f"CPU per trial at {JOURNAL_SIZE} trials, JournalStorage"
    storage = JournalStorage(JournalFileBackend(str(tmp_path / "journal.log")))
    ms = _Cycles(prefilled_study(JOURNAL_SIZE, _sampler(name, JOURNAL_SIZE), storage)).ms_per_trial(benchmark)
    _RESULTS["journal"][name] = ms
    benchmark.extra_info.update(ms_per_trial=ms, n_finished=JOURNAL_SIZE)
    assert 0 < ms < SANITY_MS


NNI_STRATEGIES = ["RegularizedEvolution", "SEKI", "LAPT", "CoLLM-NAS", "GPT-EA"]


@pytest.mark.parametrize("name", NNI_STRATEGIES)
def test_nni_cpu_per_model(benchmark: Any, table: Any, name: str) -> None:
    pytest.importorskip("nni")
    import nni_llm_strategies as ours
    from nni.nas.execution import SequentialExecutionEngine
    from nni.nas.strategy import RegularizedEvolution

    from nni_llm_strategies.benchmarks import nas_bench_201_model_space

    benchmark.group = f"NNI: CPU per model, {NNI_MODELS} models"
    space = nas_bench_201_model_space("cifar10")
    per_model: list[float] = []

    def run() -> None:
        if name == "RegularizedEvolution":
            strategy: Any = RegularizedEvolution()
        else:
            strategy = getattr(ours, f"{name.replace('-', '')}Strategy")(seed=0, use_llm=False, budget=NNI_MODELS)
        engine = SequentialExecutionEngine(max_model_count=NNI_MODELS)
        in_engine = [0.0]
        submit = engine.submit_models

        def timed_submit(*models: Any) -> Any:  # NNI builds, trains (looks up) and reports each model here
            start = time.process_time()
            try:
                return submit(*models)
            finally:
                in_engine[0] += time.process_time() - start

        engine.submit_models = timed_submit  # type: ignore[method-assign]
        cpu = time.process_time()
        strategy(space, engine)
        total = time.process_time() - cpu
        models = len(list(engine.list_models()))
        per_model.append(((total - in_engine[0]) * 1000 / models, total * 1000 / models))
        assert models == NNI_MODELS

    benchmark.pedantic(run, rounds=2 if FULL else 1, iterations=1)
    own, total = min(per_model)
    _RESULTS["nni"][name] = (own, total)
    benchmark.extra_info.update(own_cpu_ms_per_model=own, cpu_ms_per_model=total, models=NNI_MODELS)
    assert 0 < own <= total < SANITY_MS


def _markdown() -> str:
    trial, journal, nni = _RESULTS["trial"], _RESULTS["journal"], _RESULTS["nni"]
    lines = [
        "# Cost per trial",
        "",
        f"Written by `tests/benchmarks/test_cost.py` on {_dt.datetime.now().isoformat(timespec='seconds')}; "
        f"{'full' if FULL else 'short'} mode ({ROUNDS} timed rounds of {PER_ROUND} trials); Python "
        f"{platform.python_version()}, Optuna {optuna.__version__}, {os.cpu_count()} CPUs "
        f"({platform.platform(terse=True)}).",
        "",
    ]
    if trial:
        lines += ["## Optuna, InMemoryStorage: ms per trial (median of rounds)", "",
                  "`operators`: CPU time, `use_llm=False`. `fake LLM`: wall time minus the LLM's round trip. "
                  "Ratio: ours / TPE's at the same size, same run. Growth: ours at 10,000 / ours at 1,000.", "",
                  "| sampler | mode | " + " | ".join(f"{n:,} trials | ratio to TPE" for n in SIZES) + " | growth |",
                  "|---|---|" + "---:|---:|" * len(SIZES) + "---:|"]
        for mode in ("operators", "llm"):
            for name in ["TPE", *SAMPLERS]:
                if (name, mode, SIZES[0]) not in trial and (name, mode, SIZES[-1]) not in trial:
                    continue
                cells = []
                for n in SIZES:
                    ms, tpe = trial.get((name, mode, n)), trial.get(("TPE", "operators", n))
                    ratio = f"{ms / tpe:.2f}×" if ms is not None and tpe else "–"
                    cells.append(f"{ms:.2f} | {ratio}" if ms is not None else "– | –")
                a, b = trial.get((name, mode, SIZES[0])), trial.get((name, mode, SIZES[-1]))
                growth = f"{b / a:.2f}×" if a and b else "–"
                label = "operators" if mode == "operators" else "fake LLM"
                lines.append(f"| {name} | {label} | " + " | ".join(cells) + f" | {growth} |")
        lines.append("")
    if journal:
        lines += [f"## Optuna, JournalStorage at {JOURNAL_SIZE:,} trials: CPU ms per trial", "",
                  "Added: JournalStorage minus InMemoryStorage, same sampler, same run.", "",
                  "| sampler | JournalStorage | InMemoryStorage | added |", "|---|---:|---:|---:|"]
        for name, ms in journal.items():
            memory = trial.get((name, "operators", JOURNAL_SIZE))
            added = f"{ms - memory:+.2f}" if memory is not None else "–"
            lines.append(f"| {name} | {ms:.2f} | {memory:.2f} | {added} |" if memory is not None
                         else f"| {name} | {ms:.2f} | – | – |")
        lines.append("")
    if nni:
        base = nni.get("RegularizedEvolution")
        lines += [f"## NNI: CPU ms per model ({NNI_MODELS} models, NAS-Bench-201 look-ups, `use_llm=False`)", "",
                  "The strategy's own: the whole run's CPU minus what NNI spends in `engine.submit_models` "
                  "(building, freezing and evaluating each model, the same work whatever proposed it).", "",
                  "| strategy | own CPU ms per model | ratio to RegularizedEvolution | whole run, CPU ms per model | ratio |",
                  "|---|---:|---:|---:|---:|"]
        for name, (own, total) in nni.items():
            ratios = (f"{own / base[0]:.2f}×", f"{total / base[1]:.2f}×") if base else ("–", "–")
            lines.append(f"| {name} | {own:.2f} | {ratios[0]} | {total:.2f} | {ratios[1]} |")
        lines.append("")
    return "\n".join(lines)
