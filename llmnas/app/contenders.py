"""The contenders of a comparison: a search algorithm in a host, named ``"<algo>@<host>"``.

Ours (``seki``, ``lapt``, ``collm-nas``, ``gpt-ea``), their LLM-off ablations (``-nollm``),
either with the surrogate screen (``+screen``), and the hosts' built-ins; see
:mod:`llmnas.app.runner` for the protocol. Pure names and rules: nothing here imports a host.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "ABLATION_SUFFIX", "BUILTINS", "DEFAULT_BENCHMARKS", "DEFAULT_CONTENDERS", "HOSTS", "NO_LLM", "OUR_METHODS",
    "SCREEN_SUFFIX", "Contender", "known_contenders", "llm_key", "population_for",
]

OUR_METHODS: dict[str, str] = {"seki": "SEKI", "lapt": "LAPT", "collm-nas": "CoLLMNAS", "gpt-ea": "GPTEA"}
"""Our methods → the class name prefix of their sampler / strategy."""
ABLATION_SUFFIX = "-nollm"
SCREEN_SUFFIX = "+screen"
"""Our method with ``screen=True`` (the surrogate screen, :mod:`llmnas.screening`)."""
BUILTINS: dict[str, tuple[str, ...]] = {"optuna": ("random", "tpe", "nsga2", "gp"), "nni": ("random", "re")}
"""The hosts' own search algorithms the runner knows."""
HOSTS = ("optuna", "nni")

DEFAULT_BENCHMARKS: tuple[str, ...] = ("nb201-cifar10", "nb201-cifar100", "nb201-imagenet16")
DEFAULT_CONTENDERS: tuple[str, ...] = (
    "seki@optuna", "lapt@optuna", "collm-nas@optuna", "gpt-ea@optuna",
    "seki-nollm@optuna", "lapt-nollm@optuna", "collm-nas-nollm@optuna", "gpt-ea-nollm@optuna",
    "random@optuna", "tpe@optuna", "nsga2@optuna", "gp@optuna", "random@nni", "re@nni",
)
"""The set behind the README's results section."""

NO_LLM = "none"
"""The ``llm`` of a run key for contenders that use no LLM."""


@dataclass(frozen=True)
class Contender:
    """One search algorithm in one host, named ``"<algo>@<host>"``.

    Example:
        >>> c = Contender.parse("seki-nollm@optuna")
        >>> c.method, c.uses_llm, c.kind
        ('seki', False, 'ablation')
        >>> Contender.parse("re@nni").kind
        'builtin'
        >>> c = Contender.parse("gpt-ea-nollm+screen@nni")
        >>> c.method, c.family, c.kind, c.screened
        ('gpt-ea', 'gpt-ea+screen', 'ablation', True)
    """

    algo: str
    host: str

    @property
    def name(self) -> str:
        return f"{self.algo}@{self.host}"

    @property
    def method(self) -> str | None:
        """Our method's name (``"seki"`` …) for ours and their ablations, else ``None``."""
        base = self.algo.removesuffix(SCREEN_SUFFIX).removesuffix(ABLATION_SUFFIX)
        return base if base in OUR_METHODS else None

    @property
    def screened(self) -> bool:
        """Whether ours runs with the surrogate screen (``+screen``)."""
        return self.method is not None and self.algo.endswith(SCREEN_SUFFIX)

    @property
    def family(self) -> str | None:
        """What pairs a method with its ablation in the reports: the method's name, with
        ``+screen`` when screened (``None`` for the built-ins)."""
        return None if self.method is None else self.method + (SCREEN_SUFFIX if self.screened else "")

    @property
    def kind(self) -> str:
        """``"ours"``, ``"ablation"`` (ours with ``use_llm=False``) or ``"builtin"``."""
        if self.method is None:
            return "builtin"
        return "ablation" if self.algo.removesuffix(SCREEN_SUFFIX).endswith(ABLATION_SUFFIX) else "ours"

    @property
    def uses_llm(self) -> bool:
        return self.kind == "ours"

    @classmethod
    def parse(cls, name: str) -> Contender:
        """``"algo@host"`` → a contender; ``ValueError`` lists the valid names."""
        algo, sep, host = str(name).strip().lower().partition("@")
        contender = cls(algo, host)
        if not sep or host not in HOSTS or (contender.method is None and algo not in BUILTINS.get(host, ())):
            raise ValueError(f"unknown contender {name!r}; expected '<algo>@<host>', one of {known_contenders()}")
        return contender

    def __str__(self) -> str:
        return self.name


def known_contenders() -> list[str]:
    """Every contender name the runner accepts."""
    names = []
    for host in HOSTS:
        for suffix in ("", SCREEN_SUFFIX):
            names += [f"{m}{suffix}@{host}" for m in OUR_METHODS]
            names += [f"{m}{ABLATION_SUFFIX}{suffix}@{host}" for m in OUR_METHODS]
        names += [f"{b}@{host}" for b in BUILTINS[host]]
    return names


def population_for(budget: int) -> int:
    """The population of the evolutionary built-ins (NNI's RE, Optuna's NSGA-II) at ``budget``:
    ``clamp(budget // 5, 10, 100)``.

    >>> population_for(20), population_for(100), population_for(1000)
    (10, 20, 100)
    """
    return int(min(100, max(10, budget // 5)))


def llm_key(llm: Any) -> str:
    """What identifies the LLM in a run's key: its description without the endpoint's URL
    (the response cache is keyed by the model, not the URL, so a replay elsewhere matches).

    >>> class Fake:
    ...     description = "openai:gpt-4o-mini @ http://127.0.0.1:8000/v1"
    >>> llm_key(Fake()), llm_key(None)
    ('openai:gpt-4o-mini', 'none')
    """
    if llm is None:
        return NO_LLM
    return str(getattr(llm, "description", type(llm).__name__)).split(" @ ")[0].strip()
