"""Shared test fixtures."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fake_openai import FakeOpenAIServer

# A developer's real key or endpoint must never reach a test (nor be used by one).
_LLM_ENV = (
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "LLMNAS_MODEL",
    "LLMNAS_LLM_CACHE",
    "LLMNAS_LLM_CACHE_MODE",
    "LLMNAS_LLM_TRACE",
)


@pytest.fixture(autouse=True, scope="session")
def _no_llm_env() -> Iterator[None]:
    """Remove the LLM configuration variables from the environment for the whole session."""
    with pytest.MonkeyPatch.context() as mp:
        for name in _LLM_ENV:
            mp.delenv(name, raising=False)
        yield


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAIServer]:
    """A fresh fake OpenAI-compatible server (seed 0); ``.base_url`` is its ``/v1`` URL."""
    with FakeOpenAIServer(seed=0) as server:
        yield server


@pytest.fixture(autouse=True, scope="session")
def _quiet_nni_at_exit() -> Iterator[None]:
    """NNI's logger writes to the ``sys.stdout`` it saw at import (pytest's capture, closed
    by the end of the session) and its experiments log once more from ``atexit``: point it
    at the real stderr and keep only warnings once the session is over."""
    yield
    import logging
    import sys

    nni_logger = logging.getLogger("nni")
    for handler in nni_logger.handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(sys.__stderr__)
    nni_logger.setLevel(logging.WARNING)
