"""An NNI web-UI experiment killed mid-run resumes with ``exp.resume()`` and completes its
budget: every architecture evaluated once, the finished ones kept, the knowledge kept.

The experiment runs in a subprocess (``tests.nni.resume_driver``); a second subprocess resumes
it. The fake LLM endpoint lives in the test process. Two ways to die:

* ``crash``: NNI's node manager, the trials and the experiment's process are killed at once
  (SIGKILL, manager first), as when the machine goes down. NNI's manager re-runs the trials
  that were running; the strategy reads their results from NNI's database.
* ``python``: the Python processes die first (the experiment's and the trials', as an
  out-of-memory kill would take them); NNI's manager, still alive for a moment, records the
  running trials as cancelled before it is killed in turn. Those architectures were never
  evaluated, so the resumed strategy submits them again (NNI counts cancelled trials in
  ``max_trial_number``, so the budget ends with that many fewer evaluations).
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[2]
BUDGET = 8

pytestmark = pytest.mark.slow


def _driver(action: str, tmp: Path, port: int, llm: str) -> list[str]:
    return [sys.executable, "-m", "tests.nni.resume_driver", action, "--id", "killed1",
            "--workdir", str(tmp / "work"), "--port", str(port), "--llm", llm, "--budget", str(BUDGET),
            "--concurrency", "2", "--result", str(tmp / f"result-{action}.json")]


def _kill_experiment(process: subprocess.Popen, experiment_id: str, how: str) -> None:
    """SIGKILL the driver's process group, NNI's manager (its own session) and the trials:
    manager first (``crash``), or the Python processes and 3 s later the manager (``python``)."""
    manager, trials = f"experiment-id {experiment_id}", "nni.nas.execution.training_service trial"
    if how == "crash":
        subprocess.run(["pkill", "-9", "-f", manager], check=False)
        subprocess.run(["pkill", "-9", "-f", trials], check=False)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    if how == "python":
        subprocess.run(["pkill", "-9", "-f", trials], check=False)
        time.sleep(3.0)
    for pattern in (manager, trials):
        subprocess.run(["pkill", "-9", "-f", pattern], check=False)
    time.sleep(1.0)


def _key(config: dict) -> str:
    """A configuration as text, the chosen inputs of an InputChoice in any order."""
    return json.dumps({k: sorted(v) if isinstance(v, list) else v for k, v in config.items()}, sort_keys=True)


def _trials(tmp: Path) -> list[tuple[str, str]]:
    """``(trial id, last event)`` of every trial in NNI's database."""
    with sqlite3.connect(tmp / "work" / "killed1" / "db" / "nni.sqlite") as db:
        rows = db.execute("SELECT trialJobId, event FROM TrialJobEvent ORDER BY timestamp").fetchall()
    last: dict[str, str] = {}
    for trial, event in rows:
        last[trial] = event
    return sorted(last.items())


@pytest.mark.parametrize("how", ["crash", "python"])
def test_killed_web_ui_experiment_resumes_and_completes_its_budget(how, fake_openai, nni_home, free_port, tmp_path):
    trial_log = tmp_path / "trials"
    trial_log.mkdir()
    env = dict(os.environ, HOME=str(nni_home.parent), NNI_CONFIG_DIR=str(nni_home.parent / "nni-config"),
               PYTHONPATH=str(REPO), LLMNAS_TEST_TRIAL_LOG=str(trial_log), LLMNAS_TEST_TRIAL_SECONDS="2")

    first = subprocess.Popen(_driver("run", tmp_path, free_port, fake_openai.base_url), cwd=REPO, env=env,
                             stdout=subprocess.DEVNULL, stderr=open(tmp_path / "run.log", "w"),
                             start_new_session=True)
    deadline = time.monotonic() + 240
    while len(list(trial_log.iterdir())) < 3 and time.monotonic() < deadline:
        assert first.poll() is None, (tmp_path / "run.log").read_text()[-3000:]
        time.sleep(0.5)
    _kill_experiment(first, "killed1", how)
    assert len(list(trial_log.iterdir())) >= 3, "the experiment did not get going before the deadline"

    # The strategy checkpointed mid-run (NNI itself saves only at start and stop), in plain
    # data that torch's weights-only loader reads (no TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD needed).
    [checkpoint] = (tmp_path / "work" / "killed1" / "checkpoint").glob("state.ckpt*")
    saved = torch.load(checkpoint, weights_only=True)["strategy"]
    finished_before = {r["number"]: r for r in saved["records"] if r["state"] == "complete"}
    assert len(finished_before) >= 1 and saved["knowledge"], saved
    assert len(saved["records"]) < BUDGET
    assert not list((tmp_path / "work" / "killed1" / "checkpoint").glob(".llmnas-*")), "staging folder left behind"

    second = subprocess.run(_driver("resume", tmp_path, free_port + 1 if free_port < 65535 else free_port - 1,
                                    fake_openai.base_url),
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=400)
    assert second.returncode == 0, second.stderr[-4000:]
    result = json.loads((tmp_path / "result-resume.json").read_text())
    records = result["records"]

    # NNI's own record: max_trial_number trials. After a crash every one succeeded (the killed
    # ones re-run by NNI's manager under their trial ids); when the Python processes died
    # first, NNI's manager marked the running ones cancelled.
    trials = _trials(tmp_path)
    cancelled = sum(event == "USER_CANCELED" for _, event in trials)
    assert len(trials) == BUDGET and all(event in ("SUCCEEDED", "USER_CANCELED") for _, event in trials), trials
    if how == "crash":
        assert cancelled == 0, trials
    else:
        assert cancelled >= 1 and "cancelled by NNI" in second.stderr, trials

    # Every architecture evaluated once, all complete, the earlier ones kept as they were, and
    # every architecture the method chose before the kill evaluated (re-run or submitted again).
    evaluated = BUDGET - cancelled
    assert len(records) == evaluated and all(r["state"] == "complete" for r in records), records
    keys = {_key(r["config"]) for r in records}
    assert len(keys) == evaluated, "an architecture was evaluated twice"
    chosen_before = {_key(r["config"]) for r in saved["records"]}
    assert len(chosen_before) == len(saved["records"]) and chosen_before <= keys
    by_number = {r["number"]: r for r in records}
    for number, before in finished_before.items():
        assert by_number[number]["score"] == before["value"]
    assert result["summary"]["models"] == {"submitted": evaluated, "complete": evaluated, "failed": 0, "running": 0}
    # The knowledge learned before the kill is still there, and the search went on using the LLM.
    assert set(saved["knowledge"]) <= set(result["knowledge"])
    assert result["summary"]["pipeline"]["llm_calls"] >= 1
    assert "were running" in second.stderr
