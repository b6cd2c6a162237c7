"""The method-specific samplers: each picks one core method; :class:`LLMSampler` does the rest."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import optuna

from llmnas.method_settings import CoLLMNASSettings, GPTEASettings, LAPTSettings, SEKISettings, build_method
from llmnas.methods.collm_nas import CoLLMNAS
from llmnas.methods.lapt import LAPT
from llmnas.studies import as_source

from ._knowledge import StudyKnowledge
from ._sampler import SAMPLER_KEYWORDS, LLMSampler, SamplerKwargs

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["CoLLMNASSampler", "GPTEASampler", "LAPTSampler", "SEKISampler"]


class SEKISamplerKwargs(SEKISettings, SamplerKwargs, total=False):
    """:class:`SEKISampler`'s keywords."""


class LAPTSamplerKwargs(LAPTSettings, SamplerKwargs, total=False):
    """:class:`LAPTSampler`'s keywords."""


class CoLLMNASSamplerKwargs(CoLLMNASSettings, SamplerKwargs, total=False):
    """:class:`CoLLMNASSampler`'s keywords."""


class GPTEASamplerKwargs(GPTEASettings, SamplerKwargs, total=False):
    """:class:`GPTEASampler`'s keywords."""


def _built(method: str, owner: str, keywords: Any) -> tuple[Any, Any, dict[str, Any]]:
    """The method, the shared options and the sampler's own keywords, from a public class's."""
    return build_method(method, keywords, owner=owner, host_keywords=SAMPLER_KEYWORDS)


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
        self_evolution_fraction, top_k, n_inspiration, batch_size, current: SEKI's settings, see
            :class:`llmnas.methods.SEKI` (λ / n = 0.6, repository of 10, ξ = 5, 5 per call, refine
            the best; none stated in the paper [ours]).
        **options: the shared options (:class:`llmnas.SearchOptions`) and the sampler's own
            (:class:`LLMSampler`).
            ``budget`` is n = λ + γ (default 50: the paper's ablation [second-hand summary]).
    """

    def __init__(self, **options: Unpack[SEKISamplerKwargs]) -> None:
        method, shared, own = _built("SEKI", type(self).__name__, options)
        super().__init__(method, options=shared, **own)


class LAPTSampler(LLMSampler):
    """LAPT (learn design principles, then search the refined space; arXiv 2408.11330) as an
    Optuna sampler.

    The LLM writes principles and a per-dimension whitelist from source architectures
    (checked against them: a whitelist that excludes what every top source architecture uses
    is repaired, and the log says so); trials come from regularized evolution inside the
    whitelist (under the trust rule, the default, the architectures the LLM wrote with its
    principles seed the evolution's population), and the principles are revised every ``adapt_every`` trials (improved: refine;
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
        source_description, warmup, max_options, population, tournament_size, adapt_every, top_n,
            n_source_shown, check_top_k, batch_size: see :class:`llmnas.methods.LAPT` (paper
            defaults for NAS-Bench-201: 2 options, population 5, tournament 2, K = 5, top 5, 50 shown).
        **options: the shared options (:class:`llmnas.SearchOptions`) and the sampler's own
            (:class:`LLMSampler`).
            The paper ran at temperature 0 on NAS-Bench-201 with a budget of 20.
    """

    def __init__(self, **options: Unpack[LAPTSamplerKwargs]) -> None:
        if options.get("source") is not None:
            options = {**options, "source": as_source(options["source"])}
        method, shared, own = _built("LAPT", type(self).__name__, options)
        super().__init__(method, options=shared, **own)

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
        **options: the shared options (:class:`llmnas.SearchOptions`) and the sampler's own
            (:class:`LLMSampler`).
            The paper ran both roles at temperature 0.6 with at most 100 architectures on NAS-Bench-201.
    """

    def __init__(self, **options: Unpack[CoLLMNASSamplerKwargs]) -> None:
        method, shared, own = _built("CoLLM-NAS", type(self).__name__, options)
        super().__init__(method, options=shared, **own)

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
        prior, corpus, population, generations, crossover_rate, mutation_rate, rate0,
            tournament_size, batch_size: see :class:`llmnas.methods.GPTEA` and
            :class:`llmnas.method_settings.GPTEASettings` (paper: 30, 20, 0.9, 0.3, 0.4). With
            ``budget`` given, ``T = ceil(budget / population)``.
        **options: the shared options (:class:`llmnas.SearchOptions`) and the sampler's own
            (:class:`LLMSampler`).
    """

    def __init__(self, **options: Unpack[GPTEASamplerKwargs]) -> None:
        method, shared, own = _built("GPT-EA", type(self).__name__, options)
        super().__init__(method, options=shared, **own)
