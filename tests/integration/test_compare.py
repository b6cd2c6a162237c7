"""``llmnas compare`` end to end against the fake OpenAI-compatible server: runs.jsonl, the
report and plots, a rerun that skips what is done, a replay from the cache that is identical
and contacts nobody, a replay miss that is counted, and a resume after an interruption."""

from __future__ import annotations

import doctest
import importlib
import json
import re
from pathlib import Path
from typing import Any

import pytest

from llmnas.app.cli import main
from llmnas.app.report import write_report
from llmnas.app.records import options_of
from llmnas.app.runner import Comparison, read_runs, run_key, run_one
from tests.fake_openai import FakeOpenAIServer

BENCHMARKS = ["nb201-cifar10", "nb201-cifar100"]
CONTENDERS = ["seki@optuna", "seki-nollm@optuna", "random@optuna", "re@nni"]
ARGS = ["compare", "--benchmarks", ",".join(BENCHMARKS), "--contenders", ",".join(CONTENDERS),
        "--seeds", "2", "--budget", "20"]


def _curves(out: Path) -> dict[tuple[Any, ...], tuple[list[Any], list[Any]]]:
    return {run_key(r): (r["best_search"], r["best_report"]) for r in read_runs(out / "runs.jsonl")}


def _requests(server: Any) -> int:
    return len(server.chat_requests)


def test_compare_writes_runs_and_report_skips_done_and_replays_identically(fake_openai, tmp_path, capsys):
    out = tmp_path / "first"
    assert main([*ARGS, "--out", str(out), "--llm", fake_openai.base_url]) == 0

    runs = read_runs(out / "runs.jsonl")
    assert len(runs) == len(BENCHMARKS) * len(CONTENDERS) * 2
    assert {(r["benchmark"], r["contender"], r["seed"]) for r in runs} == {
        (b, c, s) for b in BENCHMARKS for c in CONTENDERS for s in (0, 1)}
    for run in runs:
        assert run["evaluations"] == 20 and len(run["best_search"]) == len(run["best_report"]) == 20
        assert all(v is not None for v in run["best_report"])
        assert run["best_search"] == sorted(run["best_search"]), "best-so-far must never get worse"
        assert run["best_search"][-1] <= run["optimum_search"]
    llm_runs = [r for r in runs if r["contender"] == "seki@optuna"]
    assert all(r["llm"].startswith("openai:") and r["llm_calls"] > 0 and r["prompt_tokens"] > 0
               and r["completion_tokens"] > 0 and r["replay_misses"] == 0 for r in llm_runs)
    ablation = [r for r in runs if r["contender"] == "seki-nollm@optuna"]
    assert all(r["llm"] == "none" and r["llm_calls"] == 0 and r["fallback_proposals"] == r["proposals"] == 20
               for r in ablation)

    results = (out / "results.md").read_text()
    for benchmark in BENCHMARKS:
        assert f"## {benchmark} (budget 20)" in results
        png = out / f"{benchmark}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| seki@optuna | 2 |" in results and "| re@nni | 2 |" in results
    assert "LLM ablation" in results and "| seki@optuna | " in results.split("LLM ablation")[1]
    # The verdict table: each method against its ablation and the built-ins, seeds won–lost of 2.
    verdicts = results.split("Where each method wins and loses")[1]
    row = next(line for line in verdicts.splitlines() if line.startswith("| seki@optuna |"))
    assert "vs re@nni" in verdicts and "vs random@optuna" in verdicts
    assert len(re.findall(r"[-+±]\d+\.\d+ \(\d–\d\)", row)) == 3  # vs ablation, re@nni, random@optuna
    # The same verdicts on the searched metric (valid_acc), from each run's best_search curve.
    searched = verdicts.split("The same on the metric searched")[1].split("## ")[0]
    row = next(line for line in searched.splitlines() if line.startswith("| seki@optuna |"))
    assert "`valid_acc` @20" in searched and len(re.findall(r"[-+±]\d+\.\d+ \(\d–\d\)", row)) == 3
    found = {c: [r["best_search"][-1] for r in runs if r["contender"] == c and r["benchmark"] == BENCHMARKS[0]]
             for c in ("seki@optuna", "re@nni")}
    delta = sum(found["seki@optuna"]) / 2 - sum(found["re@nni"]) / 2
    assert row.split(" | ")[2].startswith(f"{delta:+.2f}" if round(delta, 2) else "±0.00")  # vs re@nni

    # A rerun skips every done run: no LLM request, runs.jsonl unchanged.
    requests, lines = _requests(fake_openai), (out / "runs.jsonl").read_text()
    assert main([*ARGS, "--out", str(out), "--llm", fake_openai.base_url]) == 0
    assert _requests(fake_openai) == requests
    assert (out / "runs.jsonl").read_text() == lines

    # A replay from the first comparison's cache, into a new folder: identical curves (the
    # built-ins rerun with the same seeds too), and not one chat request.
    replay = tmp_path / "replay"
    assert main([*ARGS, "--out", str(replay), "--llm", fake_openai.base_url, "--replay",
                 "--cache", str(out / "llm-cache"), "--check-against", str(out)]) == 0
    assert _requests(fake_openai) == requests
    assert "16 runs in both, 16 identical, 0 different" in capsys.readouterr().out
    assert _curves(replay) == _curves(out)
    replayed = [r for r in read_runs(replay / "runs.jsonl") if r["contender"] == "seki@optuna"]
    assert all(r["replay_misses"] == 0 and r["cache_hits"] == r["llm_calls"] > 0 for r in replayed)

    # The report is regenerated from runs.jsonl alone.
    for path in [out / "results.md", *out.glob("*.png")]:
        path.unlink()
    assert main(["compare", "--report-only", "--out", str(out)]) == 0
    assert (out / "results.md").read_text() == results
    assert all((out / f"{b}.png").is_file() for b in BENCHMARKS)

    # --readme copies the report between the markers of a markdown file (README numbers are
    # never typed by hand), the rest of the file untouched.
    readme = tmp_path / "README.md"
    end = f"<!-- llmnas compare {out.name}: end -->"
    readme.write_text(f"# Project\n\nintro\n<!-- llmnas compare {out.name}: start -->\nstale\n{end}\nafter\n")
    assert main(["compare", "--report-only", "--out", str(out), "--readme", str(readme)]) == 0
    text = readme.read_text()
    assert text.startswith("# Project\n\nintro\n") and text.endswith(f"{end}\nafter\n")
    assert "stale" not in text and "### Comparison results" in text
    assert f"]({out.name}/{BENCHMARKS[0]}.png)" in text
    table_row = next(line for line in results.splitlines() if line.startswith("| seki@optuna"))
    assert table_row in text


def test_a_replay_miss_is_counted_and_reported(fake_openai, tmp_path, capsys):
    out = tmp_path / "miss"
    status = main(["compare", "--benchmarks", "nb201-cifar10", "--contenders", "seki@optuna", "--seeds", "1",
                   "--budget", "10", "--out", str(out), "--llm", fake_openai.base_url, "--replay",
                   "--cache", str(tmp_path / "empty-cache")])
    assert status == 1
    assert _requests(fake_openai) == 0
    [run] = read_runs(out / "runs.jsonl")
    assert run["replay_misses"] == run["llm_errors"] == run["llm_calls"] > 0  # every call missed
    assert run["fallback_proposals"] == run["proposals"] == 10 and run["prompt_tokens"] == 0
    assert "replay misses" in (out / "results.md").read_text()
    assert "not in the cache" in capsys.readouterr().err


def test_an_interrupted_comparison_resumes_where_it_stopped(fake_openai, tmp_path):
    settings: dict[str, Any] = dict(benchmarks=["nb201-cifar10"], contenders=["random@nni", "seki@optuna"],
                                    seeds=2, budget=20, llm=fake_openai.base_url)
    out = tmp_path / "resumed"
    comparison = Comparison(out, **settings)
    assert comparison.plan().todo_count == 4
    evaluations = 0

    def interrupt_in_the_second_run() -> None:  # seki@optuna, seed 0, after 10 evaluations
        nonlocal evaluations
        evaluations += 1
        if evaluations == 30:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        comparison.run(on_evaluation=interrupt_in_the_second_run)
    assert len(read_runs(out / "runs.jsonl")) == 1  # the run in progress is lost, nothing else
    with (out / "runs.jsonl").open("a") as fh:  # and a record cut off while it was written
        fh.write(json.dumps(read_runs(out / "runs.jsonl")[0])[:50])

    resumed = Comparison(out, **settings)
    assert resumed.plan().todo_count == 3
    result = resumed.run()
    assert result.skipped == 1 and len(result.records) == 3 and not result.failures
    assert Comparison(out, **settings).plan().todo_count == 0

    # The same as an uninterrupted comparison. The fake server, like a sampling LLM, answers a
    # repeated request differently: a new one answers every request for the first time.
    with FakeOpenAIServer(seed=0) as server:
        Comparison(tmp_path / "fresh", **{**settings, "llm": server.base_url}).run()
    assert _curves(out) == _curves(tmp_path / "fresh")
    assert write_report(out)[0].read_text().count("| seki@optuna | 2 |") == 1


@pytest.mark.parametrize("name", ["llmnas.app.runner", "llmnas.app.report", "llmnas.app.records",
                                  "llmnas.app.contenders"])
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_the_old_module_paths_still_work():
    """``llmnas.benchmarks.runner`` (named in the README) and ``llmnas.cli`` (the console
    script's old target) were moved into ``llmnas.app``; their old paths are lazy aliases of the
    same objects."""
    import llmnas.app.compare
    import llmnas.app.runner
    from llmnas.benchmarks.runner import Comparison as OldComparison
    from llmnas.benchmarks.runner import Contender as OldContender
    from llmnas.cli import _SAME_FIELDS as old_same_fields
    from llmnas.cli import main as old_main

    assert OldComparison is llmnas.app.runner.Comparison and OldContender is llmnas.app.runner.Contender
    assert old_main is main and old_same_fields is llmnas.app.compare._SAME_FIELDS
    with pytest.raises(ImportError):
        from llmnas.benchmarks.runner import no_such_name  # noqa: F401


def test_screened_contenders_pair_with_their_own_screened_ablation(fake_openai, tmp_path):
    """``seki+screen`` is compared with ``seki-nollm+screen`` (not the unscreened ablation), and
    its runs record what the screen did."""
    from llmnas.app.contenders import Contender, known_contenders

    assert {"seki+screen@optuna", "gpt-ea-nollm+screen@nni"} <= set(known_contenders())
    for bad in ("random+screen@optuna", "seki+screen+screen@optuna", "seki+nollm@optuna"):
        with pytest.raises(ValueError, match="unknown contender"):
            Contender.parse(bad)
    contenders = ["seki+screen@optuna", "seki-nollm+screen@optuna", "seki-nollm@optuna", "re@nni"]
    out = tmp_path / "screened"
    assert main(["compare", "--benchmarks", "nb201-cifar10", "--contenders", ",".join(contenders), "--seeds", "1",
                 "--budget", "30", "--out", str(out), "--llm", fake_openai.base_url,
                 "--trust", "off"]) == 0  # (with the rule, a trusted LLM's answers pass the screen unranked)
    runs = {r["contender"]: r for r in read_runs(out / "runs.jsonl")}
    assert runs["seki+screen@optuna"]["method"] == runs["seki-nollm+screen@optuna"]["method"] == "seki+screen"
    assert runs["seki-nollm@optuna"]["method"] == "seki"
    assert runs["seki+screen@optuna"]["screened_candidates"] > 0 and runs["seki+screen@optuna"]["llm_calls"] > 0
    assert runs["seki+screen@optuna"]["screened_out"] >= runs["seki+screen@optuna"]["screened_out_llm"]
    assert runs["seki-nollm+screen@optuna"]["llm_calls"] == 0
    assert "screened_candidates" not in runs["seki-nollm@optuna"]
    results = (out / "results.md").read_text()
    ablation = results.split("LLM ablation")[1]
    row = next(line for line in ablation.splitlines() if line.startswith("| seki+screen@optuna |"))
    with_llm, own = (float(cell) for cell in row.split("|")[3:5])
    assert with_llm == pytest.approx(runs["seki+screen@optuna"]["best_report"][-1], abs=0.01)
    assert own == pytest.approx(runs["seki-nollm+screen@optuna"]["best_report"][-1], abs=0.01)
    # A second seed of the ablation alone: the ablation table still compares seed 0 with seed 0.
    Comparison(out, benchmarks=["nb201-cifar10"], contenders=["seki-nollm+screen@optuna"], seeds=[1],
               budget=30).run()
    write_report(out)
    results = (out / "results.md").read_text()
    assert "| seki-nollm+screen@optuna | 2 |" in results
    row = next(line for line in results.split("LLM ablation")[1].splitlines()
               if line.startswith("| seki+screen@optuna |"))
    assert row.split("|")[2].strip() == "1"
    assert float(row.split("|")[4]) == pytest.approx(runs["seki-nollm+screen@optuna"]["best_report"][-1], abs=0.01)


def test_a_rerun_repeats_exactly_the_recorded_runs(tmp_path):
    """A folder where not every contender ran every seed is repeated run for run, nothing added."""
    out = tmp_path / "partial"
    Comparison(out, benchmarks=["nb201-cifar10"], contenders=["seki-nollm@optuna"], seeds=2, budget=10).run()
    Comparison(out, benchmarks=["nb201-cifar10"], contenders=["re@nni"], seeds=[1], budget=10).run()
    recorded = {run_key(r) for r in read_runs(out / "runs.jsonl")}
    again = Comparison.rerun_of(out, tmp_path / "again")
    assert [(s.contender, s.seed) for s in again.specs()] == [
        ("seki-nollm@optuna", 0), ("seki-nollm@optuna", 1), ("re@nni", 1)]
    again.run()
    assert {run_key(r) for r in read_runs(again.runs_path)} == recorded
    assert _curves(again.out) == _curves(out)


def test_a_rerun_from_scratch_asks_the_llm_again_for_the_same_runs(fake_openai, tmp_path, capsys):
    """``--rerun DIR --from-scratch``: DIR's run list, answered by the LLM (not DIR's cache)."""
    recorded = tmp_path / "recorded"
    Comparison(recorded, benchmarks=["nb201-cifar10"], contenders=["seki@optuna", "re@nni"], seeds=[1],
               budget=15, llm=fake_openai.base_url).run()
    before = _requests(fake_openai)
    out = tmp_path / "scratch"
    assert main(["compare", "--rerun", str(recorded), "--from-scratch", "--llm", fake_openai.base_url,
                 "--out", str(out)]) == 0
    assert _requests(fake_openai) > before  # asked again, not replayed
    keys = [{run_key(r) for r in read_runs(folder / "runs.jsonl")} for folder in (recorded, out)]
    assert keys[0] == keys[1]
    assert any((out / "llm-cache").rglob("*.json"))  # its own answers, kept beside its results
    with pytest.raises(SystemExit) as info:
        main(["compare", "--from-scratch", "--out", str(tmp_path / "x")])
    assert info.value.code == 2 and "--from-scratch repeats a recorded folder" in capsys.readouterr().err


def test_each_run_is_repeated_with_the_options_it_was_recorded_with(fake_openai, tmp_path):
    """Records keep our contenders' options other than the defaults; a rerun repeats each run
    with its own (runs recorded before records held them: by their version), identically."""
    recorded = tmp_path / "recorded"
    for seed, options in ((0, {"prompt_history": "lists", "trust": True}), (1, {"trust": False})):
        Comparison(recorded, benchmarks=["nb201-cifar10"], contenders=["seki@optuna"], seeds=[seed], budget=15,
                   llm=fake_openai.base_url, options=options).run()
    runs = {r["seed"]: r for r in read_runs(recorded / "runs.jsonl")}
    assert runs[0]["options"] == {"prompt_history": "lists"} and runs[1]["options"] == {"trust": False}
    again = Comparison.rerun_of(recorded, tmp_path / "again")
    assert again.run_options == {("nb201-cifar10", "seki@optuna", 0): {"prompt_history": "lists"},
                                 ("nb201-cifar10", "seki@optuna", 1): {"trust": False}}
    result = again.run()
    assert result.replay_misses == 0
    assert _curves(again.out) == _curves(recorded)
    changed = Comparison.rerun_of(recorded, tmp_path / "changed", options={"trust": False})  # one option changed
    assert changed.run_options == {("nb201-cifar10", "seki@optuna", 0): {"prompt_history": "lists", "trust": False},
                                   ("nb201-cifar10", "seki@optuna", 1): {"trust": False}}
    old = {**runs[0], "version": 1}
    del old["options"]
    assert options_of(old) == {"trust": False, "prompt_history": "lists"}
    assert options_of({**old, "version": 2}) == {"prompt_history": "lists"}
    with pytest.raises(ValueError, match="options must name SearchOptions other than the run's own"):
        run_one(again.benchmark("nb201-cifar10"), "seki-nollm@optuna", 0, 5, options={"seed": 3})
