"""The NNI strategies, one per method: each picks its method and hands it to :class:`LLMStrategy`."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from llmnas.llm.protocol import LLM
from llmnas.methods.collm_nas import CoLLMNAS, ResourceLimit
from llmnas.methods.gpt_ea import GPTEA, Prior, make_prior
from llmnas.methods.lapt import LAPT
from llmnas.methods.seki import SEKI
from llmnas.screening import SurrogateScreen

from ._strategy import LLMStrategy


class SEKIStrategy(LLMStrategy):
    """SEKI (arXiv 2502.20422) as an NNI strategy: a drop-in for ``RegularizedEvolution``.

    SEKI spends its budget of ``n = λ + γ`` evaluations in two stages. **Self-evolution**
    (the first λ): the LLM looks at the current architecture and its score, writes an
    optimisation strategy in words, then proposes new architectures that follow it.
    **Knowledge inspiration** (the last γ): ξ architectures drawn from the top-k found so far
    are shown to the LLM, which names their common patterns and proposes new architectures
    that follow them. Every answer is validated by NNI (``model_space.freeze``) and deduplicated;
    what the LLM cannot fill comes from mutation of good architectures, and is counted in
    :meth:`summary`. One LLM call proposes a batch, so idle workers are filled together.

    Example::

        from nni.nas.evaluator import FunctionalEvaluator
        from nni.nas.experiment import NasExperiment, NasExperimentConfig
        from nni.nas.hub.pytorch import NasBench201
        from nni_llm_strategies import SEKIStrategy

        def evaluate(model):                      # train and validate `model` here
            nni.report_final_result(accuracy)     # a float, or {"default": accuracy, ...}

        strategy = SEKIStrategy(llm="openai:gpt-4o-mini", seed=0)
        config = NasExperimentConfig("sequential", "simplified")  # or the default web-UI run
        config.max_trial_number = 50
        experiment = NasExperiment(NasBench201(), FunctionalEvaluator(evaluate), strategy, config)
        experiment.run()
        top = strategy.export_top_models(3, formatter="dict")   # the 3 best samples
        usage = strategy.summary()["llm_usage"]                 # LLM calls and tokens

    Runnable as is, with NAS-Bench-201 look-ups in place of training and the LLM off:

        >>> from nni.nas.execution import SequentialExecutionEngine
        >>> from nni_llm_strategies.benchmarks import nas_bench_201_model_space
        >>> strategy = SEKIStrategy(use_llm=False, seed=0)
        >>> strategy(nas_bench_201_model_space("cifar10"), SequentialExecutionEngine(max_model_count=12))
        >>> len(strategy.records())
        12

    Args:
        llm: an LLM object, a spec (``"openai:gpt-4o-mini"``, ``"local"``, an ``http://…/v1``
            URL) or ``None`` for the environment's choice (``OPENAI_BASE_URL`` /
            ``OPENAI_API_KEY``, else the embedded demo model). The paper used Qwen2.5-32B, and
            GPT-4o-mini in an ablation [2nd-hand summary].
        seed: seeds the fallback operators and the LLM sampling seeds.
        budget: planned evaluations n = λ + γ. ``None``: the engine's known budget
            (``max_model_count`` / ``max_trial_number``), else 50 (the paper's ablation,
            [2nd-hand summary]). NNI's engine still decides when the search stops.
        optimize_mode: ``"maximize"`` or ``"minimize"`` the reported ``default`` metric.
        task: an optional task description added to the prompts (the prompts never name a
            benchmark).
        self_evolution_fraction: λ / n. Not stated in the paper; 0.6 [ours].
        top_k: size of the knowledge repository (the best architectures). 10 [ours].
        n_inspiration: ξ, repository entries shown per inspiration call. 5 [ours].
        batch_size: proposals per generation call, so one call fills several workers. 5 [ours].
        current: which architecture self-evolution refines: ``"best"`` (the best so far, latest
            on ties) or ``"latest"``. The paper does not say [ours: ``"best"``].
        use_llm: ``False`` runs SEKI's fallback operators only (an ablation).
        temperature: sampling temperature sent to the LLM (``None``: the backend's default).
        max_calls_per_proposal: the LLM call budget, calls per proposed architecture (0.5).
        prefetch: ask for the next batch in the background while models train (several
            trials in flight), so idle workers get a model at once; see :class:`LLMStrategy`.
        screen: ``True`` or a :class:`llmnas.SurrogateScreen`: a surrogate fitted on the results
            picks each batch from it and many more operator candidates (our addition, off by
            default); see :class:`LLMStrategy`.
        llm_timeout, llm_retries, llm_request_timeout: how long one batch waits for an
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
        optimize_mode: Literal["maximize", "minimize"] = "maximize",
        task: str | None = None,
        self_evolution_fraction: float = 0.6,
        top_k: int = 10,
        n_inspiration: int = 5,
        batch_size: int = 5,
        current: Literal["best", "latest"] = "best",
        use_llm: bool = True,
        temperature: float | None = None,
        max_calls_per_proposal: float = 0.5,
        prefetch: bool = False,
        screen: bool | SurrogateScreen = False,
        llm_timeout: float | None = None,
        llm_retries: int | None = None,
        llm_request_timeout: float | None = None,
    ) -> None:
        if budget is not None and (isinstance(budget, bool) or not isinstance(budget, int) or budget < 1):
            raise ValueError(f"budget must be a positive integer or None, got {budget!r}.")
        method = SEKI(
            **({"budget": budget} if budget is not None else {}),
            self_evolution_fraction=self_evolution_fraction, top_k=top_k, n_inspiration=n_inspiration,
            batch_size=batch_size, current=current,
        )
        super().__init__(
            method, llm=llm, seed=seed, budget=budget, optimize_mode=optimize_mode, task=task, use_llm=use_llm,
            temperature=temperature, max_calls_per_proposal=max_calls_per_proposal, prefetch=prefetch, screen=screen,
            llm_timeout=llm_timeout, llm_retries=llm_retries, llm_request_timeout=llm_request_timeout,
        )


def _source(source: Any) -> Any:
    """A LAPT source given to an NNI strategy: a finished Optuna study becomes a History."""
    if callable(getattr(source, "get_trials", None)) and hasattr(source, "directions"):
        from optuna_llm_samplers import study_history  # only when the user hands in an Optuna study

        return study_history(source)
    return source


class LAPTStrategy(LLMStrategy):
    """LAPT (arXiv 2408.11330) as an NNI strategy: learn design principles, then search the
    refined space with regularized evolution, adapting the principles every K evaluations.

    The LLM writes principles and a per-dimension whitelist from source architectures (checked
    against them: a whitelist that excludes what every top source architecture uses is
    repaired, and the log says so); proposals come from REA inside the whitelist. Principles
    live in the strategy's knowledge (``state_dict``); :meth:`export_principles` writes them to
    a file that another study, NNI or Optuna, takes as ``source=``.

    Example::

        from llmnas.benchmarks import NasBench201Table
        from nni.nas.execution import SequentialExecutionEngine
        from nni.nas.space import RawFormatModelSpace
        from nni_llm_strategies import LAPTStrategy
        from nni_llm_strategies.benchmarks import nas_bench_201_evaluator, nas_bench_201_space

        # learn on CIFAR-10's best cells, search CIFAR-100 (the paper's transfer setting)
        strategy = LAPTStrategy(source=NasBench201Table("cifar10"), seed=0)
        space = RawFormatModelSpace.from_model(nas_bench_201_space("cifar100"),
                                               nas_bench_201_evaluator("cifar100"))
        strategy(space, SequentialExecutionEngine(max_model_count=20))
        strategy.export_principles("principles.json")

    Runnable as is, with NAS-Bench-201 look-ups in place of training and the LLM off:

        >>> from nni.nas.execution import SequentialExecutionEngine
        >>> from nni_llm_strategies.benchmarks import nas_bench_201_model_space
        >>> strategy = LAPTStrategy(use_llm=False, seed=0)
        >>> strategy(nas_bench_201_model_space("cifar10"), SequentialExecutionEngine(max_model_count=12))
        >>> len(strategy.records())
        12

    Args:
        source: where principles come from: ``None`` (warm start from this study's first
            ``warmup`` evaluations, logged as such), a principles file or dict, ``(config,
            score)`` pairs, a tabular benchmark table (its top ``n_source_shown``), a finished
            strategy of this library, or a finished ``optuna.Study``.
        source_description: the source in words, for prompts and provenance.
        warmup, max_options, population, tournament_size, adapt_every, top_n, n_source_shown,
            check_top_k, batch_size: see :class:`llmnas.methods.LAPT` (paper defaults for
            NAS-Bench-201: 2 options, population 5, tournament 2, K = 5, top 5, 50 shown).
        llm, seed, budget, optimize_mode, task, use_llm, temperature, max_calls_per_proposal, prefetch, screen,
            llm_timeout, llm_retries, llm_request_timeout:
            as :class:`SEKIStrategy`. The paper ran at temperature 0 on NAS-Bench-201.
    """

    def __init__(
        self,
        *,
        source: Any = None,
        source_description: str | None = None,
        llm: LLM | str | None = None,
        seed: int | None = None,
        budget: int | None = None,
        optimize_mode: Literal["maximize", "minimize"] = "maximize",
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
        temperature: float | None = None,
        max_calls_per_proposal: float = 0.5,
        prefetch: bool = False,
        screen: bool | SurrogateScreen = False,
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
            method, llm=llm, seed=seed, budget=budget, optimize_mode=optimize_mode, task=task, use_llm=use_llm,
            temperature=temperature, max_calls_per_proposal=max_calls_per_proposal, prefetch=prefetch, screen=screen,
            llm_timeout=llm_timeout, llm_retries=llm_retries, llm_request_timeout=llm_request_timeout,
        )

    def principles(self) -> dict[str, Any] | None:
        """The current principles (text, whitelist, provenance), or ``None`` before any."""
        return LAPT.principles(self.knowledge)

    def export_principles(self, path: str | Path, *, note: str | None = None) -> Path:
        """Write the current principles to a JSON file (a ``source=`` for another study, NNI or
        Optuna), with their provenance; ``note`` (e.g. ``"NAS-Bench-201 CIFAR-10"``) is kept in
        it and logged by the study that loads it."""
        return LAPT.save_principles(self.knowledge, path, {"host": "NNI", "by": type(self).__name__, "note": note})


class CoLLMNASStrategy(LLMStrategy):
    """CoLLM-NAS (arXiv 2509.26037) as an NNI strategy: a stateful Navigator LLM revises an
    exploration strategy every round, a stateless Generator LLM turns it into architectures,
    and a Coordinator in code checks legality and the resource limit before anything is
    submitted, deduplicates, tracks the best within the limit and stops submitting once the
    target is reached.

    Sub-nets may inherit weights from a supernet NNI trained (``RandomOneShot``): freeze the
    trained space per sample in the evaluator, as ``examples/collm_nas_nni_supernet.py`` does.

    Example::

        from nni.nas.execution import SequentialExecutionEngine
        from nni.nas.space import RawFormatModelSpace
        from nni_llm_strategies import CoLLMNASStrategy
        from nni_llm_strategies.benchmarks import nas_bench_201_evaluator, nas_bench_201_space

        def little_pooling(arch):                 # a resource rule on the NNI sample
            return sum(op == "avg_pool_3x3" for op in arch.values()) <= 2

        strategy = CoLLMNASStrategy(seed=0, target=91.5, resource_limit=little_pooling)
        space = RawFormatModelSpace.from_model(nas_bench_201_space(), nas_bench_201_evaluator())
        strategy(space, SequentialExecutionEngine(max_model_count=100))
        last_strategy = strategy.navigator_log()[-1]["strategy"]   # the Navigator's last plan

    Runnable as is, with NAS-Bench-201 look-ups in place of training and the LLM off:

        >>> from nni.nas.execution import SequentialExecutionEngine
        >>> from nni_llm_strategies.benchmarks import nas_bench_201_model_space
        >>> strategy = CoLLMNASStrategy(use_llm=False, seed=0)
        >>> strategy(nas_bench_201_model_space("cifar10"), SequentialExecutionEngine(max_model_count=12))
        >>> len(strategy.records())
        12

    Args:
        navigator_llm, generator_llm: the two roles' LLMs (objects or specs); a role not
            given uses ``llm``, so one ``llm=`` serves both.
        target, resource_limit, resource_description, round_size, batch_size,
            navigator_memory: see :class:`llmnas.methods.CoLLMNAS` (the resource limit gets
            the architecture's NNI sample dict).
        llm, seed, budget, optimize_mode, task, use_llm, temperature, max_calls_per_proposal, prefetch, screen,
            llm_timeout, llm_retries, llm_request_timeout:
            as :class:`SEKIStrategy`. The paper ran both roles at temperature 0.6.
    """

    def __init__(
        self,
        *,
        llm: LLM | str | None = None,
        navigator_llm: LLM | str | None = None,
        generator_llm: LLM | str | None = None,
        seed: int | None = None,
        budget: int | None = None,
        optimize_mode: Literal["maximize", "minimize"] = "maximize",
        task: str | None = None,
        target: float | None = None,
        resource_limit: ResourceLimit | None = None,
        resource_description: str | None = None,
        round_size: int = 5,
        batch_size: int = 5,
        navigator_memory: int = 4,
        use_llm: bool = True,
        temperature: float | None = None,
        max_calls_per_proposal: float = 0.5,
        prefetch: bool = False,
        screen: bool | SurrogateScreen = False,
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
            method, llm=llm, seed=seed, budget=budget, optimize_mode=optimize_mode, task=task, use_llm=use_llm,
            temperature=temperature, max_calls_per_proposal=max_calls_per_proposal, prefetch=prefetch, screen=screen,
            llm_timeout=llm_timeout, llm_retries=llm_retries, llm_request_timeout=llm_request_timeout,
            role_llms={"navigator": navigator_llm, "generator": generator_llm},
        )

    def navigator_log(self) -> list[dict[str, Any]]:
        """The Navigator's rounds, oldest first: the message it got and the strategy it wrote."""
        return CoLLMNAS.navigator_log(self.knowledge)


class GPTEAStrategy(LLMStrategy):
    """GPT-EA / GPT-NAS (arXiv 2305.05351) as an NNI strategy: a genetic algorithm over NNI's
    dimensions (tournament selection, uniform crossover, mutation) where each offspring has
    dimensions erased at the decaying rate ``rate0·(1 − t/T)`` and refilled by a generative
    prior given the rest and the best so far: the LLM (default, one call per batch) or a small
    Transformer trained on a corpus of good architectures (``prior="transformer"``).

    Example::

        from llmnas.benchmarks import NasBench201Table
        from nni.nas.execution import SequentialExecutionEngine
        from nni.nas.space import RawFormatModelSpace
        from nni_llm_strategies import GPTEAStrategy
        from nni_llm_strategies.benchmarks import nas_bench_201_evaluator, nas_bench_201_space

        # a Transformer prior pre-trained on CIFAR-10's best cells, searching CIFAR-100
        strategy = GPTEAStrategy(seed=0, prior="transformer", corpus=NasBench201Table("cifar10"))
        space = RawFormatModelSpace.from_model(nas_bench_201_space("cifar100"),
                                               nas_bench_201_evaluator("cifar100"))
        strategy(space, SequentialExecutionEngine(max_model_count=60))

    Runnable as is, with NAS-Bench-201 look-ups in place of training and the LLM off:

        >>> from nni.nas.execution import SequentialExecutionEngine
        >>> from nni_llm_strategies.benchmarks import nas_bench_201_model_space
        >>> strategy = GPTEAStrategy(use_llm=False, seed=0)
        >>> strategy(nas_bench_201_model_space("cifar10"), SequentialExecutionEngine(max_model_count=12))
        >>> len(strategy.records())
        12

    Args:
        prior: ``"llm"`` (default), ``"transformer"`` (needs ``corpus``) or a
            :class:`llmnas.methods.Prior`.
        corpus: good architectures for the Transformer prior: dicts in NNI's labels,
            ``(dict, score)`` pairs or a benchmark table (its top 200).
        population, generations, crossover_rate, mutation_rate, rate0, tournament_size,
            batch_size: see :class:`llmnas.methods.GPTEA` (paper: 30, 20, 0.9, 0.3, 0.4).
        llm, seed, budget, optimize_mode, task, use_llm, temperature, max_calls_per_proposal, prefetch, screen,
            llm_timeout, llm_retries, llm_request_timeout:
            as :class:`SEKIStrategy`.
    """

    def __init__(
        self,
        *,
        llm: LLM | str | None = None,
        seed: int | None = None,
        budget: int | None = None,
        optimize_mode: Literal["maximize", "minimize"] = "maximize",
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
        temperature: float | None = None,
        max_calls_per_proposal: float = 0.5,
        prefetch: bool = False,
        screen: bool | SurrogateScreen = False,
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
            method, llm=llm, seed=seed, budget=budget, optimize_mode=optimize_mode, task=task, use_llm=use_llm,
            temperature=temperature, max_calls_per_proposal=max_calls_per_proposal, prefetch=prefetch, screen=screen,
            llm_timeout=llm_timeout, llm_retries=llm_retries, llm_request_timeout=llm_request_timeout,
        )
