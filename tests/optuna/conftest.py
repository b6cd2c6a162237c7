"""Fixtures for the Optuna host tests: a NAS-like objective, storages, LLM environment."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import optuna
import pytest
from optuna.distributions import BaseDistribution
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend

from tests.fake_openai import FakeOpenAIServer

OPS = ("none", "skip_connect", "conv_1x1", "conv_3x3", "avg_pool_3x3")
EDGES = tuple(f"cell/{i}_{j}" for j in range(1, 4) for i in range(j))  # six edges, as in NB201
_OP_SCORE = {"none": 0.0, "skip_connect": 1.0, "conv_1x1": 2.0, "conv_3x3": 3.5, "avg_pool_3x3": 1.5}


def nas_score(params: dict[str, Any]) -> float:
    """A deterministic score of a cell (no training): weighted op quality plus a bonus."""
    score = sum((k + 1) * _OP_SCORE[params[e]] for k, e in enumerate(EDGES))
    return score + (2.0 if params[EDGES[0]] == params[EDGES[-1]] else 0.0)


def nas_objective(trial: optuna.Trial) -> float:
    """Six categorical parameters with NAS-Bench-201's operations."""
    params = {edge: trial.suggest_categorical(edge, list(OPS)) for edge in EDGES}
    return nas_score(params)


class OddDistribution(BaseDistribution):
    """A distribution no sampler knows (neither categorical, int nor float)."""

    def to_external_repr(self, v: float) -> Any:
        return v

    def to_internal_repr(self, v: Any) -> float:
        return float(v)

    def single(self) -> bool:
        return False

    def _contains(self, v: float) -> bool:
        return True


def params_key(trial: optuna.trial.FrozenTrial) -> str:
    """A trial's parameters as a comparable string (duplicate detection)."""
    return json.dumps(trial.params, sort_keys=True)


def chat_text(server: FakeOpenAIServer) -> list[str]:
    """The JSON text of every chat request the fake server received."""
    return [json.dumps(r.body) for r in server.chat_requests]


@pytest.fixture(autouse=True)
def _quiet_optuna() -> Iterator[None]:
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    yield
    optuna.logging.set_verbosity(verbosity)


@pytest.fixture
def journal_path(tmp_path: Path) -> Path:
    return tmp_path / "journal.log"


@pytest.fixture
def journal(journal_path: Path) -> Callable[[], JournalStorage]:
    """A factory of JournalStorage objects on one file (each like a separate process)."""
    return lambda: JournalStorage(JournalFileBackend(str(journal_path)))


@pytest.fixture
def llm_env(fake_openai: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch) -> FakeOpenAIServer:
    """The environment points ``llm=None`` at the fake server (as a user's shell would)."""
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")
    monkeypatch.setenv("LLMNAS_MODEL", "fake-model")
    return fake_openai


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real PostgreSQL server for the session (``pgserver`` ships the binaries; installed
    with the ``postgres`` extra, the tests that use it are skipped without it), on a Unix socket
    in a temporary folder; stopped at the end."""
    import warnings

    reason = "PostgreSQL tests need the postgres extra: pip install -e '.[postgres]'"
    pytest.importorskip("psycopg2", reason=reason)
    with warnings.catch_warnings():  # platformdirs: "XDG_RUNTIME_DIR is not set" (harmless here)
        warnings.simplefilter("ignore")
        pgserver = pytest.importorskip("pgserver", reason=reason)

        server = pgserver.get_server(tmp_path_factory.mktemp("pg"), cleanup_mode="stop")
    try:
        yield server.get_uri().replace("postgresql://", "postgresql+psycopg2://", 1)
    finally:
        server.cleanup()
