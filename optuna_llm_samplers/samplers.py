"""The method-specific samplers: each picks one core method; :class:`LLMSampler` does the rest."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Literal, Mapping, Sequence

import optuna

from llmnas.methods.collm_nas import CoLLMNAS, ResourceLimit
from llmnas.methods.gpt_ea import GPTEA, Prior, make_prior
from llmnas.methods.lapt import LAPT
from llmnas.methods.seki import SEKI
from llmnas.screening import SurrogateScreen

from ._knowledge import StudyKnowledge
from ._sampler import LLMSampler, study_history

if TYPE_CHECKING:
    from optuna.distributions import BaseDistribution
    from optuna.trial import FrozenTrial

    from llmnas.llm.protocol import LLM

__all__ = ["CoLLMNASSampler", "GPTEASampler", "LAPTSampler", "SEKISampler"]


class SEKISampler(LLMSampler):
    """SEKI (self-evolution, then knowledge inspiration; arXiv 2502.20422) as an Optuna sampler.

    For the first λ trials the LLM writes an optimisation strategy for the current (best)
    architecture, then proposes a batch of new architectures that apply it; for the last γ
    trials it is shown a random handful of the best architectures so far, names their common
    patterns and proposes architectures that follow them. Strategies and patterns are shared
    by every worker of the study (study system attributes, first writer wins). Invalid or
    duplicate answers are re-asked once, then filled by mutation of good trials; every
    fallback is counted in :meth:`summary`.

    Example:
        .. code-block:: python

            import optuna
            from optuna_llm_samplers import SEKISampler

            OPS = ["none", "skip_connect", "conv_1x1", "conv_3x3", "avg_pool_3x3"]

            def objective(trial):
                ops = [trial.suggest_categorical(f"edge{i}", OPS) for i in range(6)]
                return sum(OPS.index(op) for op in ops)  # your training + validation here

            # The LLM: OPENAI_BASE_URL / OPENAI_API_KEY when set, else the embedded demo model;
            # or llm="openai:gpt-4o-mini", llm="http://127.0.0.1:8000/v1", ...
            sampler = SEKISampler(seed=0, budget=30)
            study = optuna.create_study(direction="maximize", sampler=sampler)
            study.optimize(objective, n_trials=30)
            best, usage = study.best_params, sampler.summary()["llm_usage"]  # LLM calls, tokens

    Args:
        llm: the LLM: an object, a spec (``"openai:gpt-4o-mini"``, ``"local"``, an
            ``http://host:port/v1`` URL) or ``None`` for the environment's choice.
        seed: seeds the method's generator and the random fallback.
        budget: the planned number of trials n = λ + γ (Optuna does not tell samplers
            ``n_trials``; pass the same number). Default 50: the paper's ablation uses
            n = 50 [second-hand summary].
        task: a short task description added to prompts (never name a benchmark).
        self_evolution_fraction: λ / n. Not stated in the paper; 0.6 [ours].
        top_k: size of the knowledge repository (the best architectures). Not stated; 10 [ours].
        n_inspiration: ξ, repository entries shown per inspiration call. Not stated; 5 [ours].
        batch_size: architectures asked per LLM call, so one call fills several trials.
            Not stated; 5 [ours].
        current: which architecture self-evolution refines: ``"best"`` (best so far, latest
            on ties) or ``"latest"``. The paper does not say [ours: ``"best"``].
        use_llm: ``False`` runs SEKI's own operators only (an ablation, or no LLM at hand).
        max_calls_per_proposal: LLM call budget, calls ≤ this × proposals (default 0.5).
        temperature: sampling temperature for the LLM (``None``: the backend's default).
        log_every: log the summary at INFO every this many finished trials (0: never).
        stop_when_exhausted: stop the study once every configuration of a finite space has
            been tried, as ``GridSampler`` does (default); ``False`` re-evaluates instead.
        search_space: the distributions, when known up front (e.g.
            ``to_distributions(NasBench201Table.space())``), so the first trial is proposed by
            the method too (and checked by its rules); else learned from finished trials.
        prefetch: ask for the next batch in the background while trials run, so parallel
            workers (``n_jobs``, processes) do not wait for the LLM; see :class:`LLMSampler`.
        screen: ``True`` or a :class:`llmnas.SurrogateScreen`: a surrogate fitted on the trials
            picks each batch from it and many more operator candidates (our addition, off by
            default); see :class:`LLMSampler`.
        constraints_func: as in Optuna's TPE/NSGA-II/GP samplers (values <= 0: feasible),
            stored as ``trial.set_constraint`` stores them; see :class:`LLMSampler`.
        llm_timeout, llm_retries, llm_request_timeout: how long one proposal waits for an
            OpenAI-compatible endpoint at most, all exchanges and retries together (default
            ``LLMNAS_LLM_TIMEOUT``, else 60 s; an endpoint that keeps timing out is called
            less often), the retries of one exchange (4) and the seconds per HTTP attempt (60,
            or ``llm_timeout`` when shorter); see :class:`llmnas.searcher.Searcher`.
    """

    def __init__(
        self,
        *,
        llm: LLM | str | None = None,
        seed: int | None = None,
        budget: int | None = None,
        task: str | None = None,
        self_evolution_fraction: float = 0.6,
        top_k: int = 10,
        n_inspiration: int = 5,
        batch_size: int = 5,
        current: Literal["best", "latest"] = "best",
        use_llm: bool = True,
        max_calls_per_proposal: float = 0.5,
        temperature: float | None = None,
        log_every: int = 10,
        stop_when_exhausted: bool = True,
        search_space: Mapping[str, BaseDistribution] | None = None,
        prefetch: bool = False,
        screen: bool | SurrogateScreen = False,
        constraints_func: Callable[[FrozenTrial], Sequence[float]] | None = None,
        llm_timeout: float | None = None,
        llm_retries: int | None = None,
        llm_request_timeout: float | None = None,
    ) -> None:
        if budget is not None and (isinstance(budget, bool) or not isinstance(budget, int) or budget < 1):
            raise ValueError(f"budget must be a positive number of trials or None, got {budget!r}.")
        method = SEKI(
            budget=budget if budget is not None else 50,
            self_evolution_fraction=self_evolution_fraction,
            top_k=top_k,
            n_inspiration=n_inspiration,
            batch_size=batch_size,
            current=current,
        )
        super().__init__(
            method, llm=llm, seed=seed, budget=budget, task=task, use_llm=use_llm,
            max_calls_per_proposal=max_calls_per_proposal, temperature=temperature, log_every=log_every,
            stop_when_exhausted=stop_when_exhausted, search_space=search_space, prefetch=prefetch, screen=screen,
            constraints_func=constraints_func, llm_timeout=llm_timeout, llm_retries=llm_retries, llm_request_timeout=llm_request_timeout,
        )


def _source(source: Any) -> Any:
    """A LAPT source given to a sampler: a finished Optuna study becomes a History."""
    if isinstance(source, optuna.Study):
        return study_history(source)
    return source


class LAPTSampler(LLMSampler):
    """LAPT (learn design principles, then search the refined space; arXiv 2408.11330) as an
    Optuna sampler.

    The LLM writes principles and a per-dimension whitelist from source architectures
    (checked against them: a whitelist that excludes what every top source architecture uses
    is repaired, and the log says so); trials come from regularized evolution inside the
    whitelist, and the principles are revised every ``adapt_every`` trials (improved: refine;
    stuck: back to the original principles, other options). Principles are study system
    attributes, shared by every worker; :meth:`export_principles` writes them to a file that
    another study, Optuna or NNI, takes as ``source=``.

    Example:
        .. code-block:: python

            import optuna
            from llmnas.benchmarks import NasBench201Table
            from optuna_llm_samplers import LAPTSampler

            # learn principles on CIFAR-10's best cells, search CIFAR-100
            sampler = LAPTSampler(source=NasBench201Table("cifar10"), seed=0, budget=20)
            study = optuna.create_study(direction="maximize", sampler=sampler)
            study.optimize(NasBench201Table("cifar100").optuna_objective(), n_trials=20)
            sampler.export_principles(study, "principles.json")

    Args:
        source: where principles come from: ``None`` (warm start from the study's first
            ``warmup`` trials, logged as such), a principles file or dict, ``(config,
            score)`` pairs, a tabular benchmark table (its top ``n_source_shown``), a finished
            ``optuna.Study`` or a finished NNI strategy of this library.
        source_description: the source in words, for prompts and provenance.
        warmup, max_options, population, tournament_size, adapt_every, top_n, n_source_shown,
            check_top_k, batch_size: see :class:`llmnas.methods.LAPT` (paper defaults for
            NAS-Bench-201: 2 options, population 5, tournament 2, K = 5, top 5, 50 shown).
        llm, seed, budget, task, use_llm, max_calls_per_proposal, temperature, log_every,
            stop_when_exhausted, search_space, prefetch, screen, constraints_func, llm_timeout, llm_retries,
            llm_request_timeout: as :class:`SEKISampler`. The paper ran at temperature 0 on
            NAS-Bench-201 with a budget of 20.
    """

    def __init__(
        self,
        *,
        source: Any = None,
        source_description: str | None = None,
        llm: LLM | str | None = None,
        seed: int | None = None,
        budget: int | None = None,
        task: str | None = None,
        warmup: int = 10,
        max_options: int | None = None,
        population: int = 5,
        tournament_size: int = 2,
        adapt_every: int = 5,
        top_n: int = 5,
        n_source_shown: int = 50,
        check_top_k: int = 5,
        batch_size: int = 5,
        use_llm: bool = True,
        max_calls_per_proposal: float = 0.5,
        temperature: float | None = None,
        log_every: int = 10,
        stop_when_exhausted: bool = True,
        search_space: Mapping[str, BaseDistribution] | None = None,
        prefetch: bool = False,
        screen: bool | SurrogateScreen = False,
        constraints_func: Callable[[FrozenTrial], Sequence[float]] | None = None,
        llm_timeout: float | None = None,
        llm_retries: int | None = None,
        llm_request_timeout: float | None = None,
    ) -> None:
        method = LAPT(
            source=_source(source), source_description=source_description, warmup=warmup,
            max_options=max_options, population=population, tournament_size=tournament_size,
            adapt_every=adapt_every, top_n=top_n, n_source_shown=n_source_shown, check_top_k=check_top_k,
            batch_size=batch_size,
        )
        super().__init__(
            method, llm=llm, seed=seed, budget=budget, task=task, use_llm=use_llm,
            max_calls_per_proposal=max_calls_per_proposal, temperature=temperature, log_every=log_every,
            stop_when_exhausted=stop_when_exhausted, search_space=search_space, prefetch=prefetch, screen=screen,
            constraints_func=constraints_func, llm_timeout=llm_timeout, llm_retries=llm_retries, llm_request_timeout=llm_request_timeout,
        )

    def principles(self, study: optuna.Study) -> dict[str, Any] | None:
        """The study's current principles (text, whitelist, provenance), or ``None``."""
        return LAPT.principles(StudyKnowledge.of(study))

    def export_principles(self, study: optuna.Study, path: str | Path, *, note: str | None = None) -> Path:
        """Write the study's current principles to a JSON file (a ``source=`` for another study,
        Optuna or NNI), with their provenance; ``note`` (e.g. ``"NAS-Bench-201 CIFAR-10"``) is
        kept in it and logged by the study that loads it."""
        return LAPT.save_principles(StudyKnowledge.of(study), path,
                                    {"host": "Optuna", "by": type(self).__name__, "study": study.study_name,
                                     "note": note})


class CoLLMNASSampler(LLMSampler):
    """CoLLM-NAS (Navigator, Generator, Coordinator; arXiv 2509.26037) as an Optuna sampler.

    A stateful Navigator LLM writes a diversity-first exploration strategy and revises it after
    every round of ``round_size`` trials; a stateless Generator LLM turns it into a batch of
    architectures; the Coordinator (code) rejects illegal or over-limit architectures before
    they are evaluated, deduplicates against every trial, ranks feasible trials first (also
    Optuna's ``constraints_func``) and calls ``study.stop()`` once the best trial within the
    limit reaches ``target``. The Navigator's conversation is kept in study system attributes,
    so workers on one storage continue the same conversation.

    Example:
        .. code-block:: python

            import optuna
            from llmnas.benchmarks import NasBench201Table
            from optuna_llm_samplers import CoLLMNASSampler

            table = NasBench201Table("cifar10")
            small = lambda arch: table.query(arch)["params_M"] <= 0.8   # a resource limit
            sampler = CoLLMNASSampler(seed=0, target=91.5, resource_limit=small,
                                      resource_description="at most 0.8M parameters")
            study = optuna.create_study(direction="maximize", sampler=sampler)
            study.optimize(table.optuna_objective(), n_trials=100)   # stops at the target

    Args:
        navigator_llm, generator_llm: the two roles' LLMs (objects or specs); a role not
            given uses ``llm``, so one ``llm=`` serves both.
        target, resource_limit, resource_description, round_size, batch_size,
            navigator_memory: see :class:`llmnas.methods.CoLLMNAS` (the resource limit gets
            the trial's parameters as a dict).
        llm, seed, budget, task, use_llm, max_calls_per_proposal, temperature, log_every,
            stop_when_exhausted, search_space, prefetch, screen, constraints_func, llm_timeout, llm_retries,
            llm_request_timeout: as :class:`SEKISampler`. The paper ran both roles at
            temperature 0.6 with at most 100 architectures on NAS-Bench-201.
    """

    def __init__(
        self,
        *,
        llm: LLM | str | None = None,
        navigator_llm: LLM | str | None = None,
        generator_llm: LLM | str | None = None,
        seed: int | None = None,
        budget: int | None = None,
        task: str | None = None,
        target: float | None = None,
        resource_limit: ResourceLimit | None = None,
        resource_description: str | None = None,
        round_size: int = 5,
        batch_size: int = 5,
        navigator_memory: int = 4,
        use_llm: bool = True,
        max_calls_per_proposal: float = 0.5,
        temperature: float | None = None,
        log_every: int = 10,
        stop_when_exhausted: bool = True,
        search_space: Mapping[str, BaseDistribution] | None = None,
        prefetch: bool = False,
        screen: bool | SurrogateScreen = False,
        constraints_func: Callable[[FrozenTrial], Sequence[float]] | None = None,
        llm_timeout: float | None = None,
        llm_retries: int | None = None,
        llm_request_timeout: float | None = None,
    ) -> None:
        method = CoLLMNAS(
            target=target, resource_limit=resource_limit, resource_description=resource_description,
            round_size=round_size, batch_size=batch_size, navigator_memory=navigator_memory,
            **({"budget": budget} if budget is not None else {}),
        )
        super().__init__(
            method, llm=llm, seed=seed, budget=budget, task=task, use_llm=use_llm,
            max_calls_per_proposal=max_calls_per_proposal, temperature=temperature, log_every=log_every,
            stop_when_exhausted=stop_when_exhausted, search_space=search_space, prefetch=prefetch, screen=screen,
            constraints_func=constraints_func, llm_timeout=llm_timeout, llm_retries=llm_retries, llm_request_timeout=llm_request_timeout, role_llms={"navigator": navigator_llm, "generator": generator_llm},
        )

    def navigator_log(self, study: optuna.Study) -> list[dict[str, Any]]:
        """The Navigator's rounds, oldest first: the message it got and the strategy it wrote."""
        return CoLLMNAS.navigator_log(StudyKnowledge.of(study))


class GPTEASampler(LLMSampler):
    """GPT-EA / GPT-NAS (a generative prior inside a genetic algorithm; arXiv 2305.05351) as an
    Optuna sampler.

    A GA over the study's parameters (tournament selection, uniform crossover, mutation;
    elitist) where each offspring has parameters erased at the decaying rate
    ``rate0·(1 − t/T)`` and refilled by a generative prior given the rest and the best so far:
    the LLM (default, one call per batch) or a small Transformer trained on a corpus of good
    architectures (``prior="transformer"``), as the paper pre-trained on NAS-Bench-101.

    Example:
        .. code-block:: python

            import optuna
            from llmnas.benchmarks import NasBench201Table
            from optuna_llm_samplers import GPTEASampler

            # a Transformer prior trained on CIFAR-10's best cells, searching CIFAR-100
            sampler = GPTEASampler(seed=0, budget=60, prior="transformer",
                                   corpus=NasBench201Table("cifar10"))
            study = optuna.create_study(direction="maximize", sampler=sampler)
            study.optimize(NasBench201Table("cifar100").optuna_objective(), n_trials=60)

    Args:
        prior: ``"llm"`` (default), ``"transformer"`` (needs ``corpus``) or a
            :class:`llmnas.methods.Prior`.
        corpus: good architectures for the Transformer prior: parameter dicts, ``(dict,
            score)`` pairs or a benchmark table (its top 200).
        population, generations, crossover_rate, mutation_rate, rate0, tournament_size,
            batch_size: see :class:`llmnas.methods.GPTEA` (paper: 30, 20, 0.9, 0.3, 0.4).
            With ``budget`` given, ``T = ceil(budget / population)``.
        llm, seed, budget, task, use_llm, max_calls_per_proposal, temperature, log_every,
            stop_when_exhausted, search_space, prefetch, screen, constraints_func, llm_timeout, llm_retries,
            llm_request_timeout: as :class:`SEKISampler`.
    """

    def __init__(
        self,
        *,
        llm: LLM | str | None = None,
        seed: int | None = None,
        budget: int | None = None,
        task: str | None = None,
        prior: str | Prior = "llm",
        corpus: Any = None,
        population: int | None = None,
        generations: int = 20,
        crossover_rate: float = 0.9,
        mutation_rate: float = 0.3,
        rate0: float = 0.4,
        tournament_size: int = 3,
        batch_size: int = 5,
        use_llm: bool = True,
        max_calls_per_proposal: float = 0.5,
        temperature: float | None = None,
        log_every: int = 10,
        stop_when_exhausted: bool = True,
        search_space: Mapping[str, BaseDistribution] | None = None,
        prefetch: bool = False,
        screen: bool | SurrogateScreen = False,
        constraints_func: Callable[[FrozenTrial], Sequence[float]] | None = None,
        llm_timeout: float | None = None,
        llm_retries: int | None = None,
        llm_request_timeout: float | None = None,
    ) -> None:
        method = GPTEA(
            population=population, generations=generations, crossover_rate=crossover_rate,
            mutation_rate=mutation_rate, rate0=rate0, tournament_size=tournament_size,
            prior=make_prior(prior, corpus, seed=seed), batch_size=batch_size,
        )
        super().__init__(
            method, llm=llm, seed=seed, budget=budget, task=task, use_llm=use_llm,
            max_calls_per_proposal=max_calls_per_proposal, temperature=temperature, log_every=log_every,
            stop_when_exhausted=stop_when_exhausted, search_space=search_space, prefetch=prefetch, screen=screen,
            constraints_func=constraints_func, llm_timeout=llm_timeout, llm_retries=llm_retries, llm_request_timeout=llm_request_timeout,
        )
