"""The LLM layer: one small protocol and its backends.

One call, from the caller down: :meth:`LLM.complete` → :class:`BaseLLM` (``base``) builds a
:class:`ChatRequest` (``exchange``), serves it from the response cache (``cache``) or hands it
to the backend's client (``openai_chat`` or ``local``), decodes the :class:`RawAnswer` into an
:class:`LLMResponse` (``exchange``, with ``parsing``), meters it and writes the trace
(``trace``), with secrets redacted throughout (``redaction``).

* :class:`LLM` / :class:`LLMResponse` / :class:`LLMError` / :class:`Usage` /
  :class:`UsageMeter`: the contract (``protocol``); :class:`LLMSetupError` (a named LLM that
  cannot be used at all), :class:`LLMTimeout`, :func:`llm_deadline` (bounded waits) and
  :func:`trace_context` (host ids in trace records).
* :class:`OpenAIChatLLM`: any OpenAI-compatible endpoint, with retries and structured output.
* :class:`LocalLLM`: the embedded demo model (llama.cpp in process).
* :func:`resolve_llm`: a spec string, an object or the environment → an :class:`LLM`.
* :func:`parse_json_answer`: JSON out of a model's text (fences, prose, truncation).
* :class:`BaseLLM`: shared metering, JSONL trace, response cache and secret redaction.
"""

from __future__ import annotations

from .base import BaseLLM
from .exchange import ChatRequest, RawAnswer
from .local import LOCAL_MODELS, LocalLLM
from .openai_chat import OpenAIChatLLM, list_models
from .parsing import parse_json_answer
from .protocol import (
    LLM, CompleteOptions, LLMError, LLMResponse, LLMSetupError, LLMTimeout, Message, Usage, UsageMeter, llm_deadline,
    trace_context,
)
from .redaction import redact, register_secret
from .resolve import resolve_llm

__all__ = [
    "LLM",
    "LOCAL_MODELS",
    "BaseLLM",
    "ChatRequest",
    "CompleteOptions",
    "LLMError",
    "LLMResponse",
    "LLMSetupError",
    "LLMTimeout",
    "LocalLLM",
    "Message",
    "OpenAIChatLLM",
    "RawAnswer",
    "Usage",
    "UsageMeter",
    "list_models",
    "llm_deadline",
    "parse_json_answer",
    "redact",
    "register_secret",
    "resolve_llm",
    "trace_context",
]
