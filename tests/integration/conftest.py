"""Fixtures of the end-to-end tests: an endpoint given only by environment variables."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fake_openai import FakeOpenAIServer
from tests.nni.conftest import nni_home  # noqa: F401  (NNI writes only under tmp_path)


@pytest.fixture
def env_endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOpenAIServer]:
    """A fake OpenAI-compatible server that the library finds through OPENAI_BASE_URL,
    OPENAI_API_KEY and LLMNAS_MODEL alone, as a user's endpoint would be found."""
    with FakeOpenAIServer(seed=0, models=("served-model",)) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-integration-secret-0123456789")
        monkeypatch.setenv("LLMNAS_MODEL", "served-model")
        yield server
