"""Each method's own settings, as the hosts' public classes take them, and the one function that
builds the method from them.

The samplers (``SEKISampler``, ...) and the strategies (``SEKIStrategy``, ...) take a method's
settings and the shared :class:`~llmnas.options.SearchOptions` as keywords. The settings are
documented once, on the method class (:class:`~llmnas.methods.SEKI`, ...), with their defaults;
the typed dictionaries here list their names and types for ``typing.Unpack``, and
:func:`build_method` is where a host's keywords become a method, the same way in both hosts:
the budget goes to methods that plan stages from it, CoLLM-NAS's role LLMs become
``role_llms``, GPT-EA's ``prior``/``corpus`` become a prior seeded with ``seed``.

Example:
    >>> method, options, host = build_method("SEKI", {"top_k": 8, "seed": 0, "budget": 30})
    >>> method.name, method.budget, method.top_k, options.seed, host
    ('SEKI', 30, 8, 0, {})
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, TypedDict

from .llm.protocol import LLM
from .methods import GPTEA, LAPT, SEKI, CoLLMNAS, make_prior
from .methods.base import Method
from .methods.collm_nas import ResourceLimit
from .methods.gpt_ea import Prior
from .options import SearchOptions, SearchOptionsKwargs, check_keywords

__all__ = [
    "CoLLMNASSettings", "GPTEASettings", "LAPTSettings", "METHOD_SETTINGS", "SEKISettings", "build_method",
]


class SEKISettings(TypedDict, total=False):
    """SEKI's settings (documented on :class:`llmnas.methods.SEKI`)."""

    self_evolution_fraction: float
    top_k: int
    n_inspiration: int
    batch_size: int
    current: str


class LAPTSettings(TypedDict, total=False):
    """LAPT's settings (documented on :class:`llmnas.methods.LAPT`); a host turns its own kind
    of finished study given as ``source`` into a History before building."""

    source: Any
    source_description: str | None
    warmup: int
    max_options: int | None
    population: int
    tournament_size: int
    adapt_every: int
    top_n: int
    n_source_shown: int
    check_top_k: int
    batch_size: int


class CoLLMNASSettings(TypedDict, total=False):
    """CoLLM-NAS's settings (documented on :class:`llmnas.methods.CoLLMNAS`), and its two roles'
    LLMs (objects or specs; a role not given uses ``llm``, so one ``llm=`` serves both)."""

    navigator_llm: LLM | str | None
    generator_llm: LLM | str | None
    target: float | None
    resource_limit: ResourceLimit | None
    resource_description: str | None
    round_size: int
    batch_size: int
    navigator_memory: int


class GPTEASettings(TypedDict, total=False):
    """GPT-EA's settings (documented on :class:`llmnas.methods.GPTEA`): ``prior`` is ``"llm"``
    (default), ``"transformer"`` (needs ``corpus``: parameter dicts, ``(dict, score)`` pairs or a
    benchmark table, its top 200) or a :class:`llmnas.methods.Prior`."""

    prior: str | Prior
    corpus: Any
    population: int | None
    generations: int
    crossover_rate: float
    mutation_rate: float
    rate0: float
    tournament_size: int
    batch_size: int


def _seki(settings: dict[str, Any], options: SearchOptions) -> tuple[Method, SearchOptions]:
    budget = {} if options.budget is None else {"budget": options.budget}
    return SEKI(**budget, **settings), options


def _lapt(settings: dict[str, Any], options: SearchOptions) -> tuple[Method, SearchOptions]:
    return LAPT(**settings), options


def _collm_nas(settings: dict[str, Any], options: SearchOptions) -> tuple[Method, SearchOptions]:
    roles = {"navigator": settings.pop("navigator_llm", None), "generator": settings.pop("generator_llm", None)}
    budget = {} if options.budget is None else {"budget": options.budget}
    method = CoLLMNAS(**settings, **budget)
    if any(v is not None for v in roles.values()):
        options = options.replace(role_llms={**(options.role_llms or {}), **roles})
    return method, options


def _gpt_ea(settings: dict[str, Any], options: SearchOptions) -> tuple[Method, SearchOptions]:
    prior = make_prior(settings.pop("prior", "llm"), settings.pop("corpus", None), seed=options.seed)
    return GPTEA(**settings, prior=prior), options


METHOD_SETTINGS: Mapping[str, tuple[type[TypedDict], Callable[..., tuple[Method, SearchOptions]]]] = {
    "SEKI": (SEKISettings, _seki),
    "LAPT": (LAPTSettings, _lapt),
    "CoLLM-NAS": (CoLLMNASSettings, _collm_nas),
    "GPT-EA": (GPTEASettings, _gpt_ea),
}
"""Each method's settings (their names) and its builder, by the method's name."""


def build_method(
    name: str, keywords: Mapping[str, Any], *, owner: str | None = None, host_keywords: frozenset[str] = frozenset(),
) -> tuple[Method, SearchOptions, dict[str, Any]]:
    """The method ``name`` built from a public class's ``keywords``: the method, the shared
    options, and the host's own keywords (those in ``host_keywords``). Any other keyword is a
    ``TypeError`` that names ``owner`` and lists what it takes."""
    settings_type, build = METHOD_SETTINGS[name]
    own = set(settings_type.__annotations__)
    check_keywords(owner or name, keywords, own | set(SearchOptionsKwargs.__annotations__) | host_keywords)
    options, rest = SearchOptions.pick({k: v for k, v in keywords.items() if k not in host_keywords})
    settings = {k: v for k, v in rest.items() if k in own}
    method, options = build(settings, options)
    return method, options, {k: v for k, v in keywords.items() if k in host_keywords}
