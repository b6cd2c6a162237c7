"""A real OpenAI-compatible server: llama-cpp-python's (``python -m llama_cpp.server``) serving
the embedded GGUF model on loopback, one study per host through it. That server answers
``response_format`` ``json_schema`` with HTTP 500 and accepts ``json_object`` with a schema:
the client settles on the form it accepts, and the LLM's answers reach the trials."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import optuna
import pytest

if not os.environ.get("CI"):  # CI installs the `server` extra (make setup): there a missing one fails
    pytest.importorskip("llama_cpp")
    for _module in ("fastapi", "uvicorn", "sse_starlette", "pydantic_settings", "starlette_context"):
        pytest.importorskip(_module, reason="the `server` extra (llama-cpp-python's server) is not installed")

from llmnas.llm import OpenAIChatLLM  # noqa: E402
from llmnas.llm.local import find_local_model  # noqa: E402
from nni.nas.execution import SequentialExecutionEngine  # noqa: E402
from nni_llm_strategies import SEKIStrategy  # noqa: E402
from optuna_llm_samplers import SEKISampler  # noqa: E402
from tests.nni.test_nni_strategy import tiny_space  # noqa: E402
from tests.optuna.conftest import nas_objective  # noqa: E402

pytestmark = pytest.mark.slow
SETTINGS = {"batch_size": 2, "llm_timeout": 600, "llm_request_timeout": 600, "temperature": 0.0}  # slow CPU model


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    model, _ = find_local_model("smollm2")
    port = _free_port()
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1",
             "--port", str(port), "--n_ctx", "8192", "--model_alias", "smollm2", "--verbose", "False"],
            stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert process.poll() is None, log.read_text()[-2000:]
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.5)
        else:
            pytest.fail("llama_cpp.server did not start in 120 s:\n" + log.read_text()[-2000:])
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _check_llm_was_used(searcher_summary: dict, llm) -> None:
    pipeline = searcher_summary["pipeline"]
    assert pipeline["llm_calls"] - pipeline["llm_errors"] >= 1, pipeline  # the server answered
    assert llm.structured_mode == "json_object"  # json_schema refused (HTTP 500): json_object + schema
    assert searcher_summary["llm"].startswith("openai:smollm2 @ http://127.0.0.1:")
    assert searcher_summary["llm_usage"]["completion_tokens"] > 0


def test_an_optuna_study_through_the_llama_cpp_server(llama_server: str) -> None:
    llm = OpenAIChatLLM("smollm2", base_url=llama_server, timeout=600, max_total_s=600)  # json_schema first
    sampler = SEKISampler(llm=llm, seed=0, budget=4, **SETTINGS)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(nas_objective, n_trials=4)
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
    assert len({str(sorted(t.params.items())) for t in study.trials}) == 4
    assert all("llmnas_source" in t.user_attrs for t in study.trials)
    assert study.user_attrs["llmnas_llm_model"] == "smollm2"
    _check_llm_was_used(sampler.summary(), llm)


def test_an_nni_search_through_the_llama_cpp_server(llama_server: str) -> None:
    strategy = SEKIStrategy(llm=llama_server, seed=0, **SETTINGS)
    strategy(tiny_space(), SequentialExecutionEngine(max_model_count=4, continue_on_failure=True))
    records = strategy.records()
    assert len(records) == 4 and all(r["state"] == "complete" for r in records)
    assert len(strategy.provenance()) == 4
    _check_llm_was_used(strategy.summary(), strategy.searcher.llm)
