"""The proposal pipeline every method shares.

A method writes a prompt; the pipeline asks the LLM for ``n`` architectures in one call with
a JSON schema built from the space, decodes and validates each answer with the space's rules
and the host's own rules, drops duplicates of finished, running and already accepted
configurations, re-asks once with the problems it found, and fills what is still missing with
the method's own non-LLM operator. Every outcome is counted in :class:`PipelineStats` and
logged; nothing is silent. An LLM that fails, times out or talks nonsense costs LLM calls,
never a trial.

The pipeline also enforces the call budget: by default at most one LLM call per two
proposals (``max_calls_per_proposal=0.5``), counting every call a method makes.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

from .history import History
from .knowledge import KnowledgeStore
from .llm.protocol import LLM, LLMError, Message
from .space import Config, SearchSpace

logger = logging.getLogger(__name__)

HostValidator = Callable[[Config], Sequence[str]]
"""The host's own rules: returns the problems of a configuration (empty when valid)."""

FallbackOperator = Callable[["Context", int, set], list[Config]]
"""A method's non-LLM operator: ``(ctx, n, taken_keys) -> up to n new configurations``."""


_FALLBACK_ROUNDS = 20
"""Rounds of the fallback operator when the host rejects what it made (e.g. NNI constraints)."""


class SearchStopped(RuntimeError):
    """The search is over: hosts stop submitting (NNI) or stop the study (Optuna)."""


class SpaceExhausted(SearchStopped):
    """Every configuration of a finite search space has been tried or is running."""


class TargetReached(SearchStopped):
    """The method's stop rule fired (e.g. CoLLM-NAS reached its target score)."""


@dataclass(frozen=True)
class Proposal:
    """One configuration to evaluate and where it came from.

    ``source`` is ``"llm"`` (first answer), ``"llm-reask"`` (answer to the re-ask) or
    ``"fallback"`` (the method's own operator); ``reason`` says why a fallback was used.
    """

    config: Config
    source: str
    reason: str = ""


class PipelineStats:
    """Thread-safe counters of what the pipeline did; ``as_dict()`` for summaries."""

    FIELDS = (
        "llm_calls", "llm_errors", "unparsable_answers", "truncated_answers", "reasks",
        "llm_items", "invalid", "duplicates", "accepted_llm", "accepted_reask",
        "fallback_proposals", "call_budget_skips", "batches", "screened_candidates", "screened_out",
        "screened_out_llm",
    )

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts = dict.fromkeys(self.FIELDS, 0)
        self.fallback_reasons: dict[str, int] = {}

    def add(self, name: str, amount: int = 1) -> None:
        with self._lock:
            self._counts[name] += amount

    def add_fallback(self, reason: str, amount: int) -> None:
        """Count ``amount`` fallback proposals for ``reason`` (negative: un-count proposals
        that were dropped before being served, e.g. by the surrogate screen)."""
        if amount == 0:
            return
        with self._lock:
            self._counts["fallback_proposals"] += amount
            count = self.fallback_reasons.get(reason, 0) + amount
            if count > 0:
                self.fallback_reasons[reason] = count
            else:
                self.fallback_reasons.pop(reason, None)

    def __getitem__(self, name: str) -> int:
        with self._lock:
            return self._counts[name]

    def as_dict(self) -> dict[str, Any]:
        with self._lock:
            out: dict[str, Any] = dict(self._counts)
            out["fallback_reasons"] = dict(self.fallback_reasons)
            return out

    def load(self, data: Mapping[str, Any]) -> None:
        with self._lock:
            for name in self.FIELDS:
                self._counts[name] = int(data.get(name, 0))
            self.fallback_reasons = dict(data.get("fallback_reasons", {}))

    def __getstate__(self) -> dict[str, Any]:
        return self.as_dict()

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__()  # type: ignore[misc]
        self.load(state)


@dataclass
class Context:
    """Everything a method may use to propose: the space, what was tried, what is running,
    shared knowledge, the LLM, a seeded random generator, the budget and the host's rules.

    Methods never talk to the LLM directly: they go through :meth:`ask_json` (free-form
    structured answers, e.g. a strategy in words) and :meth:`ask_proposals` (the pipeline),
    which count calls, enforce the call budget and never raise on LLM failure.
    """

    space: SearchSpace
    history: History
    knowledge: KnowledgeStore
    llm: LLM | None
    rng: np.random.Generator
    pending: list[Config] = field(default_factory=list)
    budget: int | None = None
    task: str | None = None
    host_validator: HostValidator | None = None
    stats: PipelineStats = field(default_factory=PipelineStats)
    max_calls_per_proposal: float = 0.5
    proposals_so_far: int = 0
    temperature: float | None = None
    method_name: str = "method"
    taken: set = field(default_factory=set)
    last_miss: str = ""  # why the last ask_json returned None
    llm_unavailable: str = ""  # why there is no LLM when one was asked for (spec failed to resolve)
    role_llms: Mapping[str, LLM | None] = field(default_factory=dict)  # e.g. navigator / generator

    def llm_for(self, role: str | None) -> LLM | None:
        """The LLM of a role (``"navigator"``, ``"generator"``, ...); the default LLM when the
        role has none of its own or is ``None``."""
        if role is not None and role in self.role_llms:
            return self.role_llms[role]
        return self.llm

    def __post_init__(self) -> None:
        keys = {self.space.key(o.config) for o in self.history}
        keys.update(self.space.key(c) for c in self.pending)
        self.taken |= keys

    # -- validity and identity ---------------------------------------------------------------
    def problems(self, config: Config) -> list[str]:
        errors = self.space.validate(config)
        if not errors and self.host_validator is not None:
            errors = list(self.host_validator(config))
        return errors

    def is_new(self, config: Config) -> bool:
        return self.space.key(config) not in self.taken

    def take(self, config: Config) -> None:
        self.taken.add(self.space.key(config))

    def exhausted(self) -> bool:
        return len(self.taken) >= self.space.size()

    # -- the LLM -----------------------------------------------------------------------------
    def may_call_llm(self, upcoming: int, role: str | None = None) -> bool:
        """Whether one more call keeps calls ≤ ``max_calls_per_proposal`` × proposals made,
        counting the ``upcoming`` proposals of the batch being built."""
        if self.llm_for(role) is None:
            return False
        planned = self.proposals_so_far + upcoming
        if self.budget is not None:  # proposals past the budget will never be evaluated
            planned = min(planned, max(self.budget, self.proposals_so_far))
        allowed = self.max_calls_per_proposal * planned
        return self.stats["llm_calls"] + 1 <= allowed + 1e-9

    def _seed(self) -> int:
        return int(self.rng.integers(2**31 - 1))

    def ask_json(
        self, messages: list[Message], schema: dict[str, Any], *, purpose: str, upcoming: int,
        role: str | None = None,
    ) -> Any | None:
        """One structured LLM call (to the LLM of ``role``, see :meth:`llm_for`); the parsed
        answer, or ``None`` (logged and counted) when the LLM is off, over its call budget,
        failed, or answered nothing usable."""
        llm = self.llm_for(role)
        if llm is None:
            self.last_miss = self._no_llm_reason()
            return None
        if not self.may_call_llm(upcoming, role):
            self.stats.add("call_budget_skips")
            self.last_miss = "over the LLM call budget"
            logger.info("%s: skipped the %s call: over the call budget (%.2f calls per proposal)",
                        self.method_name, purpose, self.max_calls_per_proposal)
            return None
        self.stats.add("llm_calls")
        try:
            response = llm.complete(
                messages, schema=schema, schema_name=purpose.replace(" ", "_"),
                temperature=self.temperature, seed=self._seed(),
            )
        except LLMError as exc:
            self.stats.add("llm_errors")
            self.last_miss = "LLM call failed or answer unusable"
            logger.warning("%s: the %s call failed: %s", self.method_name, purpose, exc)
            return None
        except Exception as exc:  # a user's LLM object may raise anything: never lose a proposal
            self.stats.add("llm_errors")
            self.last_miss = "LLM call failed or answer unusable"
            logger.warning("%s: the %s call raised %s: %s", self.method_name, purpose, type(exc).__name__, exc)
            return None
        if response.truncated:
            self.stats.add("truncated_answers")
        if response.data is None:
            self.stats.add("unparsable_answers")
            self.last_miss = "LLM call failed or answer unusable"
            logger.warning("%s: the %s answer was not usable JSON: %.200r", self.method_name, purpose, response.text)
        return response.data

    def ask_proposals(
        self,
        messages: list[Message],
        n: int,
        fallback: FallbackOperator,
        *,
        purpose: str = "proposals",
        extra_properties: Mapping[str, Any] | None = None,
        role: str | None = None,
    ) -> tuple[list[Proposal], dict[str, Any]]:
        """Run the pipeline for ``n`` proposals (asking the LLM of ``role``). Returns the
        proposals (fewer than ``n`` only when the space is exhausted) and the last parsed
        answer (for a method's reasoning fields; empty when there was none)."""
        self.stats.add("batches")
        accepted: list[Proposal] = []
        answer: dict[str, Any] = {}
        conversation = list(messages)
        fallback_reason = self._no_llm_reason() if self.llm_for(role) is None else ""
        for attempt in range(2):
            wanted = n - len(accepted)
            if wanted <= 0:
                break
            if attempt:
                self.stats.add("reasks")
            schema = self.space.proposals_schema(wanted, extra=extra_properties)
            data = self.ask_json(conversation, schema, purpose=purpose, upcoming=n, role=role)
            if data is None:
                fallback_reason = (self.last_miss or "LLM call failed or answer unusable") if attempt == 0 \
                    else fallback_reason
                break
            if isinstance(data, dict):
                answer = data
            items = data.get("architectures") if isinstance(data, dict) else data
            if not isinstance(items, list):
                self.stats.add("unparsable_answers")
                problems = ['the answer had no "architectures" list']
                items = []
            else:
                problems = []
            self.stats.add("llm_items", len(items))
            for i, item in enumerate(items):
                config, errors = self.space.decode(item) if isinstance(item, dict) else ({}, [f"not an object: {item!r}"])
                if not errors and self.host_validator is not None:
                    errors = list(self.host_validator(config))
                if errors:
                    self.stats.add("invalid")
                    problems.append(f"architecture {i + 1}: " + "; ".join(errors[:4]))
                elif not self.is_new(config):
                    self.stats.add("duplicates")
                    problems.append(f"architecture {i + 1} was already tried or is running: {self.space.format_config(config)}")
                else:
                    self.take(config)
                    accepted.append(Proposal(config, "llm-reask" if attempt else "llm"))
                    self.stats.add("accepted_reask" if attempt else "accepted_llm")
                if len(accepted) >= n:
                    break
            if len(accepted) >= n:
                break
            fallback_reason = "invalid or duplicate LLM proposals"
            missing = n - len(accepted)
            conversation = conversation + [
                {"role": "assistant", "content": _compact_json(data)},
                {"role": "user", "content": _reask_text(problems, missing)},
            ]
        missing = n - len(accepted)
        if missing > 0:
            rejected: set = set()  # the operator knows the space's rules, not the host's: retry
            for _ in range(_FALLBACK_ROUNDS):
                wanted = n - len(accepted)
                configs = fallback(self, wanted, self.taken | rejected) if wanted > 0 else []
                if not configs:
                    break
                for config in configs[:wanted]:
                    if self.is_new(config) and not self.problems(config):
                        self.take(config)
                        accepted.append(Proposal(config, "fallback", fallback_reason))
                    else:
                        rejected.add(self.space.key(config))
            filled = len(accepted) - (n - missing)
            self.stats.add_fallback(fallback_reason or "unknown", filled)
        n_llm = sum(p.source != "fallback" for p in accepted)
        logger.info(
            "%s: batch of %d: %d from the LLM, %d from the fallback operator%s; %d LLM calls for %d proposals so far",
            self.method_name, len(accepted), n_llm, len(accepted) - n_llm,
            f" ({fallback_reason})" if len(accepted) > n_llm else "",
            self.stats["llm_calls"], self.proposals_so_far + len(accepted),
        )
        self.proposals_so_far += len(accepted)
        return accepted, answer

    def _no_llm_reason(self) -> str:
        return f"LLM unavailable ({self.llm_unavailable})" if self.llm_unavailable else "no LLM configured"


def _compact_json(data: Any) -> str:
    import json

    try:
        return json.dumps(data, separators=(",", ":"))[:4000]
    except (TypeError, ValueError):
        return str(data)[:4000]


def _reask_text(problems: Iterable[str], missing: int) -> str:
    problems = list(problems)
    if not problems:
        problems = [f"the answer held fewer architectures than asked for ({missing} missing)"]
    listed = "\n".join(f"- {p}" for p in problems[:12])
    return (
        "Some of those architectures cannot be used:\n"
        f"{listed}\n"
        f"Propose {missing} more architecture(s) that follow the dimension rules exactly "
        "and differ from every architecture already tried or listed. Answer with JSON only."
    )
