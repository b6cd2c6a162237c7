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
from collections.abc import Set
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

from .history import History, TakenKeys
from .knowledge import KnowledgeStore
from .llm.protocol import LLM, LLMError, LLMRefused, LLMSetupError, LLMTimeout, Message, exceeds_context, time_left
from .provenance import (  # noqa: F401  (re-exported: methods and hosts import them from here)
    LLM_SOURCES, OPERATOR_TURN_REASON, RATIONALE_CHARS, SCREEN_REASON, SOURCE_LABELS, Proposal, Source, provenance, short_rationale,
)
from .space import Config, SearchSpace

logger = logging.getLogger(__name__)

HostValidator = Callable[[Config], Sequence[str]]
"""The host's own rules: returns the problems of a configuration (empty when valid)."""

FallbackOperator = Callable[["Context", int, "Set[Any]"], list[Config]]
"""A method's non-LLM operator: ``(ctx, n, taken_keys) -> up to n new configurations``."""


_FALLBACK_ROUNDS = 20
"""Rounds of the fallback operator when the host rejects what it made (e.g. NNI constraints)."""


class SearchStopped(RuntimeError):
    """The search is over: hosts stop submitting (NNI) or stop the study (Optuna)."""


class SpaceExhausted(SearchStopped):
    """Every configuration of a finite search space has been tried or is running."""


class TargetReached(SearchStopped):
    """The method's stop rule fired (e.g. CoLLM-NAS reached its target score)."""


class LLMHealth:
    """Rests an endpoint that keeps timing out: after ``after`` timeouts in a row the next
    ``rest`` calls are skipped (their proposals come from the method's operator), and each
    further trip doubles the rest (up to ``max_rest``); an answer resets it. Thread-safe;
    process-local (how a worker's endpoint behaves, not shared knowledge)."""

    def __init__(self, after: int = 2, rest: int = 2, max_rest: int = 32) -> None:
        self.after, self.first_rest, self.max_rest = after, rest, max_rest
        self.tried_chars: int | None = None
        """How many characters of tried architectures a prompt may list (``None``: the default,
        :data:`llmnas.prompts.tried.TRIED_CHARS`); halved each time a prompt overflows the
        model's context window (:meth:`overflowed`)."""
        self._lock = threading.Lock()
        self._in_row = 0
        self._rest = rest
        self._skip = 0

    def allow(self) -> bool:
        """Whether to call now (a skipped call counts towards the rest)."""
        with self._lock:
            if self._skip > 0:
                self._skip -= 1
                return False
            return True

    def overflowed(self, listed: int, budget: int) -> int:
        """A prompt built to list at most ``budget`` characters of tried architectures, which
        listed ``listed``, exceeded the model's context window: from now on list at most half
        the budget, or half of what it listed when that was under half the budget (at least
        1,000). A prompt built before an earlier shrink (calls at the same time) shrinks nothing
        more."""
        with self._lock:
            if self.tried_chars is not None and budget > self.tried_chars:
                return self.tried_chars
            self.tried_chars = max(1000, (budget if listed > budget // 2 else listed) // 2)
            return self.tried_chars

    def record(self, *, timed_out: bool) -> bool:
        """Count one call's outcome; ``True`` when it starts a rest."""
        with self._lock:
            if not timed_out:
                self._in_row, self._rest = 0, self.first_rest
                return False
            self._in_row += 1
            if self._in_row < self.after:
                return False
            self._skip, self._in_row = self._rest, 0
            self._rest = min(self.max_rest, self._rest * 2)
            return True

    def __getstate__(self) -> dict[str, Any]:
        return {"after": self.after, "rest": self.first_rest, "max_rest": self.max_rest}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["after"], state["rest"], state["max_rest"])  # type: ignore[misc]


class PipelineStats:
    """Thread-safe counters of what the pipeline did; ``as_dict()`` for summaries."""

    FIELDS = (
        "llm_calls", "llm_errors", "unparsable_answers", "truncated_answers", "reasks",
        "llm_items", "invalid", "duplicates", "accepted_llm", "accepted_reask",
        "fallback_proposals", "call_budget_skips", "batches", "screened_candidates", "screened_out",
        "screened_out_llm", "llm_timeouts", "timeout_skips", "trust_llm_slots", "trust_operator_slots",
        "stand_in_proposals",
    )
    """``fallback_proposals`` counts every proposal the method's operator made in place of the
    LLM's, by reason (``fallback_reasons``); ``stand_in_proposals`` how many of them were
    stand-ins in the LLM's slots under the trust rule (provenance ``stand-in``)."""

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

    Bookkeeping of proposals goes through :meth:`accept` alone: it takes the configuration,
    counts it in :attr:`proposals_so_far` and books it for the pipeline statistics, which
    :meth:`commit` counts once the batch is final (the searcher calls it after the surrogate
    screen, which withdraws what it drops with :meth:`withdraw`: no counter is corrected).
    :attr:`taken` is a :class:`TakenKeys` over the history's maintained keys: building a
    context costs O(running trials), not O(history).
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
    taken: Set[Any] = field(default_factory=set)  # extra keys to avoid; becomes a TakenKeys (see above)
    last_miss: str = ""  # why the last ask_json returned None
    llm_unavailable: str = ""  # why there is no LLM when one was asked for (spec failed to resolve)
    role_llms: Mapping[str, LLM | None] = field(default_factory=dict)  # e.g. navigator / generator
    prompt_history: str = "summary"  # how prompts show what was tried (llmnas.prompts.tried)
    tried_listed: int = 0  # characters of tried architectures the latest prompt listed ("summary")
    tried_budget: int = 0  # the most it could list then
    operator_turn: bool = False  # the trust rule gave these slots to the method's operator (no LLM)
    trust_turn: bool = False  # the trust rule gave these slots to the LLM (GPT-EA then seeds generation 0)
    llm_arm_sources: frozenset[str] = LLM_SOURCES  # in a trust turn, the rest are stand-ins
    health: LLMHealth | None = None  # rests an endpoint that keeps timing out (the searcher's)
    accepted: list[Proposal] = field(default_factory=list, init=False)  # booked, not yet committed
    _open: int = field(default=0, init=False, repr=False)  # accepted in the batch being built

    def llm_for(self, role: str | None) -> LLM | None:
        """The LLM of a role (``"navigator"``, ``"generator"``, ...); the default LLM when the
        role has none of its own or is ``None``."""
        if role is not None and role in self.role_llms:
            return self.role_llms[role]
        return self.llm

    def __post_init__(self) -> None:
        own = set(self.taken._own if isinstance(self.taken, TakenKeys) else self.taken)
        own.update(self.space.key(c) for c in self.pending)
        self.taken = TakenKeys(self.history.keys(self.space), own)

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

    # -- bookkeeping -------------------------------------------------------------------------
    def accept(self, proposal: Proposal) -> Proposal:
        """Book one proposal for the host: its configuration is taken (never proposed twice),
        it counts in :attr:`proposals_so_far`, and :meth:`commit` counts it in the pipeline
        statistics by its source (LLM answers, re-asks, fallbacks by reason). Returns it, or
        in the LLM's slots of a trust turn (:attr:`trust_turn`) a proposal that is not the LLM
        arm's (:attr:`llm_arm_sources`) as a :attr:`~llmnas.provenance.Source.STAND_IN` with
        its reason (or its source) kept: the trust rule credits it to neither source and the
        operator's view leaves it out, so a failing LLM's turns do not change the operator's
        search."""
        if self.trust_turn and str(proposal.source) not in self.llm_arm_sources and proposal.source != Source.STAND_IN:
            reason = proposal.reason or f"the method's {proposal.source} in the LLM's slots"
            proposal = Proposal(proposal.config, Source.STAND_IN, reason, proposal.rationale)
        self.take(proposal.config)
        self.accepted.append(proposal)
        self.proposals_so_far += 1
        self._open += 1
        return proposal

    def withdraw(self, proposal: Proposal) -> None:
        """Un-book an accepted proposal that will not be served (the surrogate screen dropped
        it); its configuration stays taken."""
        for i, booked in enumerate(self.accepted):
            if booked is proposal:
                del self.accepted[i]
                self.proposals_so_far -= 1
                return
        raise ValueError("withdraw: the proposal was not accepted in this context (or already committed)")

    def end_batch(self) -> None:
        """Close the batch being built: from now on its proposals count as made for the call
        budget (:meth:`may_call_llm` counts a batch's own proposals as ``upcoming``)."""
        self._open = 0

    def commit(self) -> int:
        """Count the booked proposals in the pipeline statistics (each once) and clear the
        booking; the number counted."""
        accepted, self.accepted = self.accepted, []
        fallbacks: dict[str, int] = {}
        for proposal in accepted:
            if proposal.source == Source.LLM:
                self.stats.add("accepted_llm")
            elif proposal.source == Source.LLM_REASK:
                self.stats.add("accepted_reask")
            elif proposal.source in (Source.FALLBACK, Source.STAND_IN):
                reason = proposal.reason or "unknown"
                fallbacks[reason] = fallbacks.get(reason, 0) + 1
                if proposal.source == Source.STAND_IN:
                    self.stats.add("stand_in_proposals")
        for reason, count in fallbacks.items():
            self.stats.add_fallback(reason, count)
        return len(accepted)

    # -- the LLM -----------------------------------------------------------------------------
    def may_call_llm(self, upcoming: int, role: str | None = None) -> bool:
        """Whether one more call keeps calls ≤ ``max_calls_per_proposal`` × proposals made,
        counting the ``upcoming`` proposals of the batch being built."""
        if self.llm_for(role) is None:
            return False
        made = self.proposals_so_far - self._open  # the batch's own proposals are in ``upcoming``
        planned = made + upcoming
        if self.budget is not None:  # proposals past the budget will never be evaluated
            planned = min(planned, max(self.budget, made))
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
        left = time_left() if getattr(llm, "honours_deadline", False) else None  # in-process: not bounded
        if left is not None and left <= 0.05:
            self.stats.add("timeout_skips")
            self.last_miss = "the proposal's time limit for the LLM ran out"
            logger.info("%s: skipped the %s call: %s", self.method_name, purpose, self.last_miss)
            return None
        if self.health is not None and not self.health.allow():
            self.stats.add("timeout_skips")
            self.last_miss = "the endpoint timed out repeatedly: resting it"
            logger.info("%s: skipped the %s call: %s", self.method_name, purpose, self.last_miss)
            return None
        self.stats.add("llm_calls")
        try:
            response = llm.complete(
                messages, schema=schema, schema_name=purpose.replace(" ", "_"),
                temperature=self.temperature, seed=self._seed(),
            )
        except (LLMTimeout, TimeoutError) as exc:
            self.stats.add("llm_errors")
            self.stats.add("llm_timeouts")
            self.last_miss = "the LLM timed out"
            resting = self.health is not None and self.health.record(timed_out=True)
            logger.warning("%s: the %s call timed out: %s%s", self.method_name, purpose, exc,
                           "; calling the endpoint less often for a while" if resting else "")
            return None
        except LLMRefused as exc:
            self.stats.add("llm_errors")
            if llm.usage.calls == 0:  # refused before it ever answered: the setup is wrong, not the search
                raise LLMSetupError(
                    f"{exc}. The endpoint refused the first request: check the model name (llm='openai:<model>' "
                    "or LLMNAS_MODEL) and the key (OPENAI_API_KEY)") from None
            self.last_miss = "LLM call failed or answer unusable"
            logger.warning("%s: the %s call failed: %s%s", self.method_name, purpose, exc, self._shorten(exc))
            return None
        except LLMError as exc:
            self.stats.add("llm_errors")
            self.last_miss = "LLM call failed or answer unusable"
            logger.warning("%s: the %s call failed: %s%s", self.method_name, purpose, exc, self._shorten(exc))
            return None
        except Exception as exc:  # a user's LLM object may raise anything: never lose a proposal
            self.stats.add("llm_errors")
            self.last_miss = "LLM call failed or answer unusable"
            logger.warning("%s: the %s call raised %s: %s", self.method_name, purpose, type(exc).__name__, exc)
            return None
        if self.health is not None:
            self.health.record(timed_out=False)
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
        rationale: Any = "",
    ) -> tuple[list[Proposal], dict[str, Any]]:
        """Run the pipeline for ``n`` proposals (asking the LLM of ``role``). Returns the
        proposals (fewer than ``n`` only when the space is exhausted) and the last parsed
        answer (for a method's reasoning fields; empty when there was none). LLM proposals
        carry ``rationale`` (e.g. the strategy they apply) and the answer's own reasoning
        fields (``extra_properties``) as their :attr:`Proposal.rationale`."""
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
                    reasoning = [str(data[k]) for k in (extra_properties or {})
                                 if isinstance(data, dict) and isinstance(data.get(k), str)]
                    why = short_rationale([t for t in [short_rationale(rationale), *reasoning] if t])
                    source = Source.LLM_REASK if attempt else Source.LLM
                    accepted.append(self.accept(Proposal(config, source, rationale=why)))
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
                        accepted.append(self.accept(Proposal(config, Source.FALLBACK, fallback_reason)))
                    else:
                        rejected.add(self.space.key(config))
        n_llm = sum(p.source not in (Source.FALLBACK, Source.STAND_IN) for p in accepted)
        logger.info(
            "%s: batch of %d: %d from the LLM, %d from the fallback operator%s; %d LLM calls for %d proposals so far",
            self.method_name, len(accepted), n_llm, len(accepted) - n_llm,
            f" ({fallback_reason})" if len(accepted) > n_llm else "",
            self.stats["llm_calls"], self.proposals_so_far,
        )
        self.end_batch()
        return accepted, answer

    def _shorten(self, exc: Exception) -> str:
        """After an error that says the prompt exceeded the model's context window: list fewer
        tried architectures in this searcher's later prompts (and say so in the log line)."""
        if self.health is None or not exceeds_context(exc):
            return ""
        if self.prompt_history != "summary":
            return ("; the prompt exceeded the model's context window (prompt_history='lists' lists a fixed "
                    "number of architectures: a model with a larger window is needed)")
        from .prompts.tried import TRIED_CHARS  # (the prompts import this module)

        budget = self.tried_budget or TRIED_CHARS
        chars = self.health.overflowed(self.tried_listed or budget, budget)
        return f"; the prompt exceeded the model's context window: later prompts list at most {chars} characters of tried architectures"

    def without_llm(self, *, history: History | None = None, rng: np.random.Generator | None = None) -> None:
        """From now on the method's operator proposes (the trust rule's slots for it), from
        ``history`` (the operator's view of the study) and ``rng`` (its own stream) when given;
        :attr:`taken` keeps the whole study's keys."""
        if history is not None:
            self.history = history
        if rng is not None:
            self.rng = rng
        self.llm = None
        self.role_llms = {role: None for role in self.role_llms}
        self.operator_turn, self.trust_turn = True, False

    def _no_llm_reason(self) -> str:
        if self.operator_turn:
            return OPERATOR_TURN_REASON
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
