"""The quality-controlled fake LLM (``llmnas.app.quality``) and the LLM-quality sweep of the
comparison runner: the answers come from the stated pools of the table, partial architectures
are completed the way the quality says, the knob moves a method's results, and
``llmnas compare --llm-quality`` runs end to end."""

from __future__ import annotations

import json
import math
import statistics
from typing import Any, Mapping, Sequence

import numpy as np
import pytest

from llmnas.app.cli import main
from llmnas.app.compare import _SAME_FIELDS
from llmnas.app.quality import QUALITIES, QualityLLM, QualitySweep, table_pools
from llmnas.app.quality.llm import STATELESS
from llmnas.app.records import read_runs, run_key
from llmnas.app.runner import run_one
from llmnas.benchmarks import load_benchmark
from tests.fake_openai import FakeOpenAIServer, llm_responder


@pytest.fixture(scope="module")
def nb201() -> Any:
    return load_benchmark("nb201-cifar10")


class Recording(QualityLLM):
    """A QualityLLM that keeps every (messages, schema, answer) it served."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.exchanges: list[tuple[list[dict[str, str]], dict[str, Any], Any]] = []

    def answer(self, messages: Sequence[Mapping[str, Any]], schema: Mapping[str, Any] | None) -> Any:
        value = super().answer(messages, schema)
        self.exchanges.append(([dict(m) for m in messages], dict(schema or {}), value))
        return value


def _ask(llm: QualityLLM, n: int, prompt: str = "Propose.") -> list[dict[str, Any]]:
    schema = llm.pools.space.proposals_schema(n)
    return llm.complete([{"role": "user", "content": prompt}], schema=schema).data["architectures"]


@pytest.mark.parametrize("quality", QUALITIES)
def test_architectures_come_from_the_quality_pool_without_repeats(nb201, quality):
    llm = QualityLLM(nb201, quality, seed=3)
    pools = llm.pools
    quality = quality.removesuffix(STATELESS)
    start, stop = pools.bounds(quality)
    calls = [_ask(llm, 10) for _ in range(6)]
    ranks = [pools.rank_of(a) for answer in calls for a in answer]
    assert None not in ranks and all(start < r <= stop for r in ranks), (quality, min(ranks), max(ranks))
    assert all(len({pools.rank_of(a) for a in answer}) == 10 for answer in calls)  # no repeat in an answer
    if llm.remembers:
        assert len(set(ranks)) == len(ranks)  # drawn without replacement within a run
    elif quality == "expert":  # 60 draws from 157 that remember nothing: some repeat across calls
        assert len(set(ranks)) < len(ranks)
    assert pools.values[0] == max(nb201.values(nb201.search_metric))  # rank 1 is the table's best
    if quality == "expert":
        assert stop == pools.count("expert") == int(np.ceil(0.01 * len(pools)))
    if quality == "misleading":
        assert start == int(0.9 * len(pools)) and stop == len(pools)
    if quality == "uninformed":  # uniform over the table: the draws spread over its ranks
        assert min(ranks) < len(pools) / 4 and max(ranks) > 3 * len(pools) / 4


def test_the_fake_skips_what_the_prompt_lists_and_repeats_per_seed(nb201):
    llm = QualityLLM(nb201, "expert", seed=0)
    pools = llm.pools
    listed = "\n".join(pools.formatted[:100])  # the best 100 shown as already tried
    ranks = [pools.rank_of(a) for a in _ask(llm, 20, "Tried so far:\n" + listed)]
    assert all(100 < r <= pools.count("expert") for r in ranks)
    again = QualityLLM(nb201, "expert", seed=0)
    assert _ask(again, 5) == _ask(QualityLLM(nb201, "expert", seed=0), 5)
    llm.start_run(0)
    assert _ask(llm, 5) == _ask(again.__class__(nb201, "expert", seed=0), 5)  # start_run resets the run
    assert _ask(QualityLLM(nb201, "expert", seed=1), 5) != _ask(QualityLLM(nb201, "expert", seed=0), 5)


def test_partial_architectures_are_completed_within_their_fixed_part(nb201):
    recording = Recording(nb201, "expert", seed=0)
    run_one(nb201, "gpt-ea@optuna", seed=0, budget=30, llm=recording)
    fills = [(m, s, a) for m, s, a in recording.exchanges if any(k.startswith("offspring_") for k in s["properties"])]
    assert fills, "GPT-EA asked for no reconstruction"
    pools = table_pools(nb201)
    for messages, schema, _ in fills[:3]:
        text = "\n".join(m["content"] for m in messages)
        partials = recording._partials(text)
        assert set(partials) == set(schema["properties"])  # every offspring's fixed part was read
        answers = {q: QualityLLM(nb201, q, seed=0).answer(messages, schema) for q in QUALITIES}
        earlier: dict[str, set[int]] = {q: set() for q in QUALITIES}  # no completion given twice in a call
        for key, node in schema["properties"].items():
            masked, fixed = node["required"], partials[key]
            assert not set(masked) & set(fixed) and set(masked) | set(fixed) == set(pools.space.names)
            ranks = {}
            for quality, answer in answers.items():
                assert set(answer[key]) == set(masked)  # only the erased dimensions are written
                ranks[quality] = pools.rank_of({**fixed, **answer[key]})
                assert ranks[quality] is not None  # the completed architecture is in the table
            matching = [int(r) + 1 for r in pools.matching(fixed) if pools.formatted[int(r)] not in text]
            for quality in ("expert", "misleading"):
                start, stop = pools.bounds(quality)
                fresh = [r for r in matching if r not in earlier[quality]]
                pooled = [r for r in fresh if start < r <= stop]
                if pooled:  # a completion from the quality's pool, not listed in the prompt nor given before
                    assert ranks[quality] in pooled
                elif fresh:  # none there: the best (worst) fresh completion
                    assert ranks[quality] == (min(fresh) if quality == "expert" else max(fresh))
            for quality, rank in ranks.items():
                earlier[quality].add(rank)
            assert ranks["expert"] <= ranks["misleading"]  # (middle: from its pool when it can, else the median)


def test_lapt_whitelists_hold_the_pools_options(nb201):
    pools = table_pools(nb201)
    schema = {"type": "object", "properties": {
        "reasoning": {"type": "string", "maxLength": 30},
        "whitelist": {"type": "object", "properties": {
            d.name: {"type": "array", "items": {"enum": d.encoded_choices}, "minItems": 1, "maxItems": 2}
            for d in pools.space}}}}
    for quality in ("expert", "misleading"):
        answer = QualityLLM(nb201, quality).answer([{"role": "user", "content": "principles"}], schema)
        assert len(answer["reasoning"]) <= 30
        start, stop = pools.bounds(quality)
        for name, options in answer["whitelist"].items():
            used = [enc[name] for enc in pools.encoded[start:stop]]
            counts = sorted((used.count(o) for o in set(used)), reverse=True)
            assert 1 <= len(options) <= 2 and [used.count(o) for o in options] == counts[:len(options)]
    expert = QualityLLM(nb201, "expert").answer([{"role": "user", "content": "x"}], schema)["whitelist"]
    assert expert["cell/0_1"][0] != "none"  # the best cells keep the input connected


def test_a_misleading_llm_makes_seki_worse_than_an_expert(nb201):
    """The fake's quality is real: with the trust rule off, SEKI evaluates every answer."""
    finals: dict[str, list[float]] = {"expert": [], "misleading": []}
    for quality, values in finals.items():
        llm = QualityLLM(nb201, quality)
        for seed in range(3):
            llm.start_run(seed, "seki@optuna")
            values.append(run_one(nb201, "seki@optuna", seed=seed, budget=30, llm=llm, options={"trust": False})["best_report"][-1])
    assert all(e > m + 3 for e, m in zip(finals["expert"], finals["misleading"])), finals
    assert statistics.mean(finals["expert"]) > statistics.mean(finals["misleading"]) + 5, finals
    llm = QualityLLM(nb201, "misleading")
    llm.start_run(0, "seki@optuna")  # the same seed and run: the same answers, the same run
    again = run_one(nb201, "seki@optuna", seed=0, budget=30, llm=llm, options={"trust": False})
    assert again["best_report"][-1] == finals["misleading"][0]


def test_the_fake_serves_its_policy_over_the_openai_protocol(nb201):
    pytest.importorskip("openai")
    import optuna

    from optuna_llm_samplers import SEKISampler
    from optuna_llm_samplers._space import to_distributions

    llm = Recording(nb201, "expert", seed=0)
    pools = llm.pools
    with FakeOpenAIServer(responder=llm_responder(llm)) as server:
        sampler = SEKISampler(llm=server.base_url, seed=0, budget=12, task=nb201.description,
                              search_space=to_distributions(nb201.space()), log_every=0)
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        study = optuna.create_study(direction="maximize", sampler=sampler)
        study.optimize(lambda t: nb201.query({d.name: t.suggest_categorical(d.name, list(d.choices))
                                              for d in nb201.space()})[nb201.search_metric], n_trials=12)
        assert server.chat_requests
    written = [a for _, s, answer in llm.exchanges
               if "architectures" in s.get("properties", {}) for a in answer["architectures"]]
    assert written and all(pools.rank_of(a) <= pools.count("expert") for a in written)
    evaluated = {json.dumps(t.params, sort_keys=True) for t in study.trials}
    from_llm = [a for a in written if json.dumps(pools.space.decode(a)[0], sort_keys=True) in evaluated]
    assert len(from_llm) == sampler.summary()["pipeline"]["accepted_llm"] > 0


def test_the_sweep_command_runs_end_to_end_and_resumes(tmp_path, capsys):
    out = tmp_path / "sweep"
    argv = ["compare", "--benchmarks", "nb201-cifar10", "--llm-quality", "expert,uninformed,misleading",
            "--seeds", "2", "--evaluations", "20", "--out", str(out)]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "LLM-quality sweep: 36 runs to do (720 evaluations)" in err and "estimated" in err
    runs = read_runs(out / "runs.jsonl")
    assert len(runs) == 4 * 3 * 2 + 6 * 2  # our 4 methods x 3 qualities, 4 ablations, TPE and random, 2 seeds
    assert {r["llm"] for r in runs} == {"none", "quality:expert", "quality:uninformed", "quality:misleading"}
    assert all(r["evaluations"] == 20 for r in runs)
    report = (out / "quality.md").read_text()
    for method in ("seki", "lapt", "collm-nas", "gpt-ea"):
        for quality in ("expert", "uninformed", "misleading"):
            assert f"| {method}@optuna | {quality} | 2 |" in report
        assert f"| {method}-nollm@optuna | no LLM | 2 |" in report
    assert "| tpe@optuna | no LLM | 2 |" in report and "Δ vs its ablation" in report
    # Δ ± the standard error of the paired per-seed differences, from the runs themselves
    final = {(r["contender"], r["llm"], r["seed"]): r["best_report"][-1] for r in runs}  # read_runs: the curve
    diffs = [final[("seki@optuna", "quality:misleading", s)] - final[("seki-nollm@optuna", "none", s)] for s in (0, 1)]
    error = statistics.stdev(diffs) / math.sqrt(2)
    cell = f"{statistics.mean(diffs):+.2f}" if round(statistics.mean(diffs), 2) else "±0.00"
    assert f"| {cell} ± {error:.2f} (" in report.split("| seki@optuna | misleading | 2 |")[1].splitlines()[0]
    # the table's tolerance: a quarter of TPE's lead over random search, from the runs themselves
    lead = statistics.mean(final[("tpe@optuna", "none", s)] - final[("random@optuna", "none", s)] for s in (0, 1))
    assert f"random search at 20 evaluations ({lead:+.2f}): {max(0.0, lead / 4):.2f}." in report
    assert not (out / "results.md").exists() and not (out / "llm-cache").exists()
    assert main(argv) == 0  # resumes: nothing left to do, the same runs
    assert "Nothing to run" in capsys.readouterr().err
    assert len(read_runs(out / "runs.jsonl")) == len(runs)
    again = QualitySweep(tmp_path / "again", benchmarks=["nb201-cifar10"], qualities=["misleading", "expert"],
                         seeds=[1], budget=20).run().records  # another order, seed 1 alone: the same runs
    recorded = {run_key(r): r for r in runs}
    assert len(again) == 4 * 2 + 6 and all(recorded[run_key(r)][f] == r[f] for r in again for f in _SAME_FIELDS)
    (out / "quality.md").unlink()
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- llmnas compare sweep: start -->\nstale\n<!-- llmnas compare sweep: end -->\n")
    assert main(["compare", "--llm-quality", "expert", "--report-only", "--out", str(out),
                 "--readme", str(readme)]) == 0
    assert (out / "quality.md").read_text() == report
    assert "stale" not in readme.read_text() and "### LLM-quality sweep" in readme.read_text()
    with pytest.raises(SystemExit) as bad:
        main(["compare", "--llm-quality", "brilliant", "--out", str(out)])
    assert bad.value.code == 2 and "expected comma-separated names from: expert" in capsys.readouterr().err


@pytest.mark.parametrize("method", ["seki", "lapt", "collm-nas", "gpt-ea"])
def test_the_trust_rule_uses_an_expert_and_survives_a_misleading_llm(nb201, method):
    """The default (``trust=True``) on 4 seeds of NAS-Bench-201 CIFAR-10: an expert takes the
    method to the top 0.1 % within 30 evaluations on most seeds, a misleading LLM costs little
    against the method's own ablation (it cost SEKI and CoLLM-NAS 15 points before the rule),
    and neither makes more than 0.25 LLM calls per evaluation. The README's sweep has the real
    numbers (8 seeds, five tables); this only guards against losing the behaviour."""
    finals: dict[str, list[float]] = {"expert": [], "misleading": [], "ablation": []}
    reached = 0
    for seed in range(4):
        ablation = run_one(nb201, f"{method}-nollm@optuna", seed=seed, budget=100)
        finals["ablation"].append(ablation["best_report"][-1])
        for quality in ("expert", "misleading"):
            llm = QualityLLM(nb201, quality)
            llm.start_run(seed, f"{method}@optuna")
            record = run_one(nb201, f"{method}@optuna", seed=seed, budget=100, llm=llm)
            finals[quality].append(record["best_report"][-1])
            assert record["llm_calls"] <= 0.25 * record["evaluations"], (quality, record["llm_calls"])
            reached += quality == "expert" and record["evals_to_top"] is not None and record["evals_to_top"] <= 30
    assert reached >= 3, f"an expert reached the top 0.1 % within 30 evaluations on {reached} of 4 seeds"
    loss = statistics.mean(finals["ablation"]) - statistics.mean(finals["misleading"])
    assert loss < 1.0, finals


class ArchitecturesOnlyExpert(QualityLLM):
    """An expert at architectures (the top 1 %) whose whitelists are uninformed: what LAPT
    learns from its principles is no better than chance, only the architectures it writes are."""

    def _whitelist(self, node: Mapping[str, Any]) -> dict[str, Any]:
        quality, self.quality = self.quality, "uninformed"
        try:
            return super()._whitelist(node)
        finally:
            self.quality = quality


def test_lapt_uses_an_llm_that_knows_architectures_even_when_its_whitelists_do_not_help(nb201):
    """LAPT's LLM writes architectures with its principles, and in the warm start's slots, under
    the trust rule [ours]. When only whitelists carried the LLM's knowledge, an expert at
    architectures with uninformed whitelists left LAPT as slow as without it: 74 and 54.5
    evaluations to the top 0.1 % (median of 8 seeds, CIFAR-10 and CIFAR-100); now 12 and 15.5."""
    firsts = []
    for seed in range(4):
        llm = ArchitecturesOnlyExpert(nb201, "expert")
        llm.start_run(seed, "lapt@optuna")
        record = run_one(nb201, "lapt@optuna", seed=seed, budget=40, llm=llm)
        firsts.append(record["evals_to_top"] or 41)
    assert sum(first <= 20 for first in firsts) >= 3, firsts


def test_an_llm_as_good_as_the_operator_stays_within_a_quarter_call_per_evaluation():
    """CoLLM-NAS calls the LLM twice a batch (Navigator, Generator). On TransNAS-Bench-101's
    macro ``class_object`` an uninformed LLM is about as good as the operator, so the draws
    called it at most batches, for one answer each: 0.28–0.30 calls per evaluation on seeds 7,
    11 and 12 before the rule's calls budget (``llmnas.trust.MAX_CALLS_PER_PROPOSAL``)."""
    bench = load_benchmark("transnas-macro-class_object")
    for seed in (7, 11, 12):
        llm = QualityLLM(bench, "uninformed")
        llm.start_run(seed, "collm-nas@optuna")
        record = run_one(bench, "collm-nas@optuna", seed=seed, budget=100, llm=llm)
        assert record["evaluations"] == 100 and record["llm_calls"] <= 25, (seed, record["llm_calls"])
        assert record["llm_calls"] >= 5, "the budget must not starve the LLM"


def test_workers_and_restarts_of_one_study_spend_one_calls_budget(nb201):
    """The calls budget is the study's (its calls in the study's knowledge, against its trials):
    ten processes that each run 6 trials of one Optuna study in turn (restarts, or workers that
    come and go) with an expert LLM. Counted per process, each got its LLM's first batch free and
    its own quarter of at least 20 proposals: 17 and 18 calls for the 60 trials on these seeds."""
    import optuna
    import optuna_llm_samplers
    from optuna_llm_samplers._space import to_distributions

    from llmnas.app.hosts import _TableObjective
    from llmnas.trust import CALLS_KEY
    from optuna_llm_samplers._knowledge import StudyKnowledge

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    for seed in (0, 1):
        storage = optuna.storages.InMemoryStorage()
        optuna.create_study(study_name="shared", storage=storage, direction="maximize")
        calls = 0
        for worker in range(10):
            llm = QualityLLM(nb201, "expert")
            llm.start_run(seed, f"worker {worker}")
            sampler = optuna_llm_samplers.CoLLMNASSampler(
                llm=llm, seed=seed, budget=60, search_space=to_distributions(nb201.space()), log_every=0)
            study = optuna.load_study(study_name="shared", storage=storage, sampler=sampler)
            study.optimize(_TableObjective(nb201), n_trials=6)
            calls += sampler._searcher.stats["llm_calls"]
        assert len(study.trials) == 60 and calls <= 0.25 * 60, (seed, calls)
        assert calls >= 8, "the budget must not starve an expert"
        assert StudyKnowledge.of(study).latest(CALLS_KEY)[0] >= calls  # the study's count (reservations included)


def _sampled(bench: Any, method: str, seed: int, llm: QualityLLM | str | None,
             **options: Any) -> list[tuple[str, dict[str, Any]]]:
    """(source, params) of each trial of an Optuna study of ``method``'s sampler on ``bench``."""
    import optuna
    import optuna_llm_samplers
    from optuna_llm_samplers._space import to_distributions

    from llmnas.app.contenders import OUR_METHODS
    from llmnas.app.hosts import _TableObjective

    cls = getattr(optuna_llm_samplers, OUR_METHODS[method] + "Sampler")
    sampler = cls(llm=llm, seed=seed, budget=100, use_llm=llm is not None, search_space=to_distributions(bench.space()),
                  log_every=0, **options)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(_TableObjective(bench), n_trials=100)
    return [(t.user_attrs.get("llmnas_source", ""), dict(t.params)) for t in study.trials]


@pytest.mark.parametrize("method", ["seki", "lapt", "collm-nas", "gpt-ea"])
def test_a_misleading_llm_leaves_the_operators_search_as_without_the_llm(nb201, method):
    """Common random numbers (``llmnas.operator_view``): with the trust rule, the operator's
    trials of a study with a misleading LLM are the ``use_llm=False`` ablation's, in order
    (its view leaves out the LLM's losing architectures, it draws from its own stream and keeps
    whole batches), so a bad LLM costs the evaluations it was given, not a different search.
    GPT-EA's LLM completes GA offspring of the same population, which may take an architecture
    one of the operator's later children would be (a taken child is mutated again): there the
    first 30 are checked."""
    import llmnas.methods
    from llmnas.app.contenders import OUR_METHODS

    llm_sources = getattr(llmnas.methods, OUR_METHODS[method])().llm_arm_sources
    for seed in range(3):
        llm = QualityLLM(nb201, "misleading")
        llm.start_run(seed, f"{method}@optuna")
        ours = _sampled(nb201, method, seed, llm)
        ablation = [params for _, params in _sampled(nb201, method, seed, None)]
        operator = [params for source, params in ours if source not in llm_sources]
        from_llm = len(ours) - len(operator)
        assert 5 <= from_llm <= 20, (seed, from_llm)  # the LLM's first batch, and few more
        checked = 30 if method == "gpt-ea" else len(operator)
        assert operator[:checked] == ablation[:checked], (seed, next(
            i for i, (a, b) in enumerate(zip(operator, ablation)) if a != b))


def test_the_sweep_runs_with_the_trust_rule_on_or_off_and_records_which(tmp_path, capsys):
    """``--trust off`` runs our methods as the papers do (every batch the LLM's) and its records
    say so (their options: they replay with the rule off); the default records none."""
    common = ["compare", "--llm-quality", "misleading", "--benchmarks", "nb201-cifar10", "--contenders",
              "seki@optuna,seki-nollm@optuna", "--seeds", "1", "--evaluations", "30"]
    assert main(common + ["--out", str(tmp_path / "on")]) == 0
    assert main(common + ["--trust", "off", "--out", str(tmp_path / "off")]) == 0
    on, off = ({r["contender"]: r for r in read_runs(tmp_path / name / "runs.jsonl")} for name in ("on", "off"))
    assert on["seki@optuna"]["options"] == {} and off["seki@optuna"]["options"] == {"trust": False}
    assert on["seki@optuna"]["llm_calls"] < off["seki@optuna"]["llm_calls"]  # a losing LLM is asked less
    assert on["seki@optuna"]["best_report"][-1] > off["seki@optuna"]["best_report"][-1]
    with pytest.raises(SystemExit) as bad:
        main(common + ["--trust", "maybe", "--out", str(tmp_path / "bad")])
    assert bad.value.code == 2 and "--trust" in capsys.readouterr().err


def test_a_screened_method_is_compared_with_its_screened_ablation(tmp_path):
    """With both ablations in a sweep, ``seki+screen@optuna``'s Δ is against
    ``seki-nollm+screen@optuna`` and ``seki@optuna``'s against ``seki-nollm@optuna``, whatever
    their order in the records (each report and table pairs a method by method, host and screen)."""
    out = tmp_path / "sweep"
    assert main(["compare", "--benchmarks", "nb201-cifar10", "--llm-quality", "misleading", "--contenders",
                 "seki-nollm+screen@optuna,seki-nollm@optuna,seki@optuna,seki+screen@optuna",
                 "--seeds", "2", "--evaluations", "40", "--out", str(out)]) == 0
    runs = read_runs(out / "runs.jsonl")
    final = {(r["contender"], r["seed"]): r["best_report"][-1] for r in runs}
    assert any(final[("seki-nollm+screen@optuna", s)] != final[("seki-nollm@optuna", s)] for s in (0, 1))
    report = (out / "quality.md").read_text()
    pairs = {"seki+screen@optuna": "seki-nollm+screen@optuna", "seki@optuna": "seki-nollm@optuna"}
    for ours, own in pairs.items():
        other = next(a for a in pairs.values() if a != own)
        delta, wrong = (statistics.mean(final[(ours, s)] - final[(a, s)] for s in (0, 1)) for a in (own, other))
        row = report.split(f"| {ours} | misleading | 2 |")[1].splitlines()[0]
        cell = row.split("|")[2].strip()  # evals to the top 0.1 %, test_acc, Δ ± error (won–lost), ...
        shown = 0.0 if cell.startswith("±0.00") else float(cell.split(" ")[0])
        assert abs(shown - delta) <= 0.0051 and abs(shown - wrong) > 0.0051, row  # these seeds tell them apart


@pytest.mark.parametrize("method", ["seki", "lapt", "collm-nas", "gpt-ea"])
def test_an_llm_that_answers_nonsense_leaves_the_operators_search_as_without_the_llm(nb201, method):
    """What the method makes in the LLM's slots when the LLM brings nothing usable (its
    operator's fill-ins; GPT-EA's random completions) is a stand-in: neither source's for the
    trust rule and kept out of the operator's view, so the operator's trials are the
    ``use_llm=False`` ablation's, in order (before, they were the operator's and its search
    parted from the ablation's at the first stand-in). They part only where the ablation's next
    architecture is one the study already holds as a stand-in (both mutate the best), which the
    operator, not allowed to repeat it, replaces."""
    import llmnas.methods
    from llmnas.app.contenders import OUR_METHODS

    llm_sources = getattr(llmnas.methods, OUR_METHODS[method])().llm_arm_sources
    with FakeOpenAIServer(responder=lambda body, schema, rng: "I am not JSON at all.") as server:
        for seed in range(2):
            ours = _sampled(nb201, method, seed, server.base_url, llm_retries=0)
            ablation = [params for _, params in _sampled(nb201, method, seed, None)]
            stand_ins = [params for source, params in ours if source == "stand-in"]
            operator = [params for source, params in ours if source != "stand-in" and source not in llm_sources]
            assert len(ours) == 100 and len(operator) + len(stand_ins) == 100, seed  # the LLM wrote nothing
            assert len(stand_ins) >= 5, (seed, len(stand_ins))  # at least the LLM's first batch
            keys = [json.dumps(params, sort_keys=True) for params in ablation]
            held = {json.dumps(params, sort_keys=True) for params in stand_ins}
            same = next((i for i, key in enumerate(keys) if key in held), len(operator))  # the first the study held
            same -= same % 5  # a replaced proposal changes the draws of its whole batch (of 5)
            assert same >= 10 and operator[:same] == ablation[:same], (seed, same, len(operator), next(
                (i for i, (a, b) in enumerate(zip(operator, ablation)) if a != b), None))
