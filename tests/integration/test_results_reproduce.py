"""The README's results are reproducible: the recorded runs of ``results/`` are repeated from
their recorded LLM answers (no model, no endpoint) and find the same architectures in the same
order, with the same LLM calls and fallbacks (what ``make results`` does for every run; here
every run of a folder that used an LLM, and the first two seeds of the others, for time)."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmnas.app.cli import main
from llmnas.app.compare import _SAME_FIELDS
from llmnas.app.runner import Comparison, read_runs, run_key

REPO = Path(__file__).resolve().parents[2]
RECORDED = sorted(p.parent for p in (REPO / "results").glob("*/runs.jsonl"))


@pytest.mark.parametrize("recorded", RECORDED, ids=[p.name for p in RECORDED])
def test_recorded_results_replay_identically(recorded: Path, tmp_path: Path) -> None:
    runs = {run_key(r): r for r in read_runs(recorded / "runs.jsonl")}
    uses_llm = any(r["llm_calls"] for r in runs.values())
    comparison = Comparison.rerun_of(recorded, tmp_path / "reproduced")
    if not uses_llm:
        comparison.seeds = comparison.seeds[:2]
    result = comparison.run()
    assert not result.failures and result.replay_misses == 0
    replayed = {run_key(r): r for r in read_runs(comparison.runs_path)}
    assert replayed and set(replayed) <= set(runs)
    assert uses_llm is False or len(replayed) == len(runs)
    for key, again in replayed.items():
        differing = [f for f in _SAME_FIELDS if again.get(f) != runs[key].get(f)]
        assert not differing, f"{key}: {differing} differ from the recorded run"
    assert sum(r["cache_hits"] for r in replayed.values()) == sum(r["llm_calls"] for r in replayed.values())


def test_the_rerun_command_checks_every_run(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """``llmnas compare --rerun DIR`` (``make results``) on the folder that used the LLM."""
    [recorded] = [p for p in RECORDED if any(r["llm_calls"] for r in read_runs(p / "runs.jsonl"))]
    count = len(read_runs(recorded / "runs.jsonl"))
    assert main(["compare", "--rerun", str(recorded), "--out", str(tmp_path / "again")]) == 0
    assert f"{count} runs in both, {count} identical, 0 different" in capsys.readouterr().out
    assert (tmp_path / "again" / "results.md").is_file()


def test_there_are_recorded_results() -> None:
    assert len(RECORDED) >= 2, "results/*/runs.jsonl is missing: the README's results section has no data"
