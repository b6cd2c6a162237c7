"""The settings every method shares, declared once.

Every public sampler and strategy (:mod:`optuna_llm_samplers`, :mod:`nni_llm_strategies`) and the
core :class:`~llmnas.searcher.Searcher` take the same options: the LLM, the seed, the budget, the
call limits, the screen, the timeouts, ... They are declared here, once, with one docstring
each, and checked here, once. The public classes declare only what is their own (a method's
settings, a host's options) and take these as ``**options`` typed with
:class:`SearchOptionsKwargs` (``typing.Unpack``), so type checkers and IDEs still show and check
every keyword.

Example:
    >>> options = SearchOptions(seed=0, use_llm=False, budget=40)
    >>> options.max_calls_per_proposal, options.screen
    (0.5, False)
    >>> picked, rest = SearchOptions.pick({"seed": 1, "top_k": 5})
    >>> picked.seed, rest
    (1, {'top_k': 5})
    >>> SearchOptions(temperature=3)
    Traceback (most recent call last):
    ...
    ValueError: temperature must be a number in [0, 2] or None, got 3.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Mapping, TypedDict

import numpy as np

from .llm.protocol import LLM, llm_timeout_setting
from .screening import SurrogateScreen

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["PROMPT_HISTORY_FORMS", "SearchOptions", "SearchOptionsKwargs", "check_keywords"]

PROMPT_HISTORY_FORMS = ("summary", "lists")
"""The forms of ``prompt_history`` (how prompts show what was tried); the first is the default."""


@dataclass(frozen=True)
class SearchOptions:
    """The options every method and host shares (see the module docstring).

    Build it from keywords (``SearchOptions(seed=0, llm="openai:gpt-4o-mini")``) or take it apart
    from a class's keywords with :meth:`pick`. Each value is checked when the object is made: a
    bad value is a ``ValueError`` (a wrong type for ``llm``: ``TypeError``) that names it and says
    what was expected.
    """

    llm: LLM | str | None = None
    """The LLM: an object, a spec (``"openai:gpt-4o-mini"``, ``"local"``, an
    ``http://host:port/v1`` URL) or ``None`` for the environment's choice (``OPENAI_BASE_URL`` /
    ``OPENAI_API_KEY``, else the embedded demo model); see :func:`llmnas.llm.resolve_llm`.
    Resolved at the first LLM call; a spec that cannot work (a typo, no key) is an error now."""

    seed: int | None = None
    """Seeds the method's generator, the fallback operators and the LLM's sampling seeds.
    Optuna reseeds samplers before every trial with ``n_jobs > 1``: give each worker process
    its own seed (or ``None``)."""

    budget: int | None = None
    """The planned number of evaluations; the methods plan their stages from it (Optuna does
    not tell samplers ``n_trials``: pass the same number). ``None``: the host's known budget
    (NNI's ``max_model_count`` / ``max_trial_number``), else the method's default."""

    task: str | None = None
    """A short task description added to the prompts (never name a benchmark)."""

    use_llm: bool = True
    """``False`` runs the method's own operators only: an ablation, or no LLM at hand."""

    max_calls_per_proposal: float = 0.5
    """The LLM call budget: calls ≤ this × proposals (0.5: one call per two architectures).
    Under the trust rule (``trust=True``) the rule's own budget is the lower of this and
    :data:`llmnas.trust.MAX_CALLS_PER_PROPOSAL` (0.25)."""

    temperature: float | None = None
    """The sampling temperature sent to the LLM, in [0, 2] (``None``: the backend's default)."""

    role_llms: Mapping[str, LLM | str | None] | None = None
    """LLMs for the method's roles (CoLLM-NAS's ``navigator`` / ``generator``); a role left out
    uses ``llm``. Each is resolved on first use, like ``llm``."""

    prefetch: bool = False
    """Ask for the next batch in a background thread once fewer than ``prefetch_below``
    proposals are buffered, so parallel workers take proposals without waiting for the LLM. A
    prefetched batch sees the history of when it started (duplicates are still dropped when
    served). Off by default: the paper's loop, each batch seeing every result so far."""

    prefetch_below: int = 2
    """The buffer size under which ``prefetch`` starts the next batch."""

    trust: bool = True
    """Share each batch between the LLM's answers and the method's own operator by how each
    has done in this study (Thompson sampling over the two sources, :mod:`llmnas.trust`): an
    LLM whose architectures rank well gets more slots and larger batches, one whose
    architectures rank badly gets fewer slots and fewer calls, never none. ``False``: every
    batch is the LLM's, as in the papers (LAPT's batches are never split: its LLM writes
    principles, not architectures)."""

    prompt_history: Literal["summary", "lists"] = "summary"
    """How prompts show what the study has tried (:mod:`llmnas.prompts.tried`): ``"summary"``
    lists, per dimension, how often each value was tried and the best score it reached, then
    the best and the latest architectures that fit about 10,000 characters (3,000 tokens), so a study of any
    size is shown in a prompt of bounded size and an LLM that knows the good region rarely
    repeats what was tried; ``"lists"``: only the best 8 and the latest 8 (shorter prompts for
    a small context window, and the form recorded runs from before the summary replay with)."""

    screen: bool | SurrogateScreen = False
    """``True`` or a :class:`~llmnas.screening.SurrogateScreen`: each batch the method proposes
    competes with many more candidates of its own operator, and a surrogate fitted on the
    results picks which are evaluated (our addition, not the papers'). Off by default."""

    llm_timeout: float | None = None
    """Seconds one proposal (a trial's, or an NNI batch's) waits for an OpenAI-compatible
    endpoint at most, every exchange and retry together (``None``: ``LLMNAS_LLM_TIMEOUT``, else
    60). Calls still due after it are skipped (the method's operator fills in); after two
    timeouts in a row the endpoint is rested for 2, then 4, 8, ... calls. The embedded model
    runs in process and is not bounded."""

    llm_retries: int | None = None
    """Retries of one exchange (rate limits, timeouts, 5xx) for an LLM given as a spec or taken
    from the environment (``None``: 4)."""

    llm_request_timeout: float | None = None
    """Seconds per HTTP attempt for such an LLM (``None``: 60, or ``llm_timeout`` when shorter)."""

    resolved_llm_timeout: float = field(init=False, repr=False, compare=False)
    """``llm_timeout`` with ``LLMNAS_LLM_TIMEOUT`` and the default applied."""

    def __post_init__(self) -> None:
        for what, spec in [("llm", self.llm)] + [(f"{role}_llm", s) for role, s in (self.role_llms or {}).items()]:
            _check_spec(what, spec)
        if self.role_llms is not None and not isinstance(self.role_llms, Mapping):
            raise ValueError(f"role_llms must map role names to LLMs or specs, got {self.role_llms!r}.")
        seed = self.seed
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
            raise ValueError(f"seed must be a non-negative integer or None, got {seed!r}.")
        _check_count("budget", self.budget, 1, "a positive number of evaluations or None", allow_none=True)
        if self.task is not None and not isinstance(self.task, str):
            raise ValueError(f"task must be a string (a short task description for the prompts) or None, "
                             f"got {self.task!r}.")
        for name in ("use_llm", "prefetch", "trust"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}.")
        calls = self.max_calls_per_proposal
        if isinstance(calls, bool) or not isinstance(calls, (int, float)) or not math.isfinite(calls) or calls <= 0:
            raise ValueError(f"max_calls_per_proposal must be a finite number > 0 (LLM calls per proposed "
                             f"architecture), got {calls!r}.")
        t = self.temperature
        if t is not None and (isinstance(t, bool) or not isinstance(t, (int, float)) or not 0 <= t <= 2):
            raise ValueError(f"temperature must be a number in [0, 2] or None, got {t!r}.")
        _check_count("prefetch_below", self.prefetch_below, 1, "an integer >= 1")
        if self.prompt_history not in PROMPT_HISTORY_FORMS:
            raise ValueError(f"prompt_history must be one of {PROMPT_HISTORY_FORMS}, got {self.prompt_history!r}.")
        if not isinstance(self.screen, (bool, np.bool_, SurrogateScreen)):
            raise ValueError(f"screen must be True, False or a SurrogateScreen, got {self.screen!r}.")
        # a bad value, or a bad LLMNAS_LLM_TIMEOUT: ValueError naming where it came from
        object.__setattr__(self, "resolved_llm_timeout", llm_timeout_setting(self.llm_timeout))
        _check_count("llm_retries", self.llm_retries, 0, "an integer >= 0 or None", allow_none=True)
        rt = self.llm_request_timeout
        if rt is not None and (isinstance(rt, bool) or not isinstance(rt, (int, float)) or not math.isfinite(rt)
                               or rt <= 0):
            raise ValueError(f"llm_request_timeout must be a number of seconds > 0 or None, got {rt!r}.")

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """The option names (the keywords :class:`SearchOptionsKwargs` declares)."""
        return tuple(f.name for f in dataclasses.fields(cls) if f.init)

    @classmethod
    def pick(cls, keywords: Mapping[str, Any]) -> tuple[SearchOptions, dict[str, Any]]:
        """The options among ``keywords`` and the keywords left over (a class's own)."""
        names = set(cls.names())
        return (cls(**{k: v for k, v in keywords.items() if k in names}),
                {k: v for k, v in keywords.items() if k not in names})

    def replace(self, **changes: Unpack[SearchOptionsKwargs]) -> SearchOptions:
        """A copy with ``changes`` (checked again)."""
        return dataclasses.replace(self, **changes)


class SearchOptionsKwargs(TypedDict, total=False):
    """The keywords of :class:`SearchOptions`, for ``**options: Unpack[SearchOptionsKwargs]``
    (documented there; a test checks the two list the same names)."""

    llm: LLM | str | None
    seed: int | None
    budget: int | None
    task: str | None
    use_llm: bool
    max_calls_per_proposal: float
    temperature: float | None
    role_llms: Mapping[str, LLM | str | None] | None
    prefetch: bool
    prefetch_below: int
    trust: bool
    prompt_history: Literal["summary", "lists"]
    screen: bool | SurrogateScreen
    llm_timeout: float | None
    llm_retries: int | None
    llm_request_timeout: float | None


def check_keywords(owner: str, keywords: Mapping[str, Any], allowed: set[str] | frozenset[str]) -> None:
    """A ``TypeError`` naming ``owner``, the unexpected keywords and the expected ones, as Python
    says it for a plain signature."""
    unexpected = sorted(set(keywords) - set(allowed))
    if unexpected:
        names = ", ".join(repr(k) for k in unexpected)
        raise TypeError(f"{owner}() got an unexpected keyword argument {names}; it takes "
                        f"{', '.join(sorted(allowed))}.")


def _check_count(name: str, value: Any, low: int, expected: str, *, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{name} must be {expected}, got {value!r}.")


def _check_spec(what: str, spec: Any) -> None:
    if spec is not None and not isinstance(spec, (str, LLM)):
        raise TypeError(
            f"{what} must be an LLM object, a spec string ('local', 'openai:<model>', "
            f"'http://host:port/v1') or None; got {type(spec).__name__}."
        )
    if isinstance(spec, str):
        from .llm.resolve import check_llm_available, check_llm_spec

        check_llm_spec(spec)  # a typo is an error now, not a silent fallback later
        check_llm_available(spec)  # so is a named LLM that cannot work (no key, no model file)
