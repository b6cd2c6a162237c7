"""The method-specific samplers: each picks one core method; :class:`LLMSampler` does the rest."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from llmnas.methods.seki import SEKI

from ._sampler import LLMSampler

if TYPE_CHECKING:
    from llmnas.llm.protocol import LLM

__all__ = ["SEKISampler"]


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
            print(study.best_params, sampler.summary()["llm_usage"])

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
            stop_when_exhausted=stop_when_exhausted,
        )
