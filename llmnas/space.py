"""The search space model shared by every method and host.

A :class:`SearchSpace` is an ordered set of named dimensions:

- :class:`Categorical`: one of a fixed list of values (any JSON-able value; NNI
  ``LayerChoice`` candidates carry a short description each).
- :class:`Integer` and :class:`Float`: bounded numbers, optionally log-scaled or on a step grid.
- :class:`MultiChoice`: a subset of a list of values (NNI ``InputChoice``), of a fixed size
  ``n_chosen`` or of any size when ``n_chosen`` is ``None``.

A *configuration* is a plain ``dict`` from dimension name to a host-native value. The space
validates configurations, builds the JSON schema that LLM answers must follow, writes itself
compactly into prompts, samples and hashes configurations. Hosts convert their own search
space to this one (``nni_llm_strategies._space``, ``optuna_llm_samplers._space``).

Example:
    >>> space = SearchSpace([
    ...     Categorical("op", ["conv3x3", "conv1x1", "skip"]),
    ...     Integer("depth", 1, 8),
    ...     Float("lr", 1e-4, 1e-1, log=True),
    ... ])
    >>> space.validate({"op": "conv3x3", "depth": 3, "lr": 0.01})
    []
    >>> space.validate({"op": "pool", "depth": 9, "lr": 0.01})[0]
    "op: 'pool' is not one of ['conv3x3', 'conv1x1', 'skip']"
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Mapping, Sequence, Union

import numpy as np

Config = dict[str, Any]
"""A configuration: dimension name → value, in the host's own value types."""

_JSON_PRIMITIVES = (str, int, float, bool, type(None))


def _is_json_primitive(value: Any) -> bool:
    if isinstance(value, float) and not math.isfinite(value):
        return False
    return isinstance(value, _JSON_PRIMITIVES)


def _encode_choice(value: Any) -> Any:
    """The JSON form of a categorical value as the LLM sees it."""
    if _is_json_primitive(value):
        return value
    if isinstance(value, (list, tuple)):
        return [_encode_choice(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _encode_choice(v) for k, v in value.items()}
    return str(value)


_CANONICAL_JSON = json.JSONEncoder(sort_keys=True, separators=(",", ":"))  # built once: json.dumps
# with arguments builds a new encoder per call, a quarter of a sampler's time per trial at 1,000 trials


def _canonical(value: Any) -> str:
    return _CANONICAL_JSON.encode(_encode_choice(value))


def _uniform_index(rng: np.random.Generator, count: int) -> int:
    """A uniform integer in ``[0, count)``, also for counts beyond numpy's int64 (an Optuna
    ``suggest_int`` over a huge range): drawn 62 bits at a time, with rejection."""
    if count <= 2**62:
        return int(rng.integers(count))
    bits = (count - 1).bit_length()
    chunks = -(-bits // 62)
    while True:
        value = 0
        for _ in range(chunks):
            value = (value << 62) | int(rng.integers(2**62))
        value >>= 62 * chunks - bits
        if value < count:
            return value


@dataclass(frozen=True)
class Categorical:
    """One of ``choices``.

    Args:
        name: the dimension's name (NNI label, Optuna parameter name).
        choices: the values, in the host's types. Non-JSON values (e.g. modules) are shown to
            the LLM as their ``str``.
        descriptions: optional short text per choice, shown in prompts (NNI ``LayerChoice``).
    """

    name: str
    choices: tuple[Any, ...]
    descriptions: tuple[str, ...] | None = None

    def __init__(self, name: str, choices: Sequence[Any], descriptions: Sequence[str] | None = None):
        if not choices:
            raise ValueError(f"Categorical {name!r} needs at least one choice, got none.")
        encoded = [_canonical(c) for c in choices]
        if len(set(encoded)) != len(encoded):
            raise ValueError(f"Categorical {name!r} has duplicate choices: {list(choices)!r}.")
        if descriptions is not None and len(descriptions) != len(choices):
            raise ValueError(
                f"Categorical {name!r}: {len(descriptions)} descriptions for {len(choices)} choices."
            )
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "choices", tuple(choices))
        object.__setattr__(self, "descriptions", tuple(descriptions) if descriptions else None)
        # Lookups built once (not dataclass fields): a choice's index by canonical form, and the
        # canonical form of each string choice (keys are computed for every trial of a study).
        object.__setattr__(self, "_index_of", {e: i for i, e in enumerate(encoded)})
        object.__setattr__(self, "_str_keys", {c: e for c, e in zip(choices, encoded) if type(c) is str})

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        if "_index_of" not in state:  # pickled before the lookups existed
            encoded = [_canonical(c) for c in self.choices]
            self.__dict__["_index_of"] = {e: i for i, e in enumerate(encoded)}
            self.__dict__["_str_keys"] = {c: e for c, e in zip(self.choices, encoded) if type(c) is str}

    @property
    def encoded_choices(self) -> list[Any]:
        return [_encode_choice(c) for c in self.choices]

    def decode(self, value: Any) -> Any:
        """Map an LLM's JSON value back to the choice it names; raise ``ValueError`` if none."""
        for choice in self.choices:
            if choice is value:
                return choice
        wanted = _canonical(value)
        for choice in self.choices:
            if _canonical(choice) == wanted:
                return choice
        # Lenient: "32" for 32, 32 for "32", "True" for True.
        text = str(value).strip().lower()
        for choice in self.choices:
            if str(_encode_choice(choice)).strip().lower() == text:
                return choice
        raise ValueError(f"{self.name}: {value!r} is not one of {self.encoded_choices!r}")

    def index(self, value: Any) -> int:
        i = self._index_of.get(self.key(value))
        if i is not None:
            return i
        raise ValueError(f"{self.name}: {value!r} is not one of {self.encoded_choices!r}")

    def errors(self, value: Any) -> list[str]:
        try:
            self.index(value)
        except ValueError as exc:
            return [str(exc)]
        return []

    def json_schema(self) -> dict[str, Any]:
        return {"enum": self.encoded_choices}

    def describe(self) -> str:
        if self.descriptions:
            parts = [f"{json.dumps(e)} ({d})" for e, d in zip(self.encoded_choices, self.descriptions)]
            return f"{self.name}: one of " + ", ".join(parts)
        return f"{self.name}: one of " + ", ".join(json.dumps(e) for e in self.encoded_choices)

    def sample(self, rng: np.random.Generator) -> Any:
        return self.choices[int(rng.integers(len(self.choices)))]

    def size(self) -> float:
        return float(len(self.choices))

    def others(self, value: Any) -> tuple[Any, ...]:
        """The choices other than ``value``, in order (what a mutation picks from; kept per choice)."""
        key = self.key(value)
        cache: dict[Any, tuple[Any, ...]] = self.__dict__.setdefault("_others", {})
        found = cache.get(key)
        if found is None:
            found = tuple(c for c in self.choices if self.key(c) != key)
            if key in self._index_of:  # a choice: at most len(choices) entries
                cache[key] = found
        return found

    def key(self, value: Any) -> Any:
        if type(value) is str:  # the common case: a string choice, its canonical form cached
            cached = self._str_keys.get(value)
            if cached is not None:
                return cached
        return _canonical(value)


@dataclass(frozen=True)
class Integer:
    """An integer in ``[low, high]`` (both included), on the grid ``low + k·step``; ``log``
    means the method should explore it on a log scale (as Optuna's ``log=True``)."""

    name: str
    low: int
    high: int
    step: int = 1
    log: bool = False

    def __post_init__(self) -> None:
        if self.low > self.high:
            raise ValueError(f"Integer {self.name!r}: low={self.low} > high={self.high}.")
        if self.step < 1:
            raise ValueError(f"Integer {self.name!r}: step must be >= 1, got {self.step}.")
        if self.log and (self.low < 1 or self.step != 1):
            raise ValueError(f"Integer {self.name!r}: log scale needs low >= 1 and step 1.")

    def decode(self, value: Any) -> int:
        if isinstance(value, bool):
            raise ValueError(f"{self.name}: expected an integer, got {value!r}")
        if isinstance(value, str):
            value = value.strip()
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{self.name}: expected an integer, got {value!r}") from None
        if not math.isfinite(number):
            raise ValueError(f"{self.name}: expected an integer, got {value!r}")
        if number != int(number) and self.step == 1:
            raise ValueError(f"{self.name}: expected an integer, got {value!r}")
        # Lenient on the grid: a value snaps to the nearest grid point (validation follows).
        k = round((number - self.low) / self.step)
        return int(self.low + k * self.step)

    def errors(self, value: Any) -> list[str]:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            return [f"{self.name}: expected an integer, got {value!r}"]
        if not self.low <= value <= self.high:
            return [f"{self.name}: {value} is outside [{self.low}, {self.high}]"]
        if (value - self.low) % self.step:
            return [f"{self.name}: {value} is not {self.low} + a multiple of {self.step}"]
        return []

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "integer", "minimum": self.low, "maximum": self.high}
        if self.step != 1 and self.low % self.step == 0:
            schema["multipleOf"] = self.step
        return schema

    def describe(self) -> str:
        extra = f", step {self.step}" if self.step != 1 else ""
        extra += ", log scale" if self.log else ""
        return f"{self.name}: integer in [{self.low}, {self.high}]{extra}"

    def sample(self, rng: np.random.Generator) -> int:
        if self.log:
            value = math.floor(math.exp(rng.uniform(math.log(self.low), math.log(self.high + 1))))
            return int(min(max(value, self.low), self.high))
        n = (self.high - self.low) // self.step
        return int(self.low + self.step * _uniform_index(rng, n + 1))

    def size(self) -> float:
        return float((self.high - self.low) // self.step + 1)

    def key(self, value: Any) -> Any:
        return int(value)


@dataclass(frozen=True)
class Float:
    """A real number in ``[low, high]``; ``step`` puts it on the grid ``low + k·step``;
    ``log`` means a log scale (``low > 0``)."""

    name: str
    low: float
    high: float
    step: float | None = None
    log: bool = False

    def __post_init__(self) -> None:
        if not (math.isfinite(self.low) and math.isfinite(self.high)):
            raise ValueError(f"Float {self.name!r}: bounds must be finite.")
        if self.low > self.high:
            raise ValueError(f"Float {self.name!r}: low={self.low} > high={self.high}.")
        if self.log and self.low <= 0:
            raise ValueError(f"Float {self.name!r}: log scale needs low > 0, got {self.low}.")
        if self.step is not None and (self.step <= 0 or self.log):
            raise ValueError(f"Float {self.name!r}: step must be > 0 and not combined with log.")

    def decode(self, value: Any) -> float:
        if isinstance(value, bool):
            raise ValueError(f"{self.name}: expected a number, got {value!r}")
        try:
            number = float(value.strip() if isinstance(value, str) else value)
        except (TypeError, ValueError):
            raise ValueError(f"{self.name}: expected a number, got {value!r}") from None
        if self.step is not None and math.isfinite(number):
            # Snap to the host's grid (LLMs write 0.3012 or 0.30000000000000004 for 0.3).
            number = self._grid_value(round((number - self.low) / self.step))
        return number

    def _grid_value(self, k: int) -> float:
        """The k-th grid point, rounded (``0.1 * 3`` is 0.30000000000000004) and clamped."""
        assert self.step is not None
        value = round(self.low + k * self.step, 12)
        return float(min(max(value, self.low), self.high))

    def errors(self, value: Any) -> list[str]:
        if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
            return [f"{self.name}: expected a number, got {value!r}"]
        if not math.isfinite(value):
            return [f"{self.name}: {value} is not finite"]
        if not self.low <= value <= self.high:
            return [f"{self.name}: {value} is outside [{self.low}, {self.high}]"]
        if self.step is not None:
            k = (value - self.low) / self.step
            if abs(k - round(k)) > 1e-8:
                return [f"{self.name}: {value} is not {self.low} + a multiple of {self.step}"]
        return []

    def json_schema(self) -> dict[str, Any]:
        return {"type": "number", "minimum": self.low, "maximum": self.high}

    def describe(self) -> str:
        extra = f", step {self.step}" if self.step is not None else ""
        extra += ", log scale" if self.log else ""
        return f"{self.name}: number in [{self.low:g}, {self.high:g}]{extra}"

    def sample(self, rng: np.random.Generator) -> float:
        if self.log:
            return float(math.exp(rng.uniform(math.log(self.low), math.log(self.high))))
        if self.step is not None:
            n = int(math.floor((self.high - self.low) / self.step + 1e-9))
            return self._grid_value(_uniform_index(rng, n + 1))
        if not math.isfinite(self.high - self.low):  # e.g. [-1e308, 1e308]: the width overflows
            u = float(rng.random())
            return float(min(max(u * self.high + (1.0 - u) * self.low, self.low), self.high))
        return float(rng.uniform(self.low, self.high))

    def size(self) -> float:
        if self.step is not None:
            return float(math.floor((self.high - self.low) / self.step + 1e-9) + 1)
        return 1.0 if self.low == self.high else math.inf

    def key(self, value: Any) -> Any:
        if self.step is not None:  # the grid index: 0.9 and 0.8999999999999999 are one value
            return round((float(value) - self.low) / self.step)
        return float(value)


@dataclass(frozen=True)
class MultiChoice:
    """A subset of ``choices`` (NNI ``InputChoice``): exactly ``n_chosen`` distinct values, or
    any number of them when ``n_chosen`` is ``None``. Order does not matter."""

    name: str
    choices: tuple[Any, ...]
    n_chosen: int | None = None
    descriptions: tuple[str, ...] | None = None

    def __init__(
        self,
        name: str,
        choices: Sequence[Any],
        n_chosen: int | None = None,
        descriptions: Sequence[str] | None = None,
    ):
        if not choices:
            raise ValueError(f"MultiChoice {name!r} needs at least one choice, got none.")
        if n_chosen is not None and not 0 <= n_chosen <= len(choices):
            raise ValueError(f"MultiChoice {name!r}: n_chosen={n_chosen} not in [0, {len(choices)}].")
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "choices", tuple(choices))
        object.__setattr__(self, "n_chosen", n_chosen)
        object.__setattr__(self, "descriptions", tuple(descriptions) if descriptions else None)

    @property
    def _inner(self) -> Categorical:
        return Categorical(self.name, self.choices, self.descriptions)

    def decode(self, value: Any) -> list[Any]:
        if not isinstance(value, (list, tuple)):
            value = [value]
        return [self._inner.decode(v) for v in value]

    def errors(self, value: Any) -> list[str]:
        if not isinstance(value, (list, tuple)):
            return [f"{self.name}: expected a list of choices, got {value!r}"]
        errs = [e for v in value for e in self._inner.errors(v)]
        if errs:
            return errs
        keys = [_canonical(v) for v in value]
        if len(set(keys)) != len(keys):
            return [f"{self.name}: a choice is repeated in {list(value)!r}"]
        if self.n_chosen is not None and len(value) != self.n_chosen:
            return [f"{self.name}: expected exactly {self.n_chosen} choices, got {len(value)}"]
        return []

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {
            "type": "array",
            "items": {"enum": self._inner.encoded_choices},
            "uniqueItems": True,
        }
        if self.n_chosen is not None:
            schema["minItems"] = schema["maxItems"] = self.n_chosen
        return schema

    def describe(self) -> str:
        count = f"exactly {self.n_chosen}" if self.n_chosen is not None else "any number"
        options = self._inner.describe().split(": one of ", 1)[1]
        return f"{self.name}: a list of {count} distinct values from {options}"

    def sample(self, rng: np.random.Generator) -> list[Any]:
        k = self.n_chosen if self.n_chosen is not None else int(rng.integers(len(self.choices) + 1))
        picked = sorted(rng.choice(len(self.choices), size=k, replace=False).tolist())
        return [self.choices[i] for i in picked]

    def size(self) -> float:
        if self.n_chosen is None:
            return float(2 ** len(self.choices))
        return float(math.comb(len(self.choices), self.n_chosen))

    def key(self, value: Any) -> Any:
        return tuple(sorted(_canonical(v) for v in value))


Dimension = Union[Categorical, Integer, Float, MultiChoice]


@dataclass(frozen=True)
class SearchSpace:
    """An ordered collection of uniquely named dimensions. See the module docstring."""

    dimensions: tuple[Dimension, ...] = field(default_factory=tuple)

    def __init__(self, dimensions: Iterable[Dimension] = ()):
        dims = tuple(dimensions)
        names = [d.name for d in dims]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ValueError(f"SearchSpace: dimension names must be unique, repeated: {duplicated}.")
        object.__setattr__(self, "dimensions", dims)
        self._derive()

    def _derive(self) -> None:
        # Built once from the (immutable) dimensions for loops that key, mutate and sample
        # thousands of times a batch; not dataclass fields (equality and hashing ignore them).
        dims = self.dimensions
        self.__dict__["_keyers"] = tuple((d.name, d.key) for d in dims)
        self.__dict__["_varying"] = tuple(d for d in dims if d.size() > 1)
        categorical = [d for d in dims if type(d) is Categorical]
        plain = bool(dims) and len(categorical) == len(dims)  # all categorical: :meth:`sample` draws at once
        counts = [len(d.choices) for d in categorical]
        self.__dict__["_choices"] = tuple((d.name, d.choices) for d in categorical) if plain else None
        self.__dict__["_counts"] = counts[0] if plain and len(set(counts)) == 1 else np.asarray(counts, np.int64)

    def __getstate__(self) -> dict[str, Any]:
        return {"dimensions": self.dimensions}  # not the derived lookups (bound methods)

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__["dimensions"] = state["dimensions"]
        self._derive()

    def varying(self) -> tuple[Dimension, ...]:
        """The dimensions with more than one value, in order (those a mutation can change)."""
        return self._varying

    # -- collection protocol -------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.dimensions)

    def __iter__(self) -> Iterator[Dimension]:
        return iter(self.dimensions)

    def __contains__(self, name: object) -> bool:
        return any(d.name == name for d in self.dimensions)

    def __getitem__(self, name: str) -> Dimension:
        for dim in self.dimensions:
            if dim.name == name:
                return dim
        raise KeyError(name)

    @property
    def names(self) -> list[str]:
        return [d.name for d in self.dimensions]

    def merged(self, other: "SearchSpace") -> "SearchSpace":
        """This space plus the dimensions of ``other`` that it lacks (a growing define-by-run
        space); a dimension present in both is taken from ``other`` (the newest definition)."""
        theirs = {d.name: d for d in other}
        dims = [theirs.pop(d.name, d) for d in self.dimensions]
        dims.extend(d for d in other if d.name in theirs)
        return SearchSpace(dims)

    # -- configurations --------------------------------------------------------------------
    def validate(self, config: Mapping[str, Any]) -> list[str]:
        """Every rule ``config`` breaks, as readable sentences; empty when it is valid."""
        if not isinstance(config, Mapping):
            return [f"expected an object mapping dimension names to values, got {type(config).__name__}"]
        errors: list[str] = []
        for dim in self.dimensions:
            if dim.name not in config:
                errors.append(f"{dim.name}: missing")
            else:
                errors.extend(dim.errors(config[dim.name]))
        extra = sorted(set(config) - set(self.names))
        if extra:
            errors.append(f"unknown dimensions {extra}; the dimensions are {self.names}")
        return errors

    def contains(self, config: Mapping[str, Any]) -> bool:
        return not self.validate(config)

    def decode(self, answer: Mapping[str, Any]) -> tuple[Config, list[str]]:
        """Turn one LLM answer (JSON object) into a host-typed configuration.

        Returns the configuration and the problems found; the configuration holds only the
        dimensions that decoded, so it is complete exactly when the problem list is empty.
        Unknown keys are reported.
        """
        if not isinstance(answer, Mapping):
            return {}, [f"expected an object mapping dimension names to values, got {answer!r}"]
        config: Config = {}
        errors: list[str] = []
        for dim in self.dimensions:
            if dim.name not in answer:
                errors.append(f"{dim.name}: missing")
                continue
            try:
                value = dim.decode(answer[dim.name])
            except ValueError as exc:
                errors.append(str(exc))
                continue
            problems = dim.errors(value)
            if problems:
                errors.extend(problems)
            else:
                config[dim.name] = value
        extra = sorted(set(answer) - set(self.names))
        if extra:
            errors.append(f"unknown dimensions {extra}; the dimensions are {self.names}")
        return config, errors

    def encode(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """The JSON form of a configuration, as shown to the LLM and stored in knowledge."""
        return {name: _encode_choice(value) for name, value in config.items()}

    def key(self, config: Mapping[str, Any]) -> tuple[Any, ...]:
        """A hashable identity of a configuration over this space's dimensions (for dedup)."""
        return tuple([(name, key(config[name]) if name in config else None) for name, key in self._keyers])

    def sample(self, rng: np.random.Generator) -> Config:
        choices = self._choices
        if choices is None:
            return {d.name: d.sample(rng) for d in self.dimensions}
        # All categorical: every index in one ``integers`` call, the same draws as one
        # ``rng.integers(len(choices))`` per dimension in order (numpy fills an array with the same
        # bounded draws; a dimension of one choice draws nothing either way).
        counts = self._counts
        picks = (rng.integers(counts, size=len(choices)) if type(counts) is int else rng.integers(0, counts)).tolist()
        return {name: values[i] for (name, values), i in zip(choices, picks)}

    def size(self) -> float:
        """The number of distinct configurations (``inf`` with a continuous float)."""
        return float(np.prod([d.size() for d in self.dimensions])) if self.dimensions else 0.0

    # -- for prompts and structured output -------------------------------------------------
    def describe(self) -> str:
        """A compact text form for prompts: one line per dimension."""
        return "\n".join(f"- {d.describe()}" for d in self.dimensions)

    def config_schema(self) -> dict[str, Any]:
        """JSON schema of one configuration."""
        return {
            "type": "object",
            "properties": {d.name: d.json_schema() for d in self.dimensions},
            "required": self.names,
            "additionalProperties": False,
        }

    def proposals_schema(self, n: int, *, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """JSON schema of an answer holding exactly ``n`` proposals under ``"architectures"``
        (small models given a range tend to stop at one).

        ``extra`` adds further top-level string properties (e.g. a method's reasoning) that
        come before the list, so a model writes its reasoning first.
        """
        properties: dict[str, Any] = dict(extra or {})
        properties["architectures"] = {
            "type": "array",
            "items": self.config_schema(),
            "minItems": max(1, n),
            "maxItems": max(1, n),
        }
        return {
            "type": "object",
            "properties": properties,
            "required": list(properties),
            "additionalProperties": False,
        }

    def format_config(self, config: Mapping[str, Any]) -> str:
        """One configuration as compact JSON, in dimension order."""
        ordered = {d.name: _encode_choice(config[d.name]) for d in self.dimensions if d.name in config}
        return json.dumps(ordered, separators=(", ", ": "))
