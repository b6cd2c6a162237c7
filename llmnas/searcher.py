"""The host-agnostic driver that host adapters wrap.

A :class:`Searcher` owns one method, the LLM (resolved lazily from a spec), a seeded random
generator, the pipeline counters and a small buffer of proposals: one LLM call yields a
batch, and the host takes one proposal per trial. Hosts pass in their history, what is
running, their validity rules and their knowledge store; the searcher hands back proposals.
It is thread-safe (one lock around proposing, so the threads of a process share one LLM
answer) and picklable.

Example:
    >>> from llmnas import SearchSpace, Categorical, History, InMemoryKnowledge
    >>> from llmnas.methods import SEKI
    >>> searcher = Searcher(SEKI(budget=10), llm=None, seed=0, use_llm=False)
    >>> space = SearchSpace([Categorical("op", ["a", "b", "c"])])
    >>> [p] = searcher.next_proposals(space, History(), [], InMemoryKnowledge())
    >>> p.source, p.source == "fallback"
    (<Source.FALLBACK: 'fallback'>, True)
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

import numpy as np

from .history import History
from .knowledge import KnowledgeStore
from .llm.protocol import LLM, LLMSetupError, llm_deadline
from .methods.base import Method
from .methods.operators import unique_random
from .options import SearchOptions, SearchOptionsKwargs, check_keywords
from .proposals import (
    SCREEN_REASON, Context, HostValidator, LLMHealth, PipelineStats, Proposal, Source, SpaceExhausted,
    TakenKeys, TargetReached,
)
from .operator_view import OperatorView
from .screening import SurrogateScreen
from .space import Config, SearchSpace
from .trust import LLM_SOURCES, MAX_CALLS_PER_PROPOSAL, STAND_INS, TRUSTED_BATCH_FACTOR, SourceTrust, Turn
from .untried import find_untried, repeat_candidate

if TYPE_CHECKING:
    from typing_extensions import Unpack

logger = logging.getLogger(__name__)


class Searcher:
    """Drives one :class:`~llmnas.methods.base.Method` for a host.

    Args:
        method: the search method.
        options: the shared options (:class:`~llmnas.options.SearchOptions`, each documented
            there), or give them as keywords (``Searcher(method, seed=0, use_llm=False)``).
    """

    def __init__(
        self, method: Method, *, options: SearchOptions | None = None, **keywords: Unpack[SearchOptionsKwargs],
    ) -> None:
        if not isinstance(method, Method):
            raise TypeError(f"method must be an llmnas Method, got {type(method).__name__}.")
        if options is not None and keywords:
            raise TypeError("Searcher() takes options= or the options as keywords, not both.")
        check_keywords("Searcher", keywords, set(SearchOptions.names()))
        options = options if options is not None else SearchOptions(**keywords)
        role_llms = {k: v for k, v in (options.role_llms or {}).items() if v is not None}
        unknown = sorted(set(role_llms) - set(method.llm_roles))
        if unknown:
            raise ValueError(f"{method.name} has no LLM role {unknown}; its roles: {list(method.llm_roles) or 'none'}.")
        self.options = options
        self.llm_timeout = options.resolved_llm_timeout
        self.llm_retries = options.llm_retries
        self.llm_request_timeout = options.llm_request_timeout
        llm, seed, task, use_llm = options.llm, options.seed, options.task, options.use_llm
        max_calls_per_proposal, temperature = options.max_calls_per_proposal, options.temperature
        prefetch, prefetch_below, screen = options.prefetch, options.prefetch_below, options.screen
        self.health = LLMHealth()
        self.method = method
        self.llm_spec = llm
        self.seed = None if seed is None else int(seed)
        self.task = task
        self.max_calls_per_proposal = max_calls_per_proposal
        self.temperature = temperature
        self.use_llm = bool(use_llm)
        self.stats = PipelineStats()
        self.rng = np.random.default_rng(seed)
        self.proposals_made = 0
        self._llm: LLM | None = None
        self._llm_unavailable = ""  # why the LLM could not be set up (then the method runs without it)
        self.role_specs: dict[str, LLM | str] = dict(role_llms)
        self._role_llms: dict[str, LLM | None] = {}
        self._past_budget_logged = False
        self._buffer: list[Proposal] = []
        self._lock = threading.RLock()  # one method call at a time (foreground or background)
        self._buffer_lock = threading.Lock()
        self.prefetch = bool(prefetch)
        self.prompt_history = options.prompt_history
        self.prefetch_below = max(1, int(prefetch_below))
        self.prefetched_batches = 0
        self._prefetch_thread: threading.Thread | None = None
        self.trust: SourceTrust | None = (
            SourceTrust(llm_sources=method.llm_arm_sources,
                        trusted_batch_factor=TRUSTED_BATCH_FACTOR if method.llm_calls_per_batch else 1,
                        max_calls_per_proposal=min(MAX_CALLS_PER_PROPOSAL, max_calls_per_proposal))
            if options.trust and self.use_llm and method.llm_arm_sources else None
        )
        self.operator_rng = np.random.default_rng(seed)
        """The operator's own random stream under the trust rule, seeded as ``rng`` is: the
        operator's draws are those of the ``use_llm=False`` ablation, whatever the LLM's turns
        drew (common random numbers, see :mod:`llmnas.operator_view`)."""
        self.operator_view: OperatorView | None = (
            OperatorView(self.trust.llm_sources | STAND_INS) if self.trust is not None else None)
        self.screen: SurrogateScreen | None = (
            screen if isinstance(screen, SurrogateScreen) else SurrogateScreen() if screen else None
        )

    # -- the LLM -----------------------------------------------------------------------------
    @property
    def llm(self) -> LLM | None:
        """The resolved LLM (resolved on first use), or ``None`` when the LLM is off."""
        if not self.use_llm or self._llm_unavailable:
            return None
        if self._llm is None:
            from .llm.resolve import resolve_llm

            try:
                self._llm = resolve_llm(self.llm_spec, seed=self.seed, **self._llm_options())
            except Exception as exc:  # no key, endpoint down, ...: search on without the LLM
                self._llm_unavailable = f"{type(exc).__name__}: {exc}"
                logger.warning(
                    "%s: the LLM could not be set up (%s); proposals come from the method's own "
                    "operators for the rest of this run.", self.method.name, self._llm_unavailable,
                )
                return None
        return self._llm

    def _llm_options(self) -> dict[str, Any]:
        return {"request_timeout": self.llm_request_timeout, "max_retries": self.llm_retries,
                "total_timeout": self.llm_timeout}

    def llm_in_use(self) -> LLM | None:
        """The main LLM once resolved (``None`` before its first use, when off or unavailable);
        resolves nothing."""
        return self._llm if self.use_llm and not self._llm_unavailable else None

    def llm_description(self) -> str:
        """The main LLM in words: its description, ``"off"`` (``use_llm=False``), ``"none"``
        (none could be set up: the reason was logged) or ``"not used yet"``."""
        if not self.use_llm:
            return "off"
        if self._llm_unavailable:
            return "none"
        return self._llm.description if self._llm is not None else "not used yet"

    def role_llm(self, role: str) -> LLM | None:
        """The LLM of a method role: its own when one was given, else :attr:`llm`. A role
        LLM that cannot be set up makes the role use :attr:`llm` (one warning)."""
        if role not in self.role_specs or not self.use_llm:
            return self.llm
        if role not in self._role_llms:
            from .llm.resolve import resolve_llm

            spec = self.role_specs[role]
            try:
                self._role_llms[role] = spec if isinstance(spec, LLM) else resolve_llm(
                    spec, seed=self.seed, **self._llm_options())
                logger.info("%s: the %s uses %s", self.method.name, role, self._role_llms[role].description)
            except Exception as exc:
                self._role_llms[role] = None
                logger.warning("%s: the %s LLM could not be set up (%s: %s); the %s uses the main LLM.",
                               self.method.name, role, type(exc).__name__, exc, role)
        return self._role_llms[role] or self.llm

    # -- what the searcher decides for every host --------------------------------------------
    @property
    def has_stop_rule(self) -> bool:
        """Whether the method's stop rule may ever fire (hosts skip building what it reads)."""
        return self.method.has_stop_rule

    def plan_budget(self, host_budget: int | None = None, where: str = "the host") -> tuple[int | None, str]:
        """The evaluations the method plans with, and where the number came from: the
        ``budget`` option, else ``host_budget`` (what the host knows, e.g. NNI's
        ``max_model_count``), else the method's own default."""
        if self.options.budget is not None:
            return self.options.budget, "the budget argument"
        if host_budget is not None:
            return host_budget, where
        return self.method.budget_hint(), "the method's default (the host's budget is unknown)"

    def untried(
        self, space: SearchSpace, is_taken: Callable[[Config], bool], validator: HostValidator,
        rng: np.random.Generator | None = None,
    ) -> tuple[Config | None, bool]:
        """A configuration the host may evaluate when the method gives none (at random, then by
        enumerating a small space), and whether the space is proven exhausted; see
        :func:`llmnas.untried.find_untried`."""
        return find_untried(space, is_taken, validator, rng if rng is not None else self.rng)

    def repeat_candidate(self, space: SearchSpace, history: History) -> Config:
        """A configuration to evaluate again when nothing new is left: a finished one that
        follows the method's rules, else a random one."""
        return repeat_candidate(space, [o.config for o in history], self.method.problems, self.rng)

    def stop_reason(self, history: History) -> str | None:
        """The method's stop rule on ``history`` (``None``: go on)."""
        if not self.has_stop_rule:
            return None
        try:
            return self.method.stop_reason(history)
        except Exception:  # a broken stop rule must not stop or break the host
            logger.exception("%s: the stop rule failed; the search goes on", self.method.name)
            return None

    # -- proposing ---------------------------------------------------------------------------
    def next_proposals(
        self,
        space: SearchSpace,
        history: History,
        pending: Sequence[Config],
        knowledge: KnowledgeStore,
        n: int = 1,
        *,
        host_validator: HostValidator | None = None,
        budget: int | None = None,
    ) -> list[Proposal]:
        """``n`` proposals for the host (fewer only when the space is exhausted: then
        :class:`SpaceExhausted` is raised if there are none at all). With ``prefetch`` on,
        proposals already buffered are served without waiting for a running LLM call, and
        the next batch is asked for in the background once the buffer runs low."""
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}.")
        if len(space) == 0:
            raise ValueError("the search space is empty: there is nothing to search.")
        reason = self.stop_reason(history)
        if reason:
            raise TargetReached(f"{self.method.name}: {reason}")
        host_validator = self.with_method_rules(host_validator)
        taken = TakenKeys(history.keys(space), (space.key(c) for c in pending))  # O(pending), not O(history)
        served = self._take(space, taken, n, partial=False)
        if served is None:
            with self._lock:  # also waits for a background batch being proposed
                served = self._take(space, taken, n, partial=False)
                if served is None:
                    self._propose_into_buffer(space, history, pending, knowledge, n, host_validator, budget)
                    served = self._take(space, taken, n, partial=True)
        if not served:
            raise SpaceExhausted(
                f"{self.method.name}: no new valid configuration is left in the search space "
                f"({space.size():g} configurations; tried, running or rejected by the host)."
            )
        if self.prefetch:
            self._maybe_prefetch(space, history, list(pending) + [p.config for p in served], knowledge,
                                 host_validator, budget)
        return served

    def _take(self, space: SearchSpace, taken: TakenKeys, n: int, *, partial: bool) -> list[Proposal] | None:
        """Up to ``n`` buffered proposals not taken meanwhile; ``None`` when fewer than ``n``
        are buffered and ``partial`` is off."""
        with self._buffer_lock:
            fresh = [p for p in self._buffer if space.key(p.config) not in taken and not space.validate(p.config)]
            dropped = len(self._buffer) - len(fresh)
            if dropped:
                logger.debug("%s: dropped %d buffered proposals now taken elsewhere", self.method.name, dropped)
            self._buffer = fresh
            if len(fresh) < n and not partial:
                return None
            served, self._buffer = fresh[:n], fresh[n:]
            return served

    def _propose_into_buffer(
        self, space: SearchSpace, history: History, pending: Sequence[Config], knowledge: KnowledgeStore,
        n: int, host_validator: HostValidator | None, budget: int | None,
    ) -> None:
        """One call of the method (under ``_lock``), its proposals appended to the buffer."""
        with self._buffer_lock:
            buffered = [p.config for p in self._buffer]
        want = max(n - len(buffered), self.method.batch_size)
        if budget is not None:  # proposals past the budget would cost LLM calls for nothing
            left = budget - len(history) - len(pending) - len(buffered)
            if left > 0:
                want = max(n - len(buffered), min(want, left))
            else:  # the host runs past the plan: keep asking in batches, plan unknown
                budget = None
                if not self._past_budget_logged:
                    self._past_budget_logged = True
                    logger.warning(
                        "%s: the study runs past the planned budget; pass budget= to match "
                        "the number of trials (the method's stages are planned from it).",
                        self.method.name,
                    )
        turn = self._turn(history, want, budget, len(pending) + len(buffered), knowledge)
        if turn is not None:
            want = turn.n
        calls_llm = turn is None or turn.calls_llm
        # The main LLM is set up only if some call uses it (a role without its own LLM).
        roles_covered = bool(self.method.llm_roles) and set(self.method.llm_roles) <= set(self.role_specs)
        llm = None if (roles_covered and self.use_llm) or not calls_llm else self.llm
        ctx = Context(
            space=space, history=history, knowledge=knowledge, llm=llm, rng=self.rng,
            pending=list(pending) + buffered, budget=budget,
            task=self.task, host_validator=host_validator, stats=self.stats,
            max_calls_per_proposal=self.max_calls_per_proposal,
            proposals_so_far=self.proposals_made, temperature=self.temperature,
            method_name=self.method.name, llm_unavailable=self._llm_unavailable,
            role_llms={role: self.role_llm(role) if calls_llm else None for role in self.method.llm_roles},
            health=self.health, prompt_history=self.prompt_history, operator_turn=not calls_llm, trust_turn=turn is not None and turn.calls_llm,
            llm_arm_sources=self.trust.llm_sources if self.trust is not None else LLM_SOURCES,
        )
        try:
            with llm_deadline(self.llm_timeout):
                if turn is None:
                    new = self.method.propose(ctx, want)
                else:
                    new = self._propose_turn(ctx, turn)
        except LLMSetupError:  # the named LLM cannot be used at all: the user must know
            raise
        except Exception:  # a method bug must not cost the host a trial
            logger.exception("%s: proposing failed; using the method's own operator", self.method.name)
            new = self._fallback(ctx, want, "the method raised an error")
        if not new and not ctx.exhausted():
            new = self._fallback(ctx, want, "host rejected the operator's configurations", tries=20)
        if self.screen is not None and new and self.screen.ready(history):
            if turn is not None and turn.llm_trusted:  # the LLM's answers pass; the operator's compete
                passed = [p for p in new if self.trust is not None and self.trust.arm_of(p.source) == "llm"]
                rest = [p for p in new if all(p is not q for q in passed)]
                new = passed + (self._screened(ctx, rest) if rest else [])
            else:
                new = self._screened(ctx, new)
        ctx.commit()  # the batch is final: its proposals are counted once, as what they are
        self.proposals_made = ctx.proposals_so_far
        with self._buffer_lock:
            self._buffer.extend(new)

    def _turn(self, history: History, want: int, budget: int | None, waiting: int,
              knowledge: KnowledgeStore | None = None) -> Turn | None:
        """The trust rule's share of the next batch of ``want`` slots (``None`` when the rule is
        off, the LLM cannot be used, or the study has several objectives: the batch is the
        method's as in its paper). A larger batch for a trusted LLM stays within the budget.
        The study's ``knowledge`` holds the rule's record beyond the trials (empty calls, the
        LLM's calls for the calls budget, counted against the study's trials)."""
        if self.trust is None or self._llm_unavailable or history.multi_objective:
            return None
        turn = self.trust.allocate(history, seed=self.seed, n=want, knowledge=knowledge,
                                   calls=(self.stats["llm_calls"], max(self.proposals_made, len(history) + waiting)),
                                   limit=None if budget is None else budget - len(history) - waiting)
        self.stats.add("trust_llm_slots", turn.llm_slots)
        self.stats.add("trust_operator_slots", turn.operator_slots)
        logger.info("%s: trust: %d slots to the LLM, %d to the operator (%s; reward sums: LLM %s, operator %s)",
                    self.method.name, turn.llm_slots, turn.operator_slots, turn.reason, turn.llm, turn.own)
        return turn

    def _propose_turn(self, ctx: Context, turn: Turn) -> list[Proposal]:
        """The method's proposals for ``turn``: its LLM slots as the method makes them, then the
        operator's whole batch (:attr:`Turn.operator_slots`; a batch all the LLM's that brought
        fewer is filled up) with the LLM off, from the operator's view of the study and its own
        random stream (:mod:`llmnas.operator_view`; the study's keys stay taken), so that the
        operator makes the batches it makes with ``use_llm=False``. An LLM part that brought no LLM answer (nonsense, a timeout) counts
        against the LLM, a loss per call it made (:meth:`SourceTrust.count_empty_call`, in the study's knowledge);
        what the method made in the LLM's slots that is not the LLM's is a stand-in
        (:meth:`Context.accept`), which neither the rule nor the operator's view counts."""
        assert self.trust is not None and self.operator_view is not None
        new: list[Proposal] = []
        own = turn.operator_slots
        if turn.calls_llm:
            calls = self.stats["llm_calls"]
            new = self.method.propose(ctx, turn.llm_slots)
            self.trust.count_calls(self.stats["llm_calls"] - calls, ctx.knowledge)
            if any(self.trust.arm_of(p.source) == "llm" for p in new):
                self.trust.begin(ctx.knowledge)
            elif self.stats["llm_calls"] > calls:
                self.trust.count_empty_call(ctx.knowledge, calls=self.stats["llm_calls"] - calls)
            ctx.trust_turn = False  # the LLM's slots are done: what follows is not a stand-in
        own = max(own, turn.n - len(new))
        if own > 0 and not ctx.exhausted():
            view = self.operator_view.update(ctx.history, include_llm=turn.llm_proven)
            ctx.without_llm(history=view, rng=self.operator_rng)
            new += self.method.propose(ctx, own)
        return new

    def _maybe_prefetch(
        self, space: SearchSpace, history: History, pending: list[Config], knowledge: KnowledgeStore,
        host_validator: HostValidator | None, budget: int | None,
    ) -> None:
        """Start proposing the next batch in the background when the buffer runs low (fewer
        than ``prefetch_below`` left), unless a batch is on its way or the budget is spent."""
        with self._buffer_lock:
            buffered = len(self._buffer)
        running = self._prefetch_thread is not None and self._prefetch_thread.is_alive()
        if buffered >= self.prefetch_below or running or (
                budget is not None and len(history) + len(pending) + buffered >= budget):
            return

        def work() -> None:
            try:
                with self._lock:
                    self._propose_into_buffer(space, history, pending, knowledge, 1, host_validator, budget)
                    self.prefetched_batches += 1
            except LLMSetupError as exc:  # the foreground call meets it again and raises it
                logger.warning("%s: proposing ahead failed: %s", self.method.name, exc)
            except Exception:  # the next caller proposes in the foreground instead
                logger.exception("%s: proposing ahead failed", self.method.name)

        self._prefetch_thread = threading.Thread(target=work, name=f"{self.method.name}-prefetch", daemon=True)
        self._prefetch_thread.start()

    def wait_for_prefetch(self, timeout: float | None = None) -> None:
        """Wait until a batch being proposed in the background is buffered."""
        thread = self._prefetch_thread
        if thread is not None:
            thread.join(timeout)

    def with_method_rules(self, host_validator: HostValidator | None) -> HostValidator | None:
        """The host's rules followed by the method's own (:meth:`Method.problems`, e.g. a
        resource limit): hosts use it for any configuration they pick themselves too."""
        if type(self.method).problems is Method.problems or getattr(host_validator, "with_method_rules", False):
            return host_validator  # nothing to add, or added already

        def validate(config: Config) -> list[str]:
            problems = list(host_validator(config)) if host_validator is not None else []
            return problems or list(self.method.problems(config))

        validate.with_method_rules = True  # type: ignore[attr-defined]
        return validate

    def _fallback(self, ctx: Context, n: int, reason: str, tries: int = 1) -> list[Proposal]:
        """New valid configurations from the method's operator, then random ones checked one
        by one against the host's rules (a constrained space may reject most of them)."""
        out: list[Proposal] = []
        for config in self.method.fallback(ctx, n, ctx.taken)[:n]:
            if ctx.is_new(config) and not ctx.problems(config):
                out.append(ctx.accept(Proposal(config, Source.FALLBACK, reason)))
        budget = tries * 100 * max(1, n)
        while len(out) < n and budget > 0 and not ctx.exhausted():
            budget -= 1
            config = ctx.space.sample(ctx.rng)
            if ctx.is_new(config) and not ctx.problems(config):
                out.append(ctx.accept(Proposal(config, Source.FALLBACK, reason)))
        ctx.end_batch()
        return out

    def _screened(self, ctx: Context, proposals: list[Proposal]) -> list[Proposal]:
        """``proposals`` and many more candidates of the method's operator, ranked by the
        surrogate screen: the best ``len(proposals)`` of them. The dropped ones are withdrawn
        from the context's booking and the chosen candidates accepted, so :meth:`Context.commit`
        counts what is served as what it is (LLM answers or operator proposals).
        ``screened_out`` counts every proposal the screen dropped, ``screened_out_llm`` those
        that were LLM answers."""
        assert self.screen is not None
        n = len(proposals)
        extra: list[Config] = []
        seen = {ctx.space.key(p.config) for p in proposals}
        try:
            made = self.method.fallback(ctx, self.screen.candidates_per_proposal * n, ctx.taken)
            if self.screen.random_per_proposal:
                made += unique_random(ctx.space, ctx.rng, self.screen.random_per_proposal * n, ctx.taken)
            for config in made:
                key = ctx.space.key(config)
                if key not in seen and ctx.is_new(config) and not ctx.problems(config):
                    seen.add(key)
                    extra.append(config)
            pool = [p.config for p in proposals] + extra
            picked = {ctx.space.key(c) for c in self.screen.rank(ctx.space, ctx.history, pool, n)}
        except Exception:  # a screen that fails must not cost the batch
            logger.exception("%s: the surrogate screen failed; the batch is evaluated unscreened", self.method.name)
            return proposals
        ctx.stats.add("screened_candidates", len(pool))
        kept = [p for p in proposals if ctx.space.key(p.config) in picked]
        booked = {id(p) for p in ctx.accepted}
        for p in proposals:
            if ctx.space.key(p.config) in picked:
                continue
            ctx.stats.add("screened_out")  # whatever made it: LLM, the method's own operator, a fallback
            if p.source in (Source.LLM, Source.LLM_REASK):
                ctx.stats.add("screened_out_llm")
            if id(p) in booked:
                ctx.withdraw(p)  # never counted: commit() counts what is served
        chosen = [ctx.accept(Proposal(c, Source.FALLBACK, SCREEN_REASON)) for c in extra if ctx.space.key(c) in picked]
        ctx.end_batch()
        return kept + chosen

    def forget_buffer(self) -> None:
        """Drop buffered proposals (e.g. when the host's space changed)."""
        with self._lock, self._buffer_lock:
            self._buffer.clear()

    # -- reporting and persistence -----------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        """What the search did: method settings, LLM, call/token usage and pipeline counts."""
        llm = self._llm
        stats = self.stats.as_dict()
        proposals = max(1, self.proposals_made)
        roles = {role: r for role, r in self._role_llms.items() if r is not None}
        description = self.llm_description()
        if roles:
            description = "; ".join([f"{role}: {r.description}" for role, r in roles.items()]
                                    + ([f"others: {llm.description}"] if llm is not None else []))
        usage: dict[str, Any] = {}
        for source in ([llm] if llm is not None else []) + list(roles.values()):
            for key, value in source.usage.as_dict().items():
                usage[key] = usage.get(key, 0) + value if isinstance(value, (int, float)) else value
        return {
            "method": self.method.name,
            "settings": self.method.settings(),
            "llm": description,
            "llm_usage": usage,
            **({"role_llms": {role: {"llm": r.description, "llm_usage": r.usage.as_dict()}
                              for role, r in self._role_llms.items() if r is not None}}
               if self._role_llms else {}),
            "proposals": self.proposals_made,
            "llm_calls_per_proposal": round(stats["llm_calls"] / proposals, 3),
            "fallback_rate": round(stats["fallback_proposals"] / proposals, 3),
            "prefetched_batches": self.prefetched_batches,
            **({"trust": self.trust.summary()} if self.trust is not None else {}),
            "pipeline": stats,
        }

    def summary_line(self, host: str, *, host_fallbacks: int = 0, more: str = "") -> str:
        """:meth:`summary` in one line, as the hosts log it: ``host`` (e.g. ``"sampler: 40 trials
        finished"``), the LLM's calls and tokens, where the proposals came from (``host_fallbacks``:
        configurations the host had to pick itself) and ``more``."""
        s = self.summary()
        usage, pipe = s["llm_usage"], s["pipeline"]
        tokens = int(usage.get("prompt_tokens", 0)) + int(usage.get("completion_tokens", 0))
        return (
            f"{s['method']} {host}; LLM {s['llm']}: {pipe['llm_calls']} calls ({pipe['llm_errors']} failed), "
            f"{tokens} tokens; proposals: {pipe['accepted_llm'] + pipe['accepted_reask']} from the LLM, "
            f"{pipe['fallback_proposals'] + host_fallbacks} from fallbacks"
            + (f" ({pipe['stand_in_proposals']} stand-ins in the LLM's slots)" if pipe["stand_in_proposals"] else "")
            + (f" {pipe['fallback_reasons']}" if pipe["fallback_reasons"] and not host_fallbacks else "")
            + (f"; {self.trust.describe()}" if self.trust is not None and self.trust.last is not None else "")
            + (f"; {more}" if more else "")
        )

    def state_dict(self, space: SearchSpace | None = None) -> dict[str, Any]:
        with self._lock:
            return {
                "rng": self.rng.bit_generator.state,
                "operator_rng": self.operator_rng.bit_generator.state,
                "stats": self.stats.as_dict(),
                "proposals_made": self.proposals_made,
                "buffer": [
                    {"config": space.encode(p.config) if space else p.config, "source": str(p.source),
                     "reason": p.reason,
                     "rationale": p.rationale}
                    for p in self._buffer
                ],
                **({"trust": self.trust.state_dict()} if self.trust is not None else {}),
            }

    def load_state_dict(self, state: Mapping[str, Any], space: SearchSpace | None = None) -> None:
        with self._lock:
            self.rng.bit_generator.state = state["rng"]
            if "operator_rng" in state:  # (states saved before it had one: its stream starts again)
                self.operator_rng.bit_generator.state = state["operator_rng"]
            self.stats.load(state.get("stats", {}))
            self.proposals_made = int(state.get("proposals_made", 0))
            if self.trust is not None and isinstance(state.get("trust"), Mapping):
                self.trust.load_state_dict(state["trust"])
            self._buffer = []
            for item in state.get("buffer", []):
                config = item["config"]
                if space is not None:
                    config, errors = space.decode(config)
                    if errors:
                        continue
                self._buffer.append(Proposal(config, item.get("source", "llm"), item.get("reason", ""),
                                             item.get("rationale", "")))

    def __getstate__(self) -> dict[str, Any]:
        self.wait_for_prefetch()
        state = self.__dict__.copy()
        for name in ("_lock", "_buffer_lock", "_prefetch_thread"):
            state.pop(name, None)
        if self.operator_view is not None:  # a copy of the study: built again from it on the next batch
            state["operator_view"] = OperatorView(self.operator_view.llm_sources, self.operator_view.admit_fraction)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.RLock()
        self._buffer_lock = threading.Lock()
        self._prefetch_thread = None

