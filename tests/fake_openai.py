"""A fake OpenAI-compatible HTTP server for tests (stdlib only).

It serves ``POST /v1/chat/completions`` and ``GET /v1/models`` on 127.0.0.1 (an ephemeral
port by default) from a daemon thread, records every request, and by default answers like a
well-behaved model: it reads the JSON schema of the request (``response_format``
``json_schema`` or ``json_object`` + ``schema``; for a plain-text request, a schema written
into the last user message) and generates a schema-valid JSON answer with an RNG seeded by
the server seed and the request, so the same test gets the same answers every run.

Fault injection: :meth:`FakeOpenAIServer.script` queues behaviours consumed one per chat
request, after which the default resumes::

    with FakeOpenAIServer(seed=0) as server:
        server.script([Status(429, retry_after=0.1), Status(503), Truncated()])
        ...                               # client calls go to server.base_url
        assert len(server.chat_requests) == 3
        server.requests[0].headers["authorization"]

Persistent modes (``RejectJsonSchema()``, ``RejectJsonObject()``) take effect when scripted,
without consuming a request, and stay until :meth:`FakeOpenAIServer.reset`.

Run by hand: ``python -m tests.fake_openai --port 8000`` prints the base URL and serves.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import random
import socket
import string
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = [
    "Answer",
    "Disconnect",
    "Empty",
    "FakeOpenAIServer",
    "Garbage",
    "Hang",
    "RecordedRequest",
    "RejectJsonObject",
    "RejectJsonSchema",
    "Slow",
    "Status",
    "Truncated",
    "generate_from_schema",
    "list_schema",
    "llm_responder",
    "schema_errors",
]


# --------------------------------------------------------------------------- behaviours


@dataclass(frozen=True)
class Status:
    """Answer with an HTTP error ``code`` (optionally a ``Retry-After`` header, a message)."""

    code: int
    retry_after: float | None = None
    message: str | None = None


@dataclass(frozen=True)
class Hang:
    """Send nothing for ``seconds`` (a hanging endpoint), then close the connection."""

    seconds: float = 30.0


@dataclass(frozen=True)
class Slow:
    """Wait ``seconds``, then answer normally."""

    seconds: float


@dataclass(frozen=True)
class Garbage:
    """Answer 200 with ``text`` as the message content."""

    text: str = "not json at all"


@dataclass(frozen=True)
class Truncated:
    """Cut a valid answer after ``fraction`` of its characters; finish_reason ``"length"``."""

    fraction: float = 0.6


@dataclass(frozen=True)
class Empty:
    """Answer 200 with an empty message content."""


@dataclass(frozen=True)
class Answer:
    """Answer 200 with ``value`` (a str as is, anything else as JSON)."""

    value: Any
    finish_reason: str = "stop"


@dataclass(frozen=True)
class Disconnect:
    """Close the connection without answering."""


@dataclass(frozen=True)
class RejectJsonSchema:
    """Persistent: answer ``status`` (500, like llama-cpp-python's server) to any json_schema request."""

    status: int = 500


@dataclass(frozen=True)
class RejectJsonObject:
    """Persistent: answer ``status`` to any json_object request."""

    status: int = 400


Behaviour = Status | Hang | Slow | Garbage | Truncated | Empty | Answer | Disconnect
Responder = Callable[[dict[str, Any], "dict[str, Any] | None", random.Random], Any]
"""``(request body, schema or None, rng) -> answer`` (a str as is, anything else as JSON)."""


@dataclass
class RecordedRequest:
    """One request the server received."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    time: float = field(default_factory=time.time)


def llm_responder(llm: Any) -> Responder:
    """A :data:`Responder` that answers with an LLM object of the library (anything with
    ``complete(messages, schema=...)``, e.g. ``llmnas.app.quality.QualityLLM``): the server
    then serves that policy through the real HTTP protocol::

        with FakeOpenAIServer(responder=llm_responder(QualityLLM(bench, "expert"))) as server:
            ...  # a sampler with llm=server.base_url gets the expert's answers
    """

    def respond(body: dict[str, Any], schema: dict[str, Any] | None, rng: random.Random) -> Any:
        messages = [{"role": str(m.get("role", "user")), "content": str(m.get("content", ""))}
                    for m in body.get("messages", []) if isinstance(m, dict)]
        return llm.complete(messages, schema=schema).text

    return respond


# --------------------------------------------------------------------------- schema walk

_WORDS = (
    "alpha bravo conv pool skip wide deep narrow residual dense sparse light fast stable "
    "layer block cell stage edge node kernel width depth ratio"
).split()


def generate_from_schema(schema: dict[str, Any], rng: random.Random) -> Any:
    """A random value valid under ``schema`` (the common subset of JSON Schema).

    Handles ``$ref`` into ``$defs``/``definitions``, ``const``, ``enum``, ``anyOf``/``oneOf``,
    ``allOf`` (merged), type lists, objects (every listed property), arrays (``minItems`` ..
    ``maxItems``, ``uniqueItems``, ``prefixItems``), integers and numbers (``minimum``,
    ``maximum``, exclusive bounds, ``multipleOf``), strings (``minLength``/``maxLength``),
    booleans and null.
    """
    return _gen(schema, schema, rng, 0)


def _resolve(node: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    seen = 0
    while isinstance(node, dict) and "$ref" in node and seen < 32:
        ref = node["$ref"]
        if not isinstance(ref, str) or not ref.startswith("#"):
            return {}
        target: Any = root
        for part in ref.lstrip("#").strip("/").split("/"):
            if not part:
                continue
            part = part.replace("~1", "/").replace("~0", "~")
            target = target.get(part, {}) if isinstance(target, dict) else {}
        extra = {k: v for k, v in node.items() if k != "$ref"}
        node = {**target, **extra} if isinstance(target, dict) else extra
        seen += 1
    return node if isinstance(node, dict) else {}


def _merge_all_of(node: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    merged = {k: v for k, v in node.items() if k != "allOf"}
    for part in node.get("allOf", []):
        part = _resolve(part, root)
        for key, value in part.items():
            if key == "properties":
                merged["properties"] = {**merged.get("properties", {}), **value}
            elif key == "required":
                merged["required"] = sorted(set(merged.get("required", [])) | set(value))
            else:
                merged.setdefault(key, value)
    return merged


def _gen(node: Any, root: dict[str, Any], rng: random.Random, depth: int) -> Any:
    if node is True or not isinstance(node, dict):
        return _gen_string({}, rng)
    node = _resolve(node, root)
    if "allOf" in node:
        node = _merge_all_of(node, root)
    if "const" in node:
        return node["const"]
    if "enum" in node and node["enum"]:
        return rng.choice(list(node["enum"]))
    for key in ("anyOf", "oneOf"):
        options = node.get(key)
        if options:
            non_null = [o for o in options if not (isinstance(o, dict) and o.get("type") == "null")]
            return _gen(rng.choice(non_null or options), root, rng, depth + 1)
    kind = node.get("type")
    if isinstance(kind, list):
        choices = [t for t in kind if t != "null"] or kind
        kind = rng.choice(choices) if choices else None
    if kind is None:
        if "properties" in node or "additionalProperties" in node:
            kind = "object"
        elif "items" in node or "prefixItems" in node:
            kind = "array"
        elif "minimum" in node or "maximum" in node:
            kind = "number"
        else:
            kind = "string"
    if kind == "object":
        return _gen_object(node, root, rng, depth)
    if kind == "array":
        return _gen_array(node, root, rng, depth)
    if kind == "integer":
        return _gen_integer(node, rng)
    if kind == "number":
        return _gen_number(node, rng)
    if kind == "boolean":
        return rng.random() < 0.5
    if kind == "null":
        return None
    return _gen_string(node, rng)


def _gen_object(node: dict[str, Any], root: dict[str, Any], rng: random.Random, depth: int) -> dict[str, Any]:
    props: dict[str, Any] = node.get("properties") or {}
    required = [r for r in node.get("required", []) if isinstance(r, str)]
    out: dict[str, Any] = {}
    if depth > 8:  # deep recursion: only what is required
        names = required
    else:
        names = list(props) + [r for r in required if r not in props]
    for name in names:
        out[name] = _gen(props.get(name, {}), root, rng, depth + 1)
    extra = node.get("additionalProperties")
    if not props and isinstance(extra, dict) and depth <= 8:
        for i in range(rng.randint(1, 2)):
            out[f"key{i + 1}"] = _gen(extra, root, rng, depth + 1)
    return out


def _gen_array(node: dict[str, Any], root: dict[str, Any], rng: random.Random, depth: int) -> list[Any]:
    lo = int(node.get("minItems", 0) or 0)
    hi_given = node.get("maxItems")
    prefix = node.get("prefixItems") or (node.get("items") if isinstance(node.get("items"), list) else None)
    default_lo = max(lo, 1) if depth <= 8 else lo
    hi = int(hi_given) if hi_given is not None else default_lo + 2
    hi = max(lo, min(hi, lo + 8))
    n = rng.randint(min(default_lo, hi), hi)
    items_schema = node.get("items") if isinstance(node.get("items"), dict) else {}
    unique = bool(node.get("uniqueItems"))
    out: list[Any] = []
    seen: set[str] = set()
    tries = 0
    while len(out) < n and tries < 30 * (n + 1):
        tries += 1
        index = len(out)
        sub = prefix[index] if prefix and index < len(prefix) else items_schema
        value = _gen(sub, root, rng, depth + 1)
        if unique:
            key = json.dumps(value, sort_keys=True)
            if key in seen:
                continue
            seen.add(key)
        out.append(value)
    return out


def _bounds(node: dict[str, Any], integer: bool) -> tuple[float, float]:
    lo = node.get("minimum")
    hi = node.get("maximum")
    step = 1 if integer else 1e-6
    exc_lo, exc_hi = node.get("exclusiveMinimum"), node.get("exclusiveMaximum")
    if isinstance(exc_lo, bool):  # draft 4 style
        if exc_lo and lo is not None:
            lo = lo + step
    elif isinstance(exc_lo, (int, float)):
        lo = exc_lo + step if lo is None else max(lo, exc_lo + step)
    if isinstance(exc_hi, bool):
        if exc_hi and hi is not None:
            hi = hi - step
    elif isinstance(exc_hi, (int, float)):
        hi = exc_hi - step if hi is None else min(hi, exc_hi - step)
    if lo is None and hi is None:
        lo, hi = 0, 100
    elif lo is None:
        lo = hi - 100
    elif hi is None:
        hi = lo + 100
    if hi < lo:
        hi = lo
    return float(lo), float(hi)


def _gen_integer(node: dict[str, Any], rng: random.Random) -> int:
    lo, hi = _bounds(node, integer=True)
    ilo, ihi = math.ceil(lo), math.floor(hi)
    if ihi < ilo:
        ihi = ilo
    step = node.get("multipleOf")
    if isinstance(step, (int, float)) and step > 0:
        klo, khi = math.ceil(ilo / step), math.floor(ihi / step)
        if khi >= klo:
            return int(round(rng.randint(klo, khi) * step))
    return rng.randint(ilo, ihi)


def _gen_number(node: dict[str, Any], rng: random.Random) -> float | int:
    lo, hi = _bounds(node, integer=False)
    step = node.get("multipleOf")
    if isinstance(step, (int, float)) and step > 0:
        klo, khi = math.ceil(lo / step - 1e-9), math.floor(hi / step + 1e-9)
        if khi >= klo:
            value = rng.randint(klo, khi) * step
            decimals = max(0, -int(math.floor(math.log10(step)))) + 2 if step < 1 else 0
            return round(value, decimals) if decimals else value
    value = round(rng.uniform(lo, hi), 4)
    return min(max(value, lo), hi)


def _gen_string(node: dict[str, Any], rng: random.Random) -> str:
    lo = int(node.get("minLength", 0) or 0)
    hi = node.get("maxLength")
    words = [rng.choice(_WORDS) for _ in range(rng.randint(1, 3))]
    text = " ".join(words)
    while len(text) < lo:
        text += rng.choice(string.ascii_lowercase)
    if hi is not None:
        text = text[: max(int(hi), lo)]
    return text


def _bound_errors(path: str, measure: float, node: dict[str, Any], low: str, high: str, unit: str = "") -> list[str]:
    """``measure`` (a number, or a length in ``unit``) against the inclusive bounds ``node[low]``
    and ``node[high]``, where given: e.g. ``"$.cells: 0 items < minItems 1"``."""
    errors = []
    if node.get(low) is not None and measure < node[low]:
        errors.append(f"{path}: {measure}{unit} < {low} {node[low]}")
    if node.get(high) is not None and measure > node[high]:
        errors.append(f"{path}: {measure}{unit} > {high} {node[high]}")
    return errors


def schema_errors(value: Any, schema: dict[str, Any], *, _root: dict[str, Any] | None = None,
                  _path: str = "$") -> list[str]:
    """What makes ``value`` invalid under ``schema`` (the subset :func:`generate_from_schema` knows).

    An empty list means valid. Meant for tests checking answers (no jsonschema dependency).
    """
    root = _root if _root is not None else schema
    node = _resolve(schema, root) if isinstance(schema, dict) else {}
    if "allOf" in node:
        node = _merge_all_of(node, root)
    errors: list[str] = []
    if "const" in node and value != node["const"]:
        return [f"{_path}: {value!r} != const {node['const']!r}"]
    if "enum" in node and value not in node["enum"]:
        return [f"{_path}: {value!r} not in enum {node['enum']!r}"]
    for key in ("anyOf", "oneOf"):
        if node.get(key):
            if not any(not schema_errors(value, o, _root=root, _path=_path) for o in node[key]):
                errors.append(f"{_path}: matches none of {key}")
            return errors
    kinds = node.get("type")
    kinds = [kinds] if isinstance(kinds, str) else (kinds or [])
    checks = {
        "object": lambda v: isinstance(v, dict),
        "array": lambda v: isinstance(v, list),
        "string": lambda v: isinstance(v, str),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        "boolean": lambda v: isinstance(v, bool),
        "null": lambda v: v is None,
    }
    if kinds and not any(checks.get(k, lambda v: True)(value) for k in kinds):
        return [f"{_path}: {value!r} is not of type {kinds}"]
    if isinstance(value, dict):
        props = node.get("properties") or {}
        for name in node.get("required", []):
            if name not in value:
                errors.append(f"{_path}: missing required {name!r}")
        for name, sub in value.items():
            if name in props:
                errors += schema_errors(sub, props[name], _root=root, _path=f"{_path}.{name}")
            elif node.get("additionalProperties") is False:
                errors.append(f"{_path}: unexpected property {name!r}")
    elif isinstance(value, list):
        errors += _bound_errors(_path, len(value), node, "minItems", "maxItems", " items")
        if node.get("uniqueItems"):
            keys = [json.dumps(v, sort_keys=True) for v in value]
            if len(set(keys)) != len(keys):
                errors.append(f"{_path}: items are not unique")
        items = node.get("items")
        for i, item in enumerate(value):
            sub = items if isinstance(items, dict) else {}
            errors += schema_errors(item, sub, _root=root, _path=f"{_path}[{i}]")
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        errors += _bound_errors(_path, value, node, "minimum", "maximum")
        ex_lo, ex_hi = node.get("exclusiveMinimum"), node.get("exclusiveMaximum")
        if isinstance(ex_lo, (int, float)) and not isinstance(ex_lo, bool) and value <= ex_lo:
            errors.append(f"{_path}: {value} <= exclusiveMinimum {ex_lo}")
        if isinstance(ex_hi, (int, float)) and not isinstance(ex_hi, bool) and value >= ex_hi:
            errors.append(f"{_path}: {value} >= exclusiveMaximum {ex_hi}")
        step = node.get("multipleOf")
        if isinstance(step, (int, float)) and step > 0:
            ratio = value / step
            if abs(ratio - round(ratio)) > 1e-6:
                errors.append(f"{_path}: {value} is not a multiple of {step}")
    elif isinstance(value, str):
        errors += _bound_errors(_path, len(value), node, "minLength", "maxLength", " characters")
    return errors


def list_schema(key: str, fields: dict[str, Any], *, min_items: int, max_items: int) -> dict[str, Any]:
    """A test schema: an object whose one (required) property ``key`` is a list of
    ``min_items`` to ``max_items`` objects, each with every one of ``fields`` (name → schema)."""
    items = {"type": "object", "properties": fields, "required": list(fields)}
    return {
        "type": "object",
        "properties": {key: {"type": "array", "minItems": min_items, "maxItems": max_items, "items": items}},
        "required": [key],
    }


# --------------------------------------------------------------------------- request helpers


def _schema_of(body: dict[str, Any]) -> tuple[str, dict[str, Any] | None]:
    """(mode, schema): mode is json_schema / json_object / text."""
    fmt = body.get("response_format")
    if isinstance(fmt, dict):
        if fmt.get("type") == "json_schema":
            spec = fmt.get("json_schema") or {}
            schema = spec.get("schema") if isinstance(spec, dict) else None
            return "json_schema", schema if isinstance(schema, dict) else None
        if fmt.get("type") == "json_object":
            schema = fmt.get("schema")
            return "json_object", schema if isinstance(schema, dict) else None
    return "text", _schema_in_prompt(body.get("messages") or [])


def _schema_in_prompt(messages: list[Any]) -> dict[str, Any] | None:
    """The last JSON object in the last user message that looks like a JSON schema."""
    users = [m for m in messages if isinstance(m, dict) and m.get("role") == "user"]
    if not users:
        return None
    content = users[-1].get("content")
    if not isinstance(content, str):
        return None
    decoder = json.JSONDecoder()
    found: dict[str, Any] | None = None
    i = content.find("{")
    while i >= 0:
        try:
            value, end = decoder.raw_decode(content, i)
        except ValueError:
            i = content.find("{", i + 1)
            continue
        if isinstance(value, dict) and (
            "properties" in value or "$defs" in value or value.get("type") in ("object", "array")
        ):
            found = value
        i = content.find("{", end)
    return found


def _tokens(text: str) -> int:
    return max(1, len(text) // 4) if text else 0


def _prompt_tokens(body: dict[str, Any]) -> int:
    messages = body.get("messages") or []
    return sum(_tokens(str(m.get("content", ""))) + 4 for m in messages if isinstance(m, dict))


# --------------------------------------------------------------------------- server


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        self.server.owner._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.owner._track(self.connection, add=False)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass  # quiet

    def _read_body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            return raw.decode("utf-8", "replace")

    def _record(self, body: Any) -> None:
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.server.owner._record(RecordedRequest(self.command, self.path, headers, body))

    def send_json(self, code: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode("utf-8")
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        self._record(None)
        if self.path.rstrip("/").endswith("/models"):
            owner = self.server.owner
            data = [{"id": m, "object": "model", "created": 0, "owned_by": "fake"} for m in owner.models]
            self.send_json(200, {"object": "list", "data": data})
        else:
            self.send_json(404, _error(f"no route {self.path}", "not_found"))

    def do_POST(self) -> None:  # noqa: N802 - stdlib naming
        body = self._read_body()
        self._record(body)
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self.send_json(404, _error(f"no route {self.path}", "not_found"))
            return
        if not isinstance(body, dict):
            self.send_json(400, _error("request body must be a JSON object", "invalid_request_error"))
            return
        self.server.owner._serve_chat(self, body)


def _error(message: str, kind: str, code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    owner: FakeOpenAIServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that time out or disconnect are part of the tests: stay quiet


class FakeOpenAIServer:
    """A fake OpenAI-compatible endpoint on 127.0.0.1 (see the module docstring).

    Args:
        seed: seeds the answers; the same seed and requests give the same answers.
        port: 0 for an ephemeral port.
        models: ids listed by ``GET /v1/models``.
        responder: optional ``(body, schema, rng) -> answer`` replacing the schema-driven
            default (a str is sent as is, anything else as JSON).
        api_key: when set, a request with another bearer key gets 401.

    Example::

        >>> with FakeOpenAIServer(seed=1) as server:
        ...     server.base_url.startswith("http://127.0.0.1:")
        True
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        port: int = 0,
        models: Iterable[str] = ("fake-model",),
        responder: Responder | None = None,
        api_key: str | None = None,
    ) -> None:
        self.seed = seed
        self.port = port
        self.models = list(models)
        self.responder = responder
        self.api_key = api_key
        self.requests: list[RecordedRequest] = []
        self.reject_json_schema: int | None = None
        self.reject_json_object: int | None = None
        self._lock = threading.Lock()
        self._queue: deque[Behaviour] = deque()
        self._seen: dict[str, int] = {}
        self._connections: set[socket.socket] = set()
        self._stopping = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._counter = 0

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FakeOpenAIServer:
        """Start serving (idempotent); returns ``self``."""
        if self._httpd is not None:
            return self
        self._stopping.clear()
        httpd = _HTTPServer(("127.0.0.1", self.port), _Handler)
        httpd.owner = self
        self._httpd = httpd
        self.port = httpd.server_address[1]
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and drop open connections (hanging handlers are released)."""
        self._stopping.set()
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        with self._lock:
            connections = list(self._connections)
            self._connections.clear()
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1``: what a client's ``base_url`` should be."""
        return f"http://127.0.0.1:{self.port}/v1"

    # ------------------------------------------------------------------ behaviour control

    def script(self, behaviours: Iterable[Any]) -> None:
        """Queue behaviours, one per chat request; persistent modes apply at once."""
        with self._lock:
            for behaviour in behaviours:
                if isinstance(behaviour, RejectJsonSchema):
                    self.reject_json_schema = behaviour.status
                elif isinstance(behaviour, RejectJsonObject):
                    self.reject_json_object = behaviour.status
                else:
                    self._queue.append(behaviour)

    def reset(self) -> None:
        """Forget the script, the persistent modes and the recorded requests."""
        with self._lock:
            self._queue.clear()
            self.reject_json_schema = None
            self.reject_json_object = None
            self.requests.clear()
            self._seen.clear()

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        """The recorded ``POST .../chat/completions`` requests."""
        with self._lock:
            return [r for r in self.requests if r.method == "POST" and "chat/completions" in r.path]

    @property
    def pending(self) -> int:
        """How many scripted behaviours are still queued."""
        with self._lock:
            return len(self._queue)

    # ------------------------------------------------------------------ internals

    def _track(self, conn: socket.socket, *, add: bool) -> None:
        with self._lock:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def _rng_for(self, body: dict[str, Any]) -> random.Random:
        canonical = json.dumps(body, sort_keys=True, default=str)
        digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
        with self._lock:
            count = self._seen.get(digest, 0)
            self._seen[digest] = count + 1
        return random.Random(f"{self.seed}:{digest}:{count}")

    def _serve_chat(self, handler: _Handler, body: dict[str, Any]) -> None:
        if self.api_key is not None:
            auth = handler.headers.get("Authorization", "")
            if auth != f"Bearer {self.api_key}":
                handler.send_json(401, _error("Incorrect API key provided", "invalid_request_error", "invalid_api_key"))
                return
        mode, schema = _schema_of(body)
        with self._lock:
            reject = self.reject_json_schema if mode == "json_schema" else None
            if mode == "json_object":
                reject = self.reject_json_object
            behaviour = None if reject is not None else (self._queue.popleft() if self._queue else None)
        if reject is not None:
            handler.send_json(reject, _error(f"response_format {mode} is not supported", "server_error"))
            return
        if isinstance(behaviour, Status):
            headers = {} if behaviour.retry_after is None else {"Retry-After": f"{behaviour.retry_after:g}"}
            message = behaviour.message or f"scripted HTTP {behaviour.code}"
            handler.send_json(behaviour.code, _error(message, "scripted_error"), headers)
            return
        if isinstance(behaviour, (Hang, Disconnect)):
            if isinstance(behaviour, Hang):
                self._stopping.wait(behaviour.seconds)
            handler.close_connection = True
            try:
                handler.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        if isinstance(behaviour, Slow):
            self._stopping.wait(behaviour.seconds)
        rng = self._rng_for(body)
        finish = "stop"
        if isinstance(behaviour, Garbage):
            text = behaviour.text
        elif isinstance(behaviour, Empty):
            text = ""
        elif isinstance(behaviour, Answer):
            text = behaviour.value if isinstance(behaviour.value, str) else json.dumps(behaviour.value)
            finish = behaviour.finish_reason
        else:
            text = self._default_answer(body, mode, schema, rng)
            if isinstance(behaviour, Truncated):
                cut = max(1, int(len(text) * behaviour.fraction))
                text, finish = text[:cut], "length"
            else:
                limit = body.get("max_tokens") or body.get("max_completion_tokens")
                if isinstance(limit, int) and limit > 0 and _tokens(text) > limit:
                    text, finish = text[: limit * 4], "length"
        n = body.get("n") if isinstance(body.get("n"), int) and body.get("n", 1) > 1 else 1
        texts = [text] + [self._default_answer(body, mode, schema, rng) for _ in range(n - 1)]
        with self._lock:
            self._counter += 1
            number = self._counter
        payload = {
            "id": f"chatcmpl-fake-{number}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": str(body.get("model", "fake-model")),
            "system_fingerprint": "fake",
            "choices": [
                {
                    "index": i,
                    "message": {"role": "assistant", "content": t},
                    "finish_reason": finish if i == 0 else "stop",
                    "logprobs": None,
                }
                for i, t in enumerate(texts)
            ],
            "usage": {
                "prompt_tokens": _prompt_tokens(body),
                "completion_tokens": sum(_tokens(t) for t in texts),
                "total_tokens": _prompt_tokens(body) + sum(_tokens(t) for t in texts),
            },
        }
        handler.send_json(200, payload)

    def _default_answer(
        self, body: dict[str, Any], mode: str, schema: dict[str, Any] | None, rng: random.Random
    ) -> str:
        if self.responder is not None:
            value = self.responder(body, schema, rng)
            return value if isinstance(value, str) else json.dumps(value)
        if schema is None:
            if mode == "text":
                return "This is a short answer from the fake server."
            return json.dumps({"answer": rng.choice(_WORDS)})
        value = generate_from_schema(schema, rng)
        if mode == "text":  # the schema was in the prompt: answer like a chatty model
            return "Here is my answer:\n```json\n" + json.dumps(value, indent=1) + "\n```"
        return json.dumps(value)


def main(argv: list[str] | None = None) -> None:
    """``python -m tests.fake_openai --port N``: serve until interrupted."""
    parser = argparse.ArgumentParser(description="A fake OpenAI-compatible server for tests.")
    parser.add_argument("--port", type=int, default=0, help="port (0: any free port)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the answers")
    parser.add_argument("--model", action="append", help="model id to list (repeatable)")
    parser.add_argument("--reject-json-schema", action="store_true", help="answer 500 to json_schema requests")
    args = parser.parse_args(argv)
    server = FakeOpenAIServer(seed=args.seed, port=args.port, models=args.model or ["fake-model"])
    if args.reject_json_schema:
        server.script([RejectJsonSchema()])
    server.start()
    print(server.base_url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
