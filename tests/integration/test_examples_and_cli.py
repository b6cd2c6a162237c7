"""The examples and the ``llmnas demo`` command run as a user runs them (a new process),
against an endpoint given by environment variables."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run(args: list[str], env_endpoint, tmp_path: Path, timeout: int = 240) -> str:
    env = dict(os.environ)
    env.update(HOME=str(tmp_path), NNI_CONFIG_DIR=str(tmp_path / "nni-config"),
               PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=timeout)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-4000:]
    assert "sk-integration-secret" not in out.stdout + out.stderr
    return out.stdout


METHODS = ["seki", "lapt", "collm-nas", "gpt-ea"]


@pytest.mark.parametrize("method", METHODS)
def test_optuna_example(env_endpoint, tmp_path, method):
    out = run(["examples/optuna_nb201.py", "--method", method, "--trials", "12"], env_endpoint, tmp_path)
    assert "best valid" in out and "table optimum test 94.37" in out
    assert env_endpoint.chat_requests or method == "gpt-ea"  # GPT-EA's 12 trials: 3 generations of 4


@pytest.mark.parametrize("method", METHODS)
def test_nni_example(env_endpoint, tmp_path, method):
    out = run(["examples/nni_nb201.py", "--method", method, "--models", "12"], env_endpoint, tmp_path)
    assert "accepted_llm" in out and "best valid" in out
    assert env_endpoint.chat_requests


def test_real_training_example(env_endpoint, tmp_path):
    out = run(["examples/optuna_train_cnn.py", "--method", "collm-nas", "--trials", "4"], env_endpoint, tmp_path)
    assert "best validation accuracy" in out


def test_lapt_transfer_example(env_endpoint, tmp_path):
    principles = tmp_path / "principles.json"
    out = run(["examples/lapt_transfer_nni_to_optuna.py", "--source-models", "12", "--trials", "8",
               "--principles", str(principles)], env_endpoint, tmp_path)
    assert "NNI on CIFAR-10: 12 models" in out and f"Optuna on CIFAR-100 from {principles}" in out
    assert principles.exists()


def test_collm_nas_constraint_example(env_endpoint, tmp_path):
    out = run(["examples/collm_nas_optuna_constraint.py", "--trials", "20"], env_endpoint, tmp_path)
    assert "trials over the limit: none" in out and "Navigator rounds:" in out


@pytest.mark.parametrize("host", ["optuna", "nni"])
def test_demo_prints_a_result_table(env_endpoint, tmp_path, host):
    result = tmp_path / "result.json"
    out = run(["-m", "llmnas", "demo", "--host", host, "--budget", "10", "--json", str(result)],
              env_endpoint, tmp_path)
    assert "Top 10 of 10 architectures (NAS-Bench-201 cifar10" in out
    assert "Evaluated 10 architectures (10 distinct)" in out
    assert "table optimum: valid 91.61, test 94.37" in out
    assert result.exists()


def test_demo_runs_any_method(env_endpoint, tmp_path):
    out = run(["-m", "llmnas", "demo", "--method", "collm-nas", "--budget", "10"], env_endpoint, tmp_path)
    assert "Evaluated 10 architectures (10 distinct)" in out and "CoLLM-NAS" in out


def test_demo_task_digits_trains_cnns(env_endpoint, tmp_path):
    out = run(["-m", "llmnas", "demo", "--task", "digits", "--budget", "3", "--epochs", "1"],
              env_endpoint, tmp_path)
    assert "CNNs trained on scikit-learn digits" in out
    assert "Evaluated 3 architectures (3 distinct)" in out


def cli_error(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Run ``llmnas`` with bad arguments; the process must fail as a usage error should."""
    env = dict(os.environ, HOME=str(tmp_path), PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "llmnas", *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("args, expected", [
    (["demo", "--seed", "abc"], "argument --seed: expected an integer, got 'abc'"),
    (["demo", "--budget", "0"], "argument --budget: expected an integer >= 1, got 0"),
    (["demo", "--llm", "gpt4"], "argument --llm: llm must be one of:"),
    (["demo", "--dataset", "mnist"], "argument --dataset: invalid choice: 'mnist'"),
    (["compare", "--benchmarks", "nb201-cifar11", "--out", "x"],
     "argument --benchmarks: unknown benchmark 'nb201-cifar11'; expected comma-separated names from: graph-arxiv"),
    (["compare", "--seeds", "two", "--out", "x"], "argument --seeds: expected an integer >= 1, got 'two'"),
    (["frobnicate"], "argument {demo,compare}: invalid choice: 'frobnicate'"),
])
def test_a_bad_argument_is_one_line_naming_what_was_expected(tmp_path, args, expected):
    out = cli_error(args, tmp_path)
    assert out.returncode == 2, out.stderr
    assert out.stdout == ""
    lines = out.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in out.stderr, out.stderr
    assert expected in lines[0] and lines[0].startswith("llmnas")


def test_a_missing_table_is_an_error_not_another_task(tmp_path):
    """An unknown or missing benchmark never silently switches to another task."""
    empty = tmp_path / "no-tables"
    empty.mkdir()
    out = cli_error(["demo", "--budget", "3", "--benchmarks", str(empty)], tmp_path)
    assert out.returncode == 2 and len(out.stderr.splitlines()) == 1, out.stderr
    assert "no usable NAS-Bench-201 table" in out.stderr and "nb201.csv.gz" in out.stderr
    assert "digits" not in out.stdout + out.stderr


@pytest.mark.parametrize("module", ["llmnas", "llmnas.cli"])  # llmnas.cli: the command's old path
def test_version(tmp_path, module):
    import llmnas

    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-m", module, "--version"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == f"llmnas {llmnas.__version__}"
