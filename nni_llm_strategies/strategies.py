"""The NNI strategies, one per method: each picks its method and hands it to :class:`LLMStrategy`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmnas.method_settings import CoLLMNASSettings, GPTEASettings, LAPTSettings, SEKISettings, build_method
from llmnas.methods.collm_nas import CoLLMNAS
from llmnas.methods.lapt import LAPT

from ._strategy import STRATEGY_KEYWORDS, LLMStrategy, StrategyKwargs

if TYPE_CHECKING:
    from typing_extensions import Unpack


class SEKIStrategyKwargs(SEKISettings, StrategyKwargs, total=False):
    """:class:`SEKIStrategy`'s keywords."""


class LAPTStrategyKwargs(LAPTSettings, StrategyKwargs, total=False):
    """:class:`LAPTStrategy`'s keywords."""


class CoLLMNASStrategyKwargs(CoLLMNASSettings, StrategyKwargs, total=False):
    """:class:`CoLLMNASStrategy`'s keywords."""


class GPTEAStrategyKwargs(GPTEASettings, StrategyKwargs, total=False):
    """:class:`GPTEAStrategy`'s keywords."""


def _built(method: str, owner: str, keywords: Any) -> tuple[Any, Any, dict[str, Any]]:
    """The method, the shared options and the strategy's own keywords, from a public class's."""
    return build_method(method, keywords, owner=owner, host_keywords=STRATEGY_KEYWORDS)


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

        >>> from nni_llm_strategies.benchmarks import search_nas_bench_201
        >>> len(search_nas_bench_201(SEKIStrategy(use_llm=False, seed=0), models=12).records())
        12

    Args:
        self_evolution_fraction, top_k, n_inspiration, batch_size, current: SEKI's settings, see
            :class:`llmnas.methods.SEKI` (λ / n = 0.6, repository of 10, ξ = 5, 5 per call, refine
            the best; none stated in the paper [ours]).
        **options: the shared options (:class:`llmnas.SearchOptions`) and ``optimize_mode``
            (:class:`LLMStrategy`).
            The paper used Qwen2.5-32B, and GPT-4o-mini in an ablation [2nd-hand summary].
    """

    def __init__(self, **options: Unpack[SEKIStrategyKwargs]) -> None:
        method, shared, own = _built("SEKI", type(self).__name__, options)
        super().__init__(method, options=shared, **own)


def _source(source: Any) -> Any:
    """A LAPT source given to an NNI strategy: a finished Optuna study becomes a History (read
    through its attributes: the NNI adapter imports neither Optuna nor the Optuna adapter)."""
    from llmnas.studies import as_source

    return as_source(source)


class LAPTStrategy(LLMStrategy):
    """LAPT (arXiv 2408.11330) as an NNI strategy: learn design principles, then search the
    refined space with regularized evolution, adapting the principles every K evaluations.

    The LLM writes principles and a per-dimension whitelist from source architectures (checked
    against them: a whitelist that excludes what every top source architecture uses is
    repaired, and the log says so); proposals come from REA inside the whitelist (under the trust
    rule, the default, the architectures the LLM wrote with its principles seed REA's
    population). Principles
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

        >>> from nni_llm_strategies.benchmarks import search_nas_bench_201
        >>> len(search_nas_bench_201(LAPTStrategy(use_llm=False, seed=0), models=12).records())
        12

    Args:
        source: where principles come from: ``None`` (warm start from this study's first
            ``warmup`` evaluations, logged as such), a principles file or dict, ``(config,
            score)`` pairs, a tabular benchmark table (its top ``n_source_shown``), a finished
            strategy of this library, or a finished ``optuna.Study``.
        source_description, warmup, max_options, population, tournament_size, adapt_every, top_n,
            n_source_shown, check_top_k, batch_size: see :class:`llmnas.methods.LAPT` (paper
            defaults for NAS-Bench-201: 2 options, population 5, tournament 2, K = 5, top 5, 50 shown).
        **options: the shared options (:class:`llmnas.SearchOptions`) and ``optimize_mode``
            (:class:`LLMStrategy`).
    """

    def __init__(self, **options: Unpack[LAPTStrategyKwargs]) -> None:
        if options.get("source") is not None:
            options = {**options, "source": _source(options["source"])}
        method, shared, own = _built("LAPT", type(self).__name__, options)
        super().__init__(method, options=shared, **own)

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

        >>> from nni_llm_strategies.benchmarks import search_nas_bench_201
        >>> len(search_nas_bench_201(CoLLMNASStrategy(use_llm=False, seed=0), models=12).records())
        12

    Args:
        navigator_llm, generator_llm: the two roles' LLMs (objects or specs); a role not
            given uses ``llm``, so one ``llm=`` serves both.
        target, resource_limit, resource_description, round_size, batch_size,
            navigator_memory: see :class:`llmnas.methods.CoLLMNAS` (the resource limit gets
            the architecture's NNI sample dict).
        **options: the shared options (:class:`llmnas.SearchOptions`) and ``optimize_mode``
            (:class:`LLMStrategy`).
    """

    def __init__(self, **options: Unpack[CoLLMNASStrategyKwargs]) -> None:
        method, shared, own = _built("CoLLM-NAS", type(self).__name__, options)
        super().__init__(method, options=shared, **own)

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

        >>> from nni_llm_strategies.benchmarks import search_nas_bench_201
        >>> len(search_nas_bench_201(GPTEAStrategy(use_llm=False, seed=0), models=12).records())
        12

    Args:
        prior, corpus, population, generations, crossover_rate, mutation_rate, rate0,
            tournament_size, batch_size: see :class:`llmnas.methods.GPTEA` and
            :class:`llmnas.method_settings.GPTEASettings` (paper: 30, 20, 0.9, 0.3, 0.4).
        **options: the shared options (:class:`llmnas.SearchOptions`) and ``optimize_mode``
            (:class:`LLMStrategy`).
    """

    def __init__(self, **options: Unpack[GPTEAStrategyKwargs]) -> None:
        method, shared, own = _built("GPT-EA", type(self).__name__, options)
        super().__init__(method, options=shared, **own)
