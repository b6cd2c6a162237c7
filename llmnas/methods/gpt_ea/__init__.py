"""GPT-EA (GPT-NAS): a generative prior inside an evolutionary algorithm (arXiv 2305.05351).

A genetic algorithm over the space's dimensions breeds offspring (tournament selection,
uniform crossover, mutation). Then **reconstruction**: in each offspring every dimension is
erased with probability ``rate_t = rate_0 · (1 − t/T)`` and a generative *prior* refills the
erased dimensions given the kept ones and the best architectures so far. Early generations
lean on the prior, late ones on the GA.

The prior is pluggable (:class:`Prior`; the priors live in :mod:`.priors` and :mod:`.transformer`):

- :class:`LLMPrior` (default): one LLM call per batch of offspring; the answer's schema holds
  only each offspring's erased dimensions, so the LLM cannot change a kept one.
- :class:`TransformerPrior`: a small Transformer trained on a corpus of good architectures
  (masked-dimension prediction), like the paper's GPT pre-trained on good NAS-Bench-101 cells.
  Needs torch (imported only when it is fitted); no LLM at all.

The generation is a function of the history (``t = evaluated // population``; generation 0
also waits for the operator's random population when the LLM seeded part of it,
:meth:`GPTEA.generation`), so workers agree on it without talking; the method keeps no
per-process state.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any, Mapping

from ...history import Observation
from ...proposals import Context, Proposal, Source
from ...space import Config
from ...trust import LLM_SOURCES
from ..base import Method
from ..operators import mutate, mutate_or_random, tournament, uniform_crossover, unique_random
from .priors import LLMPrior, Prior, make_prior
from .transformer import CorpusPrior, TransformerPrior, _one_thread  # noqa: F401 (_one_thread: older imports)

__all__ = ["GPTEA", "CorpusPrior", "LLMPrior", "Offspring", "Prior", "TransformerPrior", "make_prior", "mask_rate",
           "population_for"]

logger = logging.getLogger(__name__)

_PRIOR_RETRIES = 3
"""Further completions asked of a cheap prior when its first one duplicates a tried one."""

_REBREED_TRIES = 10
"""Times a GA child with nothing erased that was already tried is bred again."""

_REFILL_TRIES = 30
"""Random refills of an offspring's erased dimensions tried before another fallback."""


def mask_rate(t: int, *, rate0: float = 0.4, generations: int = 20) -> float:
    """The reconstruction rate of generation ``t``: ``rate0 · (1 − t/T)``, 0 from ``T`` on.

    >>> mask_rate(0), mask_rate(10), mask_rate(20), mask_rate(25)
    (0.4, 0.2, 0.0, 0.0)
    """
    if generations < 1:
        raise ValueError(f"generations must be >= 1, got {generations}.")
    return float(rate0 * max(0.0, 1.0 - t / generations))


@dataclass(frozen=True)
class Offspring:
    """A GA child and the dimensions reconstruction erased from it (to be refilled)."""

    config: Config
    masked: tuple[str, ...]

    @property
    def partial(self) -> Config:
        """The kept dimensions only."""
        return {k: v for k, v in self.config.items() if k not in self.masked}



PAPER_POPULATION = 30
PAPER_GENERATIONS = 20
MIN_POPULATION = 10


def population_for(budget: int) -> int:
    """GPT-EA's population for a budget of ``budget`` evaluations [ours]: the paper's 20
    generations (``budget // 20``), at least 10 and at most the paper's 30, and small enough
    for three generations (at least 4).

    The paper runs 30 × 20 = 600 evaluations. At 100 evaluations a population of 30 or 33
    spends a third of the budget on random architectures and leaves two generations: over 32
    seeds on NAS-Bench-201 CIFAR-100 that ablation ended 0.75 points of test accuracy behind
    TPE, a population of 10 (ten generations) 0.29 ahead.

    >>> [population_for(b) for b in (9, 30, 100, 200, 400, 600, 2000)]
    [4, 10, 10, 10, 20, 30, 30]
    """
    return max(4, min(budget // 3, PAPER_POPULATION, max(MIN_POPULATION, budget // PAPER_GENERATIONS)))


class GPTEA(Method):
    """GPT-EA as a host-agnostic method.

    Generation 0 is ``population`` random architectures [ours: the paper's GA starts from a
    random population; LLM calls are kept for reconstruction] (with the trust rule, plus the
    architectures the LLM seeded: :meth:`generation`). From then on, generation
    ``t = evaluated // population`` (finished trials, failed ones included, so workers agree)
    breeds offspring from the best ``population`` architectures so far (elitist, μ+λ [ours]):
    two parents by tournament, uniform crossover with probability ``crossover_rate``, then with
    probability ``mutation_rate`` one dimension changed. Reconstruction erases each dimension
    with probability ``mask_rate(t)`` and the prior refills the batch's erased dimensions in one
    go. A child with nothing erased that was already tried is bred again (up to 10 times).
    Kept dimensions always come from the GA; an erased one the prior leaves invalid, or a
    completion that duplicates a tried or running architecture, is refilled at random (a
    counted fallback); a duplicate with nothing erased is mutated again (counted too).

    Example:
        >>> from llmnas import Categorical, History, InMemoryKnowledge, Observation, SearchSpace, Searcher
        >>> space = SearchSpace([Categorical(f"e{i}", ["a", "b", "c"]) for i in range(4)])
        >>> searcher = Searcher(GPTEA(population=6, generations=5), seed=0, use_llm=False)
        >>> history = History()
        >>> for i in range(18):
        ...     [p] = searcher.next_proposals(space, history, [], InMemoryKnowledge())
        ...     history.add(Observation(p.config, (sum(v == "c" for v in p.config.values()),)))
        >>> len({space.key(o.config) for o in history})
        18
        >>> GPTEA().mask_rate(10)
        0.2

    Args:
        population: GA population size. 30 [paper]. ``None``: 30, or with the host's budget
            :func:`population_for` it: ``budget // 20`` (the paper's 20 generations), between
            10 and 30, at most ``budget // 3`` (the paper's 30 × 20 is 600 evaluations) [ours].
        generations: T, the generations over which the mask rate decays to 0. 20 [paper]. A
            host that passes its budget sets ``T = ceil(budget / population)`` instead [ours].
        crossover_rate: probability that an offspring comes from crossover. 0.9 [paper].
        mutation_rate: probability that an offspring is mutated. 0.3 [paper]; the mutation
            changes one dimension [ours; the paper mutates layers of a block encoding].
        rate0: reconstruction rate of generation 0, decaying linearly. 0.4 [paper].
        tournament_size: tournament selection size. 3 [ours; the paper does not say].
        prior: the generative prior; default :class:`LLMPrior` [ours, per the card].
        batch_size: offspring bred (and refilled in one prior call) per batch. 5 [ours]; ≥ 2
            keeps LLM calls ≤ 0.5 per proposal.
    """

    name = "GPT-EA"

    def __init__(
        self,
        *,
        population: int | None = None,
        generations: int = 20,
        crossover_rate: float = 0.9,
        mutation_rate: float = 0.3,
        rate0: float = 0.4,
        tournament_size: int = 3,
        prior: Prior | None = None,
        batch_size: int = 5,
    ) -> None:
        for name, value in (("population", 30 if population is None else population), ("generations", generations),
                            ("tournament_size", tournament_size), ("batch_size", batch_size)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"{name} must be an integer, got {value!r}.")
        if population is not None and population < 2:
            raise ValueError(f"population must be >= 2, got {population}.")
        if generations < 1:
            raise ValueError(f"generations must be >= 1, got {generations}.")
        if tournament_size < 1:
            raise ValueError(f"tournament_size must be >= 1, got {tournament_size}.")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}.")
        for name, value in (("crossover_rate", crossover_rate), ("mutation_rate", mutation_rate),
                            ("rate0", rate0)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be a probability in [0, 1], got {value!r}.")
        if prior is not None and not isinstance(prior, Prior):
            raise ValueError(f"prior must be a gpt_ea.Prior (LLMPrior, TransformerPrior), got {type(prior).__name__}.")
        self.population = population
        self.generations = generations
        self.crossover_rate = float(crossover_rate)
        self.mutation_rate = float(mutation_rate)
        self.rate0 = float(rate0)
        self.tournament_size = tournament_size
        self.prior = prior if prior is not None else LLMPrior()
        self.batch_size = batch_size
        self._auto_population: int | None = None
        self._unmodelled_logged: tuple[str, ...] = ()

    # -- plan ----------------------------------------------------------------------------------
    def budget_hint(self) -> int:
        return (self.population or PAPER_POPULATION) * self.generations

    def settings(self) -> dict[str, Any]:
        return {
            "population": self.population if self.population is not None else "auto",
            "generations": self.generations,
            "crossover_rate": self.crossover_rate,
            "mutation_rate": self.mutation_rate,
            "rate0": self.rate0,
            "tournament_size": self.tournament_size,
            "batch_size": self.batch_size,
            **self.prior.settings(),
        }

    @property
    def llm_arm_sources(self) -> frozenset[str]:  # type: ignore[override]
        """The LLM's arm for the trust rule: the LLM prior's completions; none with a non-LLM
        prior (e.g. the Transformer), which asks no LLM: the rule is then off and the prior's
        completions are the method's own, as in the paper."""
        return Method.llm_arm_sources if isinstance(self.prior, LLMPrior) else frozenset()

    def generation(self, ctx: Context) -> int:
        """t = evaluated // population, where generation 0 is the initial population: it lasts
        until the study holds ``population`` architectures that are not the LLM's (the
        operator's random ones; the host's) or twice the population in all [ours].

        Without the trust rule, or with the LLM off, no LLM answer comes before generation 1,
        so generation 0 is the first ``population`` trials, as in the paper. With the rule, the
        LLM's first batch seeds generation 0 (:meth:`_seeded`) *in addition to* the
        operator's random population: an LLM whose seeds are bad then costs its few slots,
        not half of the population the GA breeds from (measured in
        ``results/llm-quality/gpt-ea-48-seeds``). The cap keeps a trusted LLM's seeding from
        postponing the GA. ``t`` counts evaluations, so the mask rate stays where the budget
        spent says: after a long generation 0 the next is generation 2 (or later)."""
        population = self.population_size(ctx)
        evaluated = len(ctx.history)
        if evaluated < 2 * population:
            stats = ctx.history.source_stats()
            from_llm = sum(stats[s].trials for s in LLM_SOURCES if s in stats)
            if evaluated - from_llm < population:
                return 0
        return evaluated // population

    def population_size(self, ctx: Context | None = None) -> int:
        """The population: as given, else 30, or :func:`population_for` the host's budget.
        Once chosen from a budget it stays (a study running past its budget, when the host
        stops passing one, keeps evolving the same population)."""
        if self.population is not None:
            return self.population
        if ctx is not None and ctx.budget is not None:
            self._auto_population = population_for(ctx.budget)
        return self._auto_population or PAPER_POPULATION

    def total_generations(self, ctx: Context | None = None) -> int:
        """T: ``generations``, or ``ceil(budget / population)`` when the host gives a budget."""
        if ctx is not None and ctx.budget is not None:
            return max(1, math.ceil(ctx.budget / self.population_size(ctx)))
        if self.population is None and self._auto_population is not None:  # past the budget: T is over
            return max(1, self.generation(ctx) if ctx is not None else self.generations)
        return self.generations

    def mask_rate(self, t: int, ctx: Context | None = None) -> float:
        """rate_t = rate0 · (1 − t/T)."""
        return mask_rate(t, rate0=self.rate0, generations=self.total_generations(ctx))

    # -- proposing -----------------------------------------------------------------------------
    def propose(self, ctx: Context, n: int) -> list[Proposal]:
        t = self.generation(ctx)
        if t == 0 or not ctx.history.n_usable:
            seeded = self._seeded(ctx, n) if ctx.trust_turn and isinstance(self.prior, LLMPrior) else None
            if seeded is not None:
                return seeded
            configs = unique_random(ctx.space, ctx.rng, n, ctx.taken)
            out = []
            for config in configs:
                if not ctx.problems(config):
                    out.append(ctx.accept(Proposal(config, Source.INIT)))
            if len(out) < n:  # the host rejected some: let the operator look further
                for config in mutate_or_random(ctx.space, ctx.history, ctx.rng, 20 * (n - len(out)), ctx.taken):
                    if len(out) >= n:
                        break
                    if ctx.is_new(config) and not ctx.problems(config):
                        out.append(ctx.accept(Proposal(config, Source.INIT)))
            ctx.end_batch()
            logger.info("%s generation 0: %d random architectures", self.name, len(out))
            return out
        return self._evolve(ctx, n, t)

    def offspring(self, ctx: Context, n: int) -> list[Offspring]:
        """``n`` GA children of the current population, each with its erased dimensions."""
        out = self._breed(ctx, n, *self._parents(ctx))
        self._log_unmodelled(ctx)
        return out

    def _parents(self, ctx: Context) -> tuple[list[Observation], float]:
        """The population to breed from and the mask rate: the same for a whole batch (the
        history does not change while the method proposes), so worked out once per batch."""
        rate = self.mask_rate(self.generation(ctx), ctx)
        return ctx.history.top(self.population_size(ctx)), rate

    def _breed(self, ctx: Context, n: int, pool: list[Observation], rate: float) -> list[Offspring]:
        erasable = [d.name for d in ctx.space if d.size() > 1 and self.prior.models(d)]
        out = []
        for _ in range(n):
            first = tournament(ctx.history, ctx.rng, self.tournament_size, pool)
            assert first is not None
            child = dict(first.config)
            if ctx.rng.random() < self.crossover_rate:
                second = tournament(ctx.history, ctx.rng, self.tournament_size, pool)
                assert second is not None
                child = uniform_crossover(ctx.space, first.config, second.config, ctx.rng)
            else:
                child = {d.name: child[d.name] if d.name in child else d.sample(ctx.rng) for d in ctx.space}
            if ctx.rng.random() < self.mutation_rate:
                child = mutate(ctx.space, child, ctx.rng, n_dims=1)
            masked = tuple(name for name in erasable if ctx.rng.random() < rate)
            out.append(Offspring(child, masked))
        return out

    def _log_unmodelled(self, ctx: Context) -> None:
        """Say once which dimensions the prior cannot refill (they are never erased)."""
        unmodelled = tuple(d.name for d in ctx.space if d.size() > 1 and not self.prior.models(d))
        if not unmodelled or unmodelled == getattr(self, "_unmodelled_logged", ()):
            return
        self._unmodelled_logged = unmodelled
        if len(unmodelled) == sum(d.size() > 1 for d in ctx.space):
            logger.warning("%s: the %s prior cannot refill any dimension of this space (%s); GPT-EA runs as "
                           "a plain GA (crossover and mutation).", self.name, self.prior.name, ", ".join(unmodelled))
        else:
            logger.info("%s: the %s prior does not model %s; these dimensions evolve by crossover and "
                        "mutation alone.", self.name, self.prior.name, ", ".join(unmodelled))

    def _seeded(self, ctx: Context, n: int) -> list[Proposal] | None:
        """Generation 0 written by the LLM [ours]: when the trust rule (:mod:`llmnas.trust`)
        gives the LLM slots of the initial population, each slot is a child with every
        dimension erased, completed by the LLM prior (random values where it fails), so an LLM
        that knows good architectures seeds the population; the operator's slots stay random.
        ``None`` when the prior models no dimension of the space."""
        erasable = tuple(d.name for d in ctx.space if d.size() > 1 and self.prior.models(d))
        if not erasable:
            return None
        children = [Offspring(config, erasable) for config in unique_random(ctx.space, ctx.rng, n, ctx.taken)]
        return self._completed(ctx, children, n, 0)

    def _evolve(self, ctx: Context, n: int, t: int) -> list[Proposal]:
        parents = self._parents(ctx)
        children = self._breed(ctx, n, *parents)
        self._log_unmodelled(ctx)
        for i, child in enumerate(children):  # a GA child already tried is bred again [ours]
            for _ in range(_REBREED_TRIES):
                if child.masked or (ctx.is_new(child.config) and not ctx.problems(child.config)):
                    break
                child = self._breed(ctx, 1, *parents)[0]
            children[i] = child
        return self._completed(ctx, children, n, t)

    def _completed(self, ctx: Context, children: list[Offspring], n: int, t: int) -> list[Proposal]:
        """``children`` with their erased dimensions filled by the prior, as proposals (the
        method's operator where a child leads nowhere new)."""
        to_fill = [i for i, c in enumerate(children) if c.masked]
        fills: dict[int, Mapping[str, Any] | None] = {}
        if to_fill:
            try:
                answers = self.prior.fill(
                    ctx, [children[i].partial for i in to_fill], [list(children[i].masked) for i in to_fill],
                    upcoming=n,
                )
            except Exception as exc:  # a user's prior must not cost a trial
                logger.warning("%s: the %s prior raised %s: %s", self.name, self.prior.name, type(exc).__name__, exc)
                answers = []
            answers = list(answers)[: len(to_fill)] + [None] * max(0, len(to_fill) - len(answers))
            fills = dict(zip(to_fill, answers))
            if isinstance(self.prior, LLMPrior):
                ctx.stats.add("llm_items", sum(a is not None for a in answers))
        out: list[Proposal] = []
        from_prior = 0
        for i, child in enumerate(children):
            proposal = self._complete(ctx, child, fills.get(i))
            if proposal is not None:
                out.append(proposal)
                from_prior += proposal.source == self.prior.source
        if len(out) < n:  # a fully explored neighbourhood: the method's own operator
            more = mutate_or_random(ctx.space, ctx.history, ctx.rng, n - len(out), ctx.taken)
            for config in more:
                if ctx.is_new(config) and not ctx.problems(config):
                    out.append(ctx.accept(Proposal(config, Source.FALLBACK, "duplicate offspring")))
        ctx.stats.add("batches")
        ctx.end_batch()
        logger.info(
            "%s generation %d (mask rate %.2f): %d offspring, %d with erased dimensions, %d completed by the %s prior",
            self.name, t, self.mask_rate(t, ctx), len(out), len(to_fill), from_prior, self.prior.name,
        )
        return out

    def _ask_one(self, ctx: Context, child: Offspring) -> Config | None:
        """One more completion of ``child``'s erased dimensions from a cheap prior (decoded and
        valid per dimension), or ``None``."""
        try:
            [fill] = self.prior.fill(ctx, [child.partial], [list(child.masked)], upcoming=1)
        except Exception:  # a user's prior must not cost a trial
            return None
        if not isinstance(fill, Mapping):
            return None
        values: Config = {}
        for name in child.masked:
            dim = ctx.space[name]
            try:
                value = dim.decode(fill[name])
            except (KeyError, ValueError):
                return None
            if dim.errors(value):
                return None
            values[name] = value
        return values

    def _complete(self, ctx: Context, child: Offspring, fill: Mapping[str, Any] | None) -> Proposal | None:
        """The offspring with its erased dimensions refilled: from the prior when its values are
        valid and the result is new, else at random (counted); ``None`` when nothing new."""
        space = ctx.space
        llm = isinstance(self.prior, LLMPrior)
        if child.masked:
            config = dict(child.config)
            complete = isinstance(fill, Mapping)
            for name in child.masked:
                dim = space[name]
                try:
                    value = dim.decode(fill[name]) if isinstance(fill, Mapping) and name in fill else None
                except ValueError:
                    value = None
                if value is None or dim.errors(value):
                    complete = False
                    config[name] = dim.sample(ctx.rng)
                else:
                    config[name] = value
            if complete and self.prior.cheap and (ctx.problems(config) or not ctx.is_new(config)):
                for _ in range(_PRIOR_RETRIES):  # ask the cheap prior again before going random
                    again = self._ask_one(ctx, child)
                    if again is None:
                        break
                    candidate = {**child.config, **again}
                    if ctx.is_new(candidate) and not ctx.problems(candidate):
                        config = candidate
                        break
            if complete:
                if ctx.problems(config):
                    if llm:
                        ctx.stats.add("invalid")
                    reason = f"{self.prior.name} prior completion invalid"
                elif not ctx.is_new(config):
                    if llm:
                        ctx.stats.add("duplicates")
                    reason = f"{self.prior.name} prior completion already tried"
                else:  # commit() counts an LLM prior's completion as an accepted LLM answer
                    return ctx.accept(Proposal(config, self.prior.source))
            else:
                if fill is not None and llm:
                    ctx.stats.add("invalid")
                reason = (f"{self.prior.name} prior left erased dimensions invalid or unfilled" if fill is not None
                          else self.prior.miss_reason(ctx))
            # Random values for the erased dimensions (kept dimensions stay the GA's).
            for attempt in range(_REFILL_TRIES):
                if attempt:
                    config = {**child.config, **{name: space[name].sample(ctx.rng) for name in child.masked}}
                if ctx.is_new(config) and not ctx.problems(config):
                    return ctx.accept(Proposal(config, Source.FALLBACK, reason))
        else:
            config = child.config
            if ctx.is_new(config) and not ctx.problems(config):
                return ctx.accept(Proposal(config, Source.GA))
            reason = "duplicate GA offspring"
        # Still nothing new: mutate the child further (more dimensions as tries grow).
        for attempt in range(_REFILL_TRIES):
            config = mutate(space, child.config, ctx.rng, n_dims=1 + attempt // 5)
            if ctx.is_new(config) and not ctx.problems(config):
                return ctx.accept(Proposal(config, Source.FALLBACK, reason))
        return None
