"""Overhead benchmarks: what our samplers and strategies cost per trial, LLM excluded, and how
big the prompts get as the history grows.

**(a) Time per trial, LLM off the clock, against TPE.** A study is filled with ``N`` finished
NAS-Bench-201 trials (``study.add_trials``: distinct cells, CIFAR-10 validation accuracy from
the table, every 50th trial failed) and then timed over rounds of five trials, each one
``study.ask()`` + ``suggest_categorical`` for the six edges + ``study.tell()``. A round is one
method batch (``batch_size=5``): the sampler asks the method once per five trials and serves
the other four from its buffer, so a round's time / 5 is the amortized per-trial cost, not the
cost of a lucky buffered trial. The study persists across rounds (``N`` .. ``N + 5·rounds``), so
knowledge, LLM call budget and buffer are in their steady state. ``TPESampler(seed=0)`` runs
the same rounds on the same trials in the same session; the ratio is ours / TPE.
pytest-benchmark's statistics are per trial (``iterations=5`` per round).

Two ways to keep the LLM off the clock, both reported:

- ``operators``: ``use_llm=False``. Every batch comes from the method's own non-LLM path
  (SEKI/CoLLM-NAS: mutation of good trials; LAPT: the same operator over the whole space,
  since no principles can be learned without an LLM; GPT-EA: GA + random refill). No LLM code runs at all: this is purely our
  code, and what pytest-benchmark's own statistics show for these rows.
- ``llm``: the full LLM path against the instant fake endpoint (``tests/fake_openai.py``):
  prompts built, the answer parsed, validated, deduplicated, re-asked, knowledge written. The
  LLM's round trip is subtracted, as the LLM object itself measures it (``llm.usage.seconds``:
  the wall time of each ``complete`` exchange, i.e. the ``openai`` client, loopback HTTP and the
  fake server's answer generation). Measuring only our code this way is exact up to timer
  resolution; pytest-benchmark's statistics for these rows *include* the fake round trip, and
  ``extra_info`` holds the figures without it.

A buffered-answer stub (an in-process LLM object) was not used: it would time our code the same
way as the subtraction but skip the real client's request building and answer parsing, which is
not ours either, so nothing would be gained.

**(b) Prompt tokens as the history grows.** Prompts are built by the core (``llmnas/prompts``)
from the ``History`` a host hands over, so they are measured with the core ``Searcher`` (what
both hosts call) over a ``History`` of 100, 1,000 and 10,000 finished NAS-Bench-201 trials
(nested: the same first trials), against the fake endpoint. A few batches run at each size
(their results are added to the history), so stateful prompts have state: SEKI shows a previous
strategy, LAPT has learned and adapts, CoLLM-NAS's Navigator conversation grows by one exchange
a round (the full mode runs 10 rounds: past ``navigator_memory``, its steady state). Tokens are
the fake server's count, which it also reports as ``usage.prompt_tokens`` (checked): per
message ``len(content) // 4 + 4``. The project has no tokenizer; its only estimate (for servers
that omit usage, ``llmnas/llm/openai_chat.py``) is the same characters / 4, and real tokenizers
differ by a factor, not in growth. First attempts and re-asks (the pipeline's one re-ask, which
adds the rejected answer and the problems, both bounded) are told apart; the assertion — the
largest first-attempt prompt of every purpose at 10,000 trials is at most 1.2× that at 1,000 —
is the design property "history lists in prompts are bounded" (``llmnas/prompts/common.py``).
Re-asks are reported, not asserted: how often the fake model repeats a tried architecture grows
as the space fills (10,000 of NAS-Bench-201's 15,625 cells). The benchmark time of these tests
is the three runs together; ``extra_info`` has the core's time per proposal at each size.

**NNI.** The strategy's per-model bookkeeping at 100 and 1,000 records: ``history()`` (rebuilt
from the records on every proposal and every training end), ``state_dict()`` (a checkpoint),
and one model's proposal cycle as ``LLMStrategy`` runs it (``history()`` + the searcher with
NNI's own ``freeze`` validation + ``history().best()`` at training end), ``use_llm=False``.
Records are restored with ``load_state_dict``; no experiment is started. Importing NNI takes
5-20 s here, so the short mode measures this only when NNI is already loaded (a run that
includes the NNI tests); the full mode always does.

Modes: the default run is short (3 timed rounds, few batches) for CI. ``LLMNAS_BENCH_FULL=1``
runs 10 rounds and more batches. ``LLMNAS_BENCH_REPORT=path.md`` writes a markdown summary of
every number measured in the session (the README's numbers come from that file)::

    LLMNAS_BENCH_FULL=1 LLMNAS_BENCH_REPORT=overhead.md .venv/bin/python -m pytest tests/benchmarks/test_overhead.py

No speed is asserted beyond generous sanity bounds: the machines are noisy; the numbers are the
point.
"""

from __future__ import annotations

import datetime as _dt
import functools
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import optuna
import pytest

from llmnas import History, InMemoryKnowledge, Observation, Searcher
from llmnas.benchmarks.tables import NB201_EDGES, NB201_OPS, NasBench201Table
from tests.optuna.conftest import _quiet_optuna  # noqa: F401  (autouse: Optuna logs at WARNING)
from llmnas.history import TrialState
from llmnas.llm.resolve import resolve_llm
from llmnas.methods import SEKI
from llmnas.methods.collm_nas import CoLLMNAS
from llmnas.methods.gpt_ea import GPTEA
from llmnas.methods.lapt import LAPT
from optuna_llm_samplers import CoLLMNASSampler, GPTEASampler, LAPTSampler, SEKISampler
from tests.benchmarks.nb201_data import nb201_table, observations, prefilled_study
from tests.fake_openai import FakeOpenAIServer

FULL = os.environ.get("LLMNAS_BENCH_FULL", "") not in ("", "0")
REPORT = os.environ.get("LLMNAS_BENCH_REPORT") or None

ROUNDS = 10 if FULL else 3
"""Timed rounds per benchmark (one warm-up round more)."""
TRIALS_PER_ROUND = 5
"""One method batch (the samplers' default ``batch_size``)."""
TRIAL_SIZES = (100, 1000)
PROMPT_SIZES = (100, 1000, 10_000)
SANITY_MS_PER_TRIAL = 5_000.0
"""A generous bound: no cycle of ask/suggest/tell should take 5 s outside the LLM."""

SAMPLERS: dict[str, Callable[..., optuna.samplers.BaseSampler]] = {
    "SEKI": SEKISampler, "LAPT": LAPTSampler, "CoLLM-NAS": CoLLMNASSampler, "GPT-EA": GPTEASampler,
}

OPS = list(NB201_OPS)

_RESULTS: dict[str, dict[Any, dict[str, Any]]] = {"trial": {}, "prompt": {}, "nni": {}}


@pytest.fixture(scope="module", autouse=True)
def _report() -> Iterator[None]:
    """Write the markdown summary at the end of the module when LLMNAS_BENCH_REPORT names a file."""
    yield
    if REPORT and any(_RESULTS.values()):
        path = Path(REPORT)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_markdown())


# -- (a) per-trial overhead ---------------------------------------------------------------------
class _Trials:
    """One ask/suggest/tell cycle per call, keeping each call's wall time, LLM time and calls.

    pytest-benchmark runs it ``TRIALS_PER_ROUND`` times per round (``iterations``), so its
    statistics are per trial, averaged over one method batch."""

    def __init__(self, study: optuna.Study, llm: Any = None) -> None:
        self.study, self.llm = study, llm
        self.wall: list[float] = []
        self.llm_s: list[float] = []
        self.calls: list[int] = []

    def __call__(self) -> None:
        seconds = self.llm.usage.seconds if self.llm is not None else 0.0
        calls = self.llm.usage.calls if self.llm is not None else 0
        start = time.perf_counter()
        trial = self.study.ask()
        config = {edge: trial.suggest_categorical(edge, OPS) for edge in NB201_EDGES}
        self.study.tell(trial, nb201_table().objective(config))
        self.wall.append(time.perf_counter() - start)
        self.llm_s.append((self.llm.usage.seconds - seconds) if self.llm is not None else 0.0)
        self.calls.append((self.llm.usage.calls - calls) if self.llm is not None else 0)

    def run(self, benchmark: Any) -> None:
        benchmark.pedantic(self, rounds=ROUNDS, iterations=TRIALS_PER_ROUND, warmup_rounds=1)

    def ms_per_trial(self) -> dict[str, float]:
        """Median over the timed rounds of (wall - LLM) per trial; the warm-up round and
        pytest-benchmark's extra call after looped rounds are left out (a disabled benchmark
        runs one trial: that one is used)."""
        k = TRIALS_PER_ROUND
        start, stop = k, k * (ROUNDS + 1)  # after the warm-up round, before the extra call
        if len(self.wall) < stop:  # benchmarks disabled: one call, no warm-up
            start, stop, k = 0, len(self.wall), 1
        wall, llm_s, calls = self.wall[start:stop], self.llm_s[start:stop], self.calls[start:stop]
        ours = [sum(w - s for w, s in zip(wall[i:i + k], llm_s[i:i + k])) * 1000 / k for i in range(0, len(wall), k)]
        fake = [sum(llm_s[i:i + k]) * 1000 / k for i in range(0, len(wall), k)]
        return {
            "ms_per_trial": statistics.median(ours),
            "ms_per_trial_min": min(ours),
            "ms_per_trial_max": max(ours),
            "llm_ms_per_trial": statistics.median(fake),
            "llm_calls_per_trial": sum(calls) / len(calls),
            "rounds": len(ours),
        }


_TPE: dict[int, float] = {}


def _tpe_ms(n: int) -> float:
    """TPE's median ms per trial at ``n`` in this session (measured here if its test did not run)."""
    if n not in _TPE:
        trials = _Trials(prefilled_study(n, optuna.samplers.TPESampler(seed=0)))
        for _ in range(TRIALS_PER_ROUND * (ROUNDS + 1)):
            trials()
        _TPE[n] = trials.ms_per_trial()["ms_per_trial"]
    return _TPE[n]


@pytest.mark.parametrize("n", TRIAL_SIZES)
def test_tpe_per_trial(benchmark: Any, table: NasBench201Table, n: int) -> None:
    benchmark.group = f"per trial at {n} finished trials"
    trials = _Trials(prefilled_study(n, optuna.samplers.TPESampler(seed=0)))
    trials.run(benchmark)
    result = trials.ms_per_trial()
    _TPE[n] = result["ms_per_trial"]
    benchmark.extra_info.update(n_finished=n, **result)
    _RESULTS["trial"][("TPE", "-", n)] = result
    assert 0 < result["ms_per_trial"] < SANITY_MS_PER_TRIAL


@pytest.mark.parametrize("n", TRIAL_SIZES)
@pytest.mark.parametrize("mode", ["operators", "llm"])
@pytest.mark.parametrize("method", list(SAMPLERS))
def test_sampler_per_trial(benchmark: Any, table: NasBench201Table, fake_openai: FakeOpenAIServer,
                           method: str, mode: str, n: int) -> None:
    benchmark.group = f"per trial at {n} finished trials"
    llm = resolve_llm(fake_openai.base_url) if mode == "llm" else None
    # A study planned for 2N trials, now half-way: SEKI is in self-evolution (two calls per
    # batch), GPT-EA's reconstruction rate is about 0.2, nothing runs past its budget.
    # trust=False: every batch takes the LLM path (the most it can add per trial); with the trust
    # rule a losing fake LLM is asked too rarely for a timed window to see it.
    sampler = SAMPLERS[method](seed=0, budget=2 * n, llm=llm, use_llm=mode == "llm", trust=False)
    trials = _Trials(prefilled_study(n, sampler), llm)
    trials.run(benchmark)
    result = trials.ms_per_trial()
    tpe = _tpe_ms(n)
    result.update(tpe_ms_per_trial=tpe, ratio_vs_tpe=result["ms_per_trial"] / tpe)
    benchmark.extra_info.update(n_finished=n, mode=mode, **result)
    _RESULTS["trial"][(method, mode, n)] = result
    assert 0 <= result["ms_per_trial"] < SANITY_MS_PER_TRIAL
    summary = sampler.summary()
    if mode == "llm":
        assert result["llm_calls_per_trial"] > 0, "the LLM path was not exercised"
    else:
        assert summary["pipeline"]["llm_calls"] == 0
    assert summary["sampler"]["errors"] == 0


# -- (b) prompt tokens as the history grows -----------------------------------------------------
def _seki_evolution(n: int) -> tuple[SEKI, int]:
    return SEKI(), 2 * n + 200  # λ = 0.6 · (2n + 200) > n + 50: self-evolution throughout


def _seki_inspiration(n: int) -> tuple[SEKI, int]:
    return SEKI(), n + 50  # λ = 0.6 · (n + 50) < n: knowledge inspiration


PROMPT_METHODS: dict[str, tuple[Callable[[int], tuple[Any, int]], int, int]] = {
    # name: (method and planned budget at n, batches in short mode, batches in full mode)
    "SEKI (self-evolution)": (_seki_evolution, 2, 8),  # batch 2 on: a previous strategy is shown
    "SEKI (inspiration)": (_seki_inspiration, 1, 8),
    "LAPT": (lambda n: (LAPT(), 2 * n), 1, 8),  # batch 1: learn, then adapt (the warm start is over)
    # The Navigator's conversation holds the opening and one more exchange per round, up to
    # navigator_memory=4 (full from the 6th round): short mode compares rounds 1-3, full mode
    # the steady state.
    "CoLLM-NAS": (lambda n: (CoLLMNAS(), 2 * n), 3, 10),
    "GPT-EA": (lambda n: (GPTEA(), 2 * n), 1, 8),
}


def _tokens(body: dict[str, Any]) -> int:
    """The fake server's prompt token count (what it reports as ``usage.prompt_tokens``)."""
    texts = [str(m.get("content", "")) for m in body.get("messages") or [] if isinstance(m, dict)]
    return sum((max(1, len(text) // 4) if text else 0) + 4 for text in texts)


def _purpose(body: dict[str, Any]) -> str:
    fmt = body.get("response_format") or {}
    return str((fmt.get("json_schema") or {}).get("name") or fmt.get("type") or "text")


def _prompt_sizes(bodies: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """Largest and last prompt per purpose; a re-ask (the same purpose right after, its
    conversation the previous one plus the answer and the problems) is kept apart."""
    out: dict[str, dict[str, int]] = {}
    previous: dict[str, Any] | None = None
    for body in bodies:
        purpose = _purpose(body)
        messages = body.get("messages") or []
        reask = (previous is not None and _purpose(previous) == purpose
                 and len(messages) == len(previous["messages"]) + 2
                 and messages[: len(previous["messages"])] == previous["messages"])
        key = f"{purpose} (re-ask)" if reask else purpose
        tokens = _tokens(body)
        entry = out.setdefault(key, {"max": 0, "last": 0, "requests": 0, "chars": 0})
        entry.update(max=max(entry["max"], tokens), last=tokens, requests=entry["requests"] + 1,
                     chars=max(entry["chars"], sum(len(str(m.get("content", ""))) for m in messages)))
        previous = body
    return out


def _prompts_at(server: FakeOpenAIServer, name: str, n: int) -> tuple[dict[str, dict[str, int]], float, float]:
    """Run a few batches with a history of ``n`` trials; the prompt sizes, the median ms per
    proposal outside the LLM and the ms the LLM took per proposal."""
    make, short, full = PROMPT_METHODS[name]
    method, budget = make(n)
    table, space = nb201_table(), nb201_table().space()
    history = History(observations(n), directions=("maximize",))
    llm = resolve_llm(server.base_url)
    searcher = Searcher(method, llm=llm, seed=0)
    knowledge = InMemoryKnowledge()
    server.reset()
    ours: list[float] = []
    llm_ms: list[float] = []
    for _ in range(full if FULL else short):
        seconds = llm.usage.seconds
        start = time.perf_counter()
        proposals = searcher.next_proposals(space, history, [], knowledge, method.batch_size, budget=budget)
        wall = time.perf_counter() - start
        ours.append((wall - (llm.usage.seconds - seconds)) * 1000 / len(proposals))
        llm_ms.append((llm.usage.seconds - seconds) * 1000 / len(proposals))
        for p in proposals:
            history.add(Observation(p.config, (table.objective(p.config),)))
    bodies = [r.body for r in server.chat_requests]
    assert sum(_tokens(b) for b in bodies) == llm.usage.prompt_tokens  # the count the server reported
    return _prompt_sizes(bodies), statistics.median(ours), statistics.median(llm_ms)


@pytest.mark.parametrize("name", list(PROMPT_METHODS))
def test_prompt_tokens_bounded(benchmark: Any, table: NasBench201Table, fake_openai: FakeOpenAIServer,
                               name: str) -> None:
    benchmark.group = "prompt tokens: history of 100, 1,000, 10,000 trials"
    sizes: dict[int, dict[str, dict[str, int]]] = {}
    per_proposal: dict[int, tuple[float, float]] = {}

    def run() -> None:
        for n in PROMPT_SIZES:
            sizes[n], ours, llm_ms = _prompts_at(fake_openai, name, n)
            per_proposal[n] = (ours, llm_ms)

    benchmark.pedantic(run, rounds=1, iterations=1)
    small, big = sizes[1000], sizes[PROMPT_SIZES[-1]]
    first = sorted(p for p in big if not p.endswith("(re-ask)"))
    assert first, f"{name}: no prompt was sent"
    result = {
        "batches": PROMPT_METHODS[name][2 if FULL else 1],
        "tokens": {n: {p: s["max"] for p, s in sizes[n].items()} for n in PROMPT_SIZES},
        "ms_per_proposal_excl_llm": {n: round(v[0], 2) for n, v in per_proposal.items()},
        "llm_ms_per_proposal": {n: round(v[1], 2) for n, v in per_proposal.items()},
    }
    benchmark.extra_info.update(result)
    _RESULTS["prompt"][name] = result
    for purpose in first:
        assert purpose in small, f"{name}: {purpose} prompts at 10,000 trials but not at 1,000"
        assert big[purpose]["max"] <= 1.2 * small[purpose]["max"], (
            f"{name}: the {purpose} prompt grew from {small[purpose]['max']} tokens at 1,000 trials to "
            f"{big[purpose]['max']} at {PROMPT_SIZES[-1]:,}: a history list in it is not bounded")


# -- NNI: per-model bookkeeping -----------------------------------------------------------------
@functools.lru_cache(maxsize=None)
def _nni_strategy(n: int) -> Any:
    if not FULL and "nni" not in sys.modules:
        pytest.skip("importing NNI takes 5-20 s on this machine: in short mode the NNI bookkeeping is measured "
                    "only when NNI is loaded already (a run with the NNI tests); LLMNAS_BENCH_FULL=1 always does")
    pytest.importorskip("nni")
    from nni_llm_strategies import SEKIStrategy
    from nni_llm_strategies._space import convert_space
    from nni_llm_strategies.benchmarks import nas_bench_201_space

    strategy = SEKIStrategy(seed=0, use_llm=False, budget=2 * n)
    # What ``_initialize`` does with a real engine (no experiment is started here).
    strategy._nni_space = convert_space(nas_bench_201_space())
    space = strategy._nni_space.space
    state = strategy.state_dict()
    state["records"] = [
        {"number": k, "config": space.encode(o.config), "source": "fallback",
         "state": "failed" if o.state == TrialState.FAILED else "complete", "value": o.value, "metrics": {},
         "submitted_at": float(k), "finished_at": float(k) + 0.5}
        for k, o in enumerate(observations(n))
    ]
    strategy.load_state_dict(state)
    assert len(strategy.history()) == n
    return strategy


def _nni_propose_one(strategy: Any, n: int) -> Callable[[], None]:
    nni_space = strategy._nni_space

    def one_model() -> None:  # as LLMStrategy._propose and _on_training_end do for one model
        history = strategy.history()
        strategy.searcher.next_proposals(nni_space.space, history, [], strategy.knowledge, 1,
                                         host_validator=nni_space.validate, budget=2 * n)
        strategy.history().best()

    return one_model


@pytest.mark.parametrize("n", TRIAL_SIZES)
@pytest.mark.parametrize("operation", ["history", "state_dict", "propose"])
def test_nni_bookkeeping(benchmark: Any, table: NasBench201Table, operation: str, n: int) -> None:
    strategy = _nni_strategy(n)
    benchmark.group = f"NNI strategy bookkeeping at {n} records"
    per_model = operation == "propose"
    if per_model:
        strategy.searcher.forget_buffer()
        target = _nni_propose_one(strategy, n)  # the records do not grow: one batch per round
    else:
        target = getattr(strategy, operation)
    times: list[float] = []

    def timed() -> None:
        start = time.perf_counter()
        target()
        times.append(time.perf_counter() - start)

    iterations = TRIALS_PER_ROUND if per_model else 1
    benchmark.pedantic(timed, rounds=ROUNDS, iterations=iterations, warmup_rounds=1)
    measured = times[iterations:iterations * (ROUNDS + 1)] or times
    ms = statistics.median(
        [statistics.mean(measured[i:i + iterations]) for i in range(0, len(measured), iterations)]) * 1000
    benchmark.extra_info.update(n_records=n, ms=ms, per="model" if per_model else "call")
    _RESULTS["nni"][(operation, n)] = {"ms": ms, "per": "model" if per_model else "call"}
    assert 0 < ms < SANITY_MS_PER_TRIAL


# -- the summary file ---------------------------------------------------------------------------
def _markdown() -> str:
    lines = [
        "# Overhead benchmarks",
        "",
        f"Written by `tests/benchmarks/test_overhead.py` on {_dt.datetime.now().isoformat(timespec='seconds')}; "
        f"{'full' if FULL else 'short'} mode ({ROUNDS} timed rounds of {TRIALS_PER_ROUND} trials); "
        f"Python {platform.python_version()}, Optuna {optuna.__version__}, {platform.machine()}, "
        f"{os.cpu_count()} CPUs ({platform.platform(terse=True)}).",
        "",
    ]
    trial = _RESULTS["trial"]
    if trial:
        lines += [
            "## Time per trial outside the LLM (NAS-Bench-201 study, ask + 6 suggests + tell)",
            "",
            "Median of the rounds, ms per trial. `operators`: `use_llm=False` (no LLM code runs). "
            "`llm`: the full LLM path against the instant fake endpoint, its measured round trip "
            "subtracted (shown apart). TPE: `TPESampler(seed=0)`, same study, same session.",
            "",
            "| sampler | mode | finished trials | ours ms/trial (excl. LLM) | TPE ms/trial | ratio | "
            "LLM calls/trial | fake LLM ms/trial |",
            "|---|---|---:|---:|---:|---:|---:|---:|",
        ]
        for (method, mode, n), r in sorted(trial.items(), key=lambda kv: (kv[0][2], kv[0][0] != "TPE", kv[0])):
            tpe = r.get("tpe_ms_per_trial", r["ms_per_trial"])
            ratio = r.get("ratio_vs_tpe", 1.0)
            llm = f"{r['llm_calls_per_trial']:.2f} | {r['llm_ms_per_trial']:.2f}" if mode == "llm" else "– | –"
            lines.append(f"| {method} | {mode} | {n:,} | {r['ms_per_trial']:.2f} | {tpe:.2f} | {ratio:.1f}× | {llm} |")
        lines.append("")
    prompt = _RESULTS["prompt"]
    if prompt:
        header = " | ".join(f"{n:,} trials" for n in PROMPT_SIZES)
        lines += [
            "## Prompt tokens as the history grows",
            "",
            "Largest prompt per purpose over the batches run at each history size (tokens: "
            "characters / 4 + 4 per message, the fake server's count). Re-asks (the pipeline's one "
            "re-ask) are listed apart; they depend on how often the fake model repeats a tried "
            "architecture, which grows as the space fills.",
            "",
            f"| method | prompt | {header} | 10,000 / 1,000 |",
            "|---|---|" + "---:|" * (len(PROMPT_SIZES) + 1),
        ]
        for name, r in prompt.items():
            tokens = r["tokens"]
            purposes = sorted({p for n in PROMPT_SIZES for p in tokens[n]}, key=lambda p: (p.endswith(")"), p))
            for p in purposes:
                cells = " | ".join(str(tokens[n].get(p, "–")) for n in PROMPT_SIZES)
                a, b = tokens[1000].get(p), tokens[PROMPT_SIZES[-1]].get(p)
                ratio = f"{b / a:.2f}" if a and b else "–"
                lines.append(f"| {name} ({r['batches']} batches) | {p} | {cells} | {ratio} |")
        lines += [
            "",
            "Core time per proposal in those runs (`Searcher.next_proposals`, ms, LLM round trip "
            "excluded; a batch's cost spread over its proposals):",
            "",
            f"| method | {header} |",
            "|---|" + "---:|" * len(PROMPT_SIZES),
        ]
        for name, r in prompt.items():
            cells = " | ".join(f"{r['ms_per_proposal_excl_llm'][n]:.1f}" for n in PROMPT_SIZES)
            lines.append(f"| {name} | {cells} |")
        lines.append("")
    nni = _RESULTS["nni"]
    if nni:
        lines += [
            "## NNI strategy bookkeeping (SEKIStrategy, `use_llm=False`)",
            "",
            "| operation | records | ms |",
            "|---|---:|---:|",
        ]
        for (operation, n), r in sorted(nni.items(), key=lambda kv: (kv[0][1], kv[0][0])):
            what = "per model (history + proposal + best at training end)" if r["per"] == "model" else "per call"
            lines.append(f"| `{operation}` {what} | {n:,} | {r['ms']:.2f} |")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
