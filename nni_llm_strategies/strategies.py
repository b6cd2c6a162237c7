"""The NNI strategies, one per method: each picks its method and hands it to :class:`LLMStrategy`."""

from __future__ import annotations

from typing import Literal

from llmnas.llm.protocol import LLM
from llmnas.methods.seki import SEKI

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
        print(strategy.export_top_models(3, formatter="dict"), strategy.summary()["llm_usage"])

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
            temperature=temperature, max_calls_per_proposal=max_calls_per_proposal,
        )
