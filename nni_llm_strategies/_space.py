"""NNI model spaces ↔ the core :class:`~llmnas.space.SearchSpace`.

``model_space.simplify()`` gives ``{label: mutable}``; each mutable becomes one dimension:

- ``nni.mutable.Categorical`` (``nni.choice``, ``LayerChoice``, ``Repeat`` depth) →
  :class:`~llmnas.space.Categorical` with NNI's own values. The candidates of a
  ``LayerChoice`` (whose values are only names or indices) get a short description each, e.g.
  ``Conv2d(3, 8, kernel_size=5, padding=2)``, so the LLM knows what it chooses.
- ``CategoricalMultiple`` (``InputChoice``) → :class:`~llmnas.space.MultiChoice` (a list,
  ``n_chosen`` kept).
- ``Numerical`` → :class:`~llmnas.space.Integer` when it is quantized by an integer (NNI then
  samples ints), else :class:`~llmnas.space.Float` (log scale and quantization kept).
- ``MutableAnnotation`` / ``Constraint`` carry no sample key and are skipped; NNI checks
  them in ``freeze``.

Anything else raises ``TypeError`` naming the label and the type; a space with no mutable to
search (a fixed model) raises ``ValueError``, so a strategy fails at ``initialize``, before
anything is trained. A configuration is valid for NNI when ``model_space.freeze(sample)``
succeeds: :meth:`NNISpace.validate` is the host validator the proposal pipeline calls.

Example:
    >>> from nni.nas.hub.pytorch import NasBench201
    >>> nni_space = convert_space(NasBench201())
    >>> nni_space.space.names[:2]
    ['cell/0_1', 'cell/0_2']
    >>> config = {name: "conv_3x3" for name in nni_space.space.names}
    >>> nni_space.validate(config)
    []
    >>> nni_space.validate({**config, "cell/0_1": "conv_7x7"})  # doctest: +ELLIPSIS
    ["conv_7x7 not found in ['none', 'skip_connect', 'conv_1x1', 'conv_3x3', 'avg_pool_3x3']..."]
    >>> nni_space.space["cell/0_1"].descriptions[3]
    'ReLUConvBN[ReLU, Conv2d(16, 16, kernel_size=3, padding=1), BatchNorm2d(16)]'
"""

from __future__ import annotations

import logging
import math
import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping

from nni.mutable import Categorical as NNICategorical
from nni.mutable import CategoricalMultiple, MutableAnnotation, Numerical, SampleMissingError, SampleValidationError
from nni.nas.space import ExecutableModelSpace

from llmnas.space import Categorical, Config, Dimension, Float, Integer, MultiChoice, SearchSpace

if TYPE_CHECKING:
    from nni.mutable import Mutable

logger = logging.getLogger(__name__)

_DESCRIPTION_LIMIT = 100
_KEY_PARAMETERS = (
    "kernel_size", "stride", "padding", "dilation", "groups", "in_features", "out_features",
    "num_heads", "p", "expand_ratio",
)
# Errors a model space may raise on a bad sample (constraints are user code: be generous).
_INVALID_SAMPLE_ERRORS = (
    SampleValidationError, SampleMissingError, TypeError, ValueError, KeyError, IndexError, AssertionError,
)


@dataclass
class NNISpace:
    """An NNI model space seen as a core :class:`SearchSpace`, with the conversions back.

    Attributes:
        space: the core search space (one dimension per sample label).
        model_space: what ``freeze`` is called on (an ``ExecutableModelSpace`` or a ``ModelSpace``).
        skipped: labels of annotations and constraints (checked by NNI, not searched).

    Example:
        >>> from nni.nas.hub.pytorch import NasBench201
        >>> nni_space = convert_space(NasBench201())
        >>> sample = nni_space.to_sample({name: "skip_connect" for name in nni_space.space.names})
        >>> nni_space.from_sample(sample) == sample
        True
    """

    space: SearchSpace
    model_space: Any
    skipped: list[str] = field(default_factory=list)

    def to_sample(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """The NNI sample of a configuration, in NNI's own value types."""
        sample: dict[str, Any] = {}
        for dim in self.space:
            if dim.name not in config:
                continue
            value = config[dim.name]
            if isinstance(dim, Integer):
                value = int(value)
            elif isinstance(dim, Float):
                value = float(value)
            elif isinstance(dim, MultiChoice):
                value = list(value)
            sample[dim.name] = value
        return sample

    def from_sample(self, sample: Mapping[str, Any]) -> Config:
        """The configuration of an NNI sample (labels this space does not search are dropped)."""
        config, errors = self.space.decode({k: v for k, v in sample.items() if k in self.space})
        if errors:
            raise ValueError(f"the sample does not fit the search space: {'; '.join(errors)}")
        return config

    def validate(self, config: Mapping[str, Any]) -> list[str]:
        """The host validator: the problems NNI finds when freezing ``config`` (empty: valid).

        An ``ExecutableModelSpace`` (what strategies get) is frozen, which is cheap; a bare
        ``ModelSpace`` runs the same checks through ``validate`` without building the network.
        """
        check = self.model_space.freeze if isinstance(self.model_space, ExecutableModelSpace) \
            else self.model_space.validate
        try:
            check(self.to_sample(config))
        except _INVALID_SAMPLE_ERRORS as exc:
            return [_error_text(exc)]
        return []

    def freeze(self, config: Mapping[str, Any]) -> Any:
        """The frozen model of ``config`` (raises NNI's errors when it is invalid)."""
        return self.model_space.freeze(self.to_sample(config))


def convert_space(model_space: Any, *, modules: Any = None) -> NNISpace:
    """Convert an NNI model space (``ModelSpace`` or ``ExecutableModelSpace``).

    Args:
        model_space: what the strategy searches; ``simplify()`` and ``freeze()`` are used.
        modules: an ``nn.Module`` holding the space's ``LayerChoice``/``Repeat`` modules, for
            the candidates' descriptions (default: found from ``model_space`` when it holds
            one, or rebuilt once from a simplified space).
    """
    mutables = model_space.simplify()
    if modules is None:
        modules = _find_modules(model_space, mutables)
    descriptions = _describe_choices(modules) if modules is not None else {}
    dims: list[Dimension] = []
    skipped: list[str] = []
    for label, mutable in mutables.items():
        label = str(label)  # NNI labels are a str subclass: keep plain strings (JSON, pickles)
        dim = _dimension(label, mutable, descriptions.get(label))
        if dim is None:
            skipped.append(label)
        else:
            dims.append(dim)
    if skipped:
        logger.debug("Not searched (annotations/constraints, checked by NNI): %s", skipped)
    if not dims:
        raise ValueError(
            f"the model space {type(model_space).__name__} has nothing to search: no mutable (LayerChoice, "
            "InputChoice, nni.choice, Repeat, Numerical) was found"
            + (f", only annotations/constraints {skipped}" if skipped else "")
            + ". An LLM strategy chooses among a space's mutables; to evaluate one fixed model, train it "
            "directly (NNI's GridSearch evaluates such a space once).")
    return NNISpace(SearchSpace(dims), model_space, skipped)


# -- one mutable → one dimension ---------------------------------------------------------------
def _dimension(label: str, mutable: "Mutable", descriptions: dict[Any, str] | None) -> Dimension | None:
    if isinstance(mutable, MutableAnnotation):
        return None
    if isinstance(mutable, NNICategorical):
        texts = None
        if descriptions and all(v in descriptions for v in mutable.values):
            texts = [descriptions[v] for v in mutable.values]
        return Categorical(label, list(mutable.values), texts)
    if isinstance(mutable, CategoricalMultiple):
        return MultiChoice(label, list(mutable.values), mutable.n_chosen)
    if isinstance(mutable, Numerical):
        return _numerical(label, mutable)
    raise TypeError(
        f"Cannot search {label!r}: mutables of type {type(mutable).__name__} are not supported "
        "(supported: Categorical / nni.choice / LayerChoice / Repeat, CategoricalMultiple / "
        "InputChoice, Numerical; annotations and constraints are skipped)."
    )


def _numerical(label: str, mutable: Any) -> Dimension:
    low, high = float(mutable.low), float(mutable.high)
    if not (math.isfinite(low) and math.isfinite(high)):
        # A normal (or custom) distribution: search its central 99.7%, within the bounds.
        dist = mutable.distribution
        low = max(low, float(dist.ppf(0.00135)))
        high = min(high, float(dist.ppf(0.99865)))
        if not (math.isfinite(low) and math.isfinite(high)):
            raise TypeError(f"Cannot search {label!r}: Numerical with unbounded range {mutable!r}.")
        logger.info("%s: unbounded Numerical searched in its central 99.7%% [%g, %g]", label, low, high)
    q = mutable.quantize
    log = bool(mutable.log_distributed)
    if q is None:
        return Float(label, low, high, log=log)
    # NNI accepts the bounds and the multiples of q between them; search the multiples.
    k_low, k_high = math.ceil(low / q - 1e-9), math.floor(high / q + 1e-9)
    if k_low > k_high:
        raise TypeError(f"Cannot search {label!r}: no multiple of quantize={q} in [{low:g}, {high:g}].")
    if isinstance(q, int) and not isinstance(q, bool):  # NNI's own samples are ints then
        if log and q == 1 and k_low >= 1:
            return Integer(label, k_low, k_high, log=True)
        return Integer(label, k_low * q, k_high * q, step=q)
    q = float(q)
    return Float(label, _round(k_low * q, q), _round(k_high * q, q), step=q)


def _round(value: float, step: float) -> float:
    """``value`` without the float noise of ``k * step`` (3 * 0.1 → 0.3)."""
    decimals = max(0, 12 - int(math.floor(math.log10(abs(step))))) if step else 12
    return round(value, min(decimals, 15))


def _error_text(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if isinstance(exc, (SampleValidationError, SampleMissingError)) else f"{type(exc).__name__}: {text}"


# -- descriptions of LayerChoice candidates ----------------------------------------------------
def _find_modules(model_space: Any, mutables: Mapping[str, Any]) -> Any:
    """An ``nn.Module`` that holds the space's choice modules, or ``None``."""
    import torch.nn as nn

    if isinstance(model_space, nn.Module):
        return model_space
    inner = getattr(model_space, "model_space", None)  # RawFormatModelSpace
    if isinstance(inner, nn.Module):
        return inner
    traced = getattr(model_space, "model", None)  # SimplifiedModelSpace keeps a trace only
    if traced is None or not hasattr(traced, "trace_copy") or not any(
        isinstance(m, NNICategorical) and all(isinstance(v, (int, str)) for v in m.values)
        for m in mutables.values()
    ):
        return None
    started = time.perf_counter()
    try:
        rebuilt = traced.trace_copy().get(traceable=False)
    except Exception as exc:  # user code: a space that cannot be rebuilt just gets no descriptions
        logger.debug("Could not rebuild the model space for choice descriptions: %s", exc)
        return None
    if not isinstance(rebuilt, nn.Module) or list(rebuilt.simplify()) != list(mutables):
        return None
    logger.debug("Rebuilt the model space for choice descriptions in %.2f s", time.perf_counter() - started)
    return rebuilt


def _describe_choices(root: Any) -> dict[str, dict[Any, str]]:
    """``{label: {value: description}}`` for every ``LayerChoice`` and ``Repeat`` depth."""
    from nni.nas.nn.pytorch import LayerChoice, Repeat

    found: dict[str, dict[Any, str]] = {}
    for module in root.modules():
        if isinstance(module, LayerChoice) and module.label not in found:
            found[str(module.label)] = {name: describe_module(module[name]) for name in module.names}
        elif isinstance(module, Repeat) and isinstance(module.depth_choice, NNICategorical):
            label = str(module.depth_choice.label)
            if label not in found and len(module.blocks):
                block = describe_module(module.blocks[0], limit=60)
                found[label] = {d: f"{d} × {block}" for d in module.depth_choice.values}
    return found


def describe_module(module: Any, limit: int = _DESCRIPTION_LIMIT) -> str:
    """A short text for a candidate module: its class and key hyper-parameters.

    >>> import torch.nn as nn
    >>> describe_module(nn.Conv2d(3, 8, 3, padding=1))
    'Conv2d(3, 8, kernel_size=3, padding=1)'
    >>> describe_module(nn.Sequential(nn.ReLU(), nn.Linear(4, 2)))
    'Sequential[ReLU, Linear(in_features=4, out_features=2)]'
    """
    text = _leaf_text(module)
    leaves = [m for m in module.modules() if m is not module and not list(m.children())]
    if leaves:
        text = f"{type(module).__name__}[{', '.join(_leaf_text(m) for m in leaves)}]"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _leaf_text(module: Any) -> str:
    name = type(module).__name__
    parts = []
    for part in _split_top_level(module.extra_repr()):
        key, sep, value = part.partition("=")
        if not sep:
            parts.append(part)
        elif key.strip() in _KEY_PARAMETERS and not _is_default(name, key.strip(), value.strip()):
            parts.append(f"{key.strip()}={_squeeze(value.strip())}")
    return f"{name}({', '.join(parts)})" if parts else name


def _is_default(name: str, key: str, value: str) -> bool:
    value = _squeeze(value)
    if key == "stride":  # pooling's default stride is its kernel size
        return value == "1" and name.startswith("Conv")
    return (key in ("dilation", "groups") and value == "1") or (key == "padding" and value == "0")


def _squeeze(value: str) -> str:
    """``(3, 3)`` → ``3``."""
    match = re.fullmatch(r"\((\w+), \1\)", value)
    return match.group(1) if match else value


def _split_top_level(text: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for char in text:
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        if char == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += char
    if current.strip():
        parts.append(current.strip())
    return parts
