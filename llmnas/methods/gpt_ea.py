"""GPT-EA (GPT-NAS): a generative prior inside an evolutionary algorithm (arXiv 2305.05351).

A genetic algorithm over the space's dimensions breeds offspring (tournament selection,
uniform crossover, mutation). Then **reconstruction**: in each offspring every dimension is
erased with probability ``rate_t = rate_0 · (1 − t/T)`` and a generative *prior* refills the
erased dimensions given the kept ones and the best architectures so far. Early generations
lean on the prior, late ones on the GA.

The prior is pluggable (:class:`Prior`):

- :class:`LLMPrior` (default): one LLM call per batch of offspring; the answer's schema holds
  only each offspring's erased dimensions, so the LLM cannot change a kept one.
- :class:`TransformerPrior`: a small Transformer trained on a corpus of good architectures
  (masked-dimension prediction), like the paper's GPT pre-trained on good NAS-Bench-101 cells.
  Needs torch (imported only when it is fitted); no LLM at all.

The generation is a function of the history (``t = evaluated // population``), so workers
agree on it without talking; the method keeps no per-process state.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Iterator, Mapping, Sequence

import numpy as np

from ..prompts import gpt_ea as prompts
from ..proposals import Context, Proposal
from ..space import Categorical, Config, Dimension, SearchSpace
from .base import Method
from .operators import mutate, mutate_or_random, tournament, uniform_crossover, unique_random

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


# -- priors -------------------------------------------------------------------------------------
class Prior(ABC):
    """What refills erased dimensions: ``fill(ctx, partials, masked)`` returns, for each
    partial configuration, a mapping holding values for its masked dimensions (or ``None``
    when it has none to give). Extra keys are ignored; invalid values are replaced by the
    method (random values, counted as fallbacks)."""

    name: str = "prior"
    source: str = "prior"
    """The :class:`Proposal` source of an offspring the prior completed."""
    cheap: bool = False
    """Whether the method may ask again, one offspring at a time, when a completion is a
    duplicate (a local model: yes; an LLM: no, that would break the call budget)."""

    @abstractmethod
    def fill(
        self, ctx: Context, partials: list[Config], masked: list[list[str]], *, upcoming: int = 0
    ) -> list[Mapping[str, Any] | None]:
        """Values for the masked dimensions of each partial configuration. ``upcoming`` is the
        size of the batch being built (for an LLM's call budget)."""

    def models(self, dim: Dimension) -> bool:
        """Whether the prior can refill ``dim``: reconstruction erases only such dimensions
        (the others evolve by crossover and mutation alone). Default: every dimension."""
        return True

    def miss_reason(self, ctx: Context) -> str:
        """Why the prior gave nothing usable, for the fallback counters."""
        return f"{self.name} gave no usable value"

    def settings(self) -> dict[str, Any]:
        return {"prior": self.name}


class LLMPrior(Prior):
    """The LLM as the generative prior: ONE call per batch of offspring, shown the task, the
    ``top_k`` best architectures and each offspring with its erased dimensions.

    Args:
        top_k: best architectures shown as context. 5 [ours].
    """

    name = "LLM"
    source = "llm"

    def __init__(self, *, top_k: int = 5) -> None:
        if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
            raise ValueError(f"top_k must be an integer >= 1, got {top_k!r}.")
        self.top_k = top_k

    def fill(
        self, ctx: Context, partials: list[Config], masked: list[list[str]], *, upcoming: int = 0
    ) -> list[Mapping[str, Any] | None]:
        if not partials:
            return []
        answer = ctx.ask_json(
            prompts.fill_messages(ctx, ctx.history.top(self.top_k), partials, masked),
            prompts.fill_schema(ctx, masked), purpose="reconstruction",
            upcoming=max(upcoming, len(partials)),
        )
        if not isinstance(answer, dict):
            return [None] * len(partials)
        out: list[Mapping[str, Any] | None] = []
        for i in range(len(partials)):
            item = answer.get(prompts.offspring_key(i))
            out.append(item if isinstance(item, dict) else None)
        return out

    def miss_reason(self, ctx: Context) -> str:
        return ctx.last_miss or "LLM call failed or answer unusable"

    def settings(self) -> dict[str, Any]:
        return {"prior": self.name, "prior_top_k": self.top_k}


class TransformerPrior(Prior):
    """A small Transformer over dimension tokens, trained by masked-dimension prediction on a
    corpus of good architectures; it samples the erased dimensions conditioned on the kept
    ones (one at a time, each conditioned on those already filled). Categorical dimensions
    only: reconstruction never erases the others (numeric dimensions, categorical ones it was
    not trained on), which evolve by the GA's crossover and mutation alone.

    The paper's prior is a 4-layer, 4-head decoder predicting the next layer, pre-trained on
    NAS-Bench-101 cells with ≥ 90% validation accuracy [paper]. Here the erased dimensions may
    sit anywhere, so the model is a bidirectional encoder that predicts erased tokens [ours].

    Build one with :meth:`fit` (torch needed; deterministic on CPU for a given seed).

    Example:
        >>> from llmnas import Categorical, History, InMemoryKnowledge, Observation, SearchSpace, Searcher
        >>> space = SearchSpace([Categorical(f"e{i}", ["a", "b", "c"]) for i in range(4)])
        >>> corpus = [{"e0": "a", "e1": "b", "e2": "c", "e3": "a"}] * 20
        >>> prior = TransformerPrior.fit(space, corpus, epochs=30, seed=0)
        >>> searcher = Searcher(GPTEA(population=4, prior=prior), seed=0, use_llm=False)
        >>> history = History([Observation(c, (1.0,)) for c in ({"e0": "c", "e1": "c", "e2": "c", "e3": c3}
        ...                                                 for c3 in "abc")] + [Observation(corpus[0], (2.0,))])
        >>> len(searcher.next_proposals(space, history, [], InMemoryKnowledge(), n=5))
        5
    """

    name = "Transformer"
    source = "prior"
    cheap = True

    def __init__(self, space: SearchSpace, model: Any, *, temperature: float = 1.0,
                 info: Mapping[str, Any] | None = None) -> None:
        self.dims = [d for d in space if isinstance(d, Categorical)]
        self.offsets = np.cumsum([0] + [len(d.choices) for d in self.dims]).tolist()
        self.model = model
        self.temperature = temperature
        self.info = dict(info or {})
        self._arch: dict[str, Any] | None = None

    @classmethod
    def fit(
        cls,
        space: SearchSpace,
        corpus: Sequence[Mapping[str, Any]],
        *,
        epochs: int = 80,
        seed: int = 0,
        n_layers: int = 2,
        n_heads: int = 4,
        d_model: int = 64,
        batch_size: int = 64,
        lr: float = 3e-3,
        temperature: float = 1.0,
    ) -> "TransformerPrior":
        """Train on ``corpus`` (configurations of ``space``; their categorical dimensions).

        Args:
            space: the search space.
            corpus: good architectures, e.g. a tabular benchmark's top set.
            epochs: passes over the corpus. 80 [ours: about 3 s on CPU for 200 cells].
            seed: seeds initialisation and training masks (torch's global RNG is untouched).
            n_layers, n_heads, d_model: model size. 2 / 4 / 64 [ours; paper: 4 layers, 4 heads].
            batch_size, lr: Adam training. 64 / 3e-3 [ours].
            temperature: sampling temperature when filling. 1.0 [ours].
        """
        for name, value in (("epochs", epochs), ("n_layers", n_layers), ("n_heads", n_heads),
                            ("d_model", d_model), ("batch_size", batch_size)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}.")
        if d_model % n_heads:
            raise ValueError(f"d_model ({d_model}) must be a multiple of n_heads ({n_heads}).")
        if not lr > 0 or not temperature > 0:
            raise ValueError(f"lr and temperature must be > 0, got {lr} and {temperature}.")
        dims = [d for d in space if isinstance(d, Categorical)]
        if not dims:
            raise ValueError("TransformerPrior needs at least one categorical dimension in the space.")
        rows = []
        for config in corpus:
            try:
                rows.append([d.index(config[d.name]) for d in dims])
            except (KeyError, ValueError):
                continue
        if not rows:
            raise ValueError("the corpus holds no configuration of the space's categorical dimensions.")
        if len(rows) < len(corpus):
            logger.warning("TransformerPrior: skipped %d corpus entries that do not fit the space",
                           len(corpus) - len(rows))

        with _one_thread():
            return cls._fit(space, dims, rows, epochs=epochs, seed=seed, n_layers=n_layers, n_heads=n_heads,
                            d_model=d_model, batch_size=batch_size, lr=lr, temperature=temperature)

    @classmethod
    def _fit(cls, space: SearchSpace, dims: list[Categorical], rows: list[list[int]], *, epochs: int, seed: int,
             n_layers: int, n_heads: int, d_model: int, batch_size: int, lr: float,
             temperature: float) -> "TransformerPrior":
        import time

        import torch

        start = time.perf_counter()
        sizes = [len(d.choices) for d in dims]
        offsets = np.cumsum([0] + sizes).tolist()
        data = torch.tensor([[offsets[j] + v for j, v in enumerate(row)] for row in rows], dtype=torch.long)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = _build_model(sizes, n_layers=n_layers, n_heads=n_heads, d_model=d_model)
        generator = torch.Generator().manual_seed(seed)
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
        n_rows, width = data.shape
        model.train()
        loss_value = float("nan")
        for _ in range(epochs):
            order = torch.randperm(n_rows, generator=generator)
            for begin in range(0, n_rows, batch_size):
                batch = data[order[begin:begin + batch_size]]
                # Erase each token with a per-row rate in [0.15, 0.65]; at least one per row.
                rates = 0.15 + 0.5 * torch.rand(len(batch), 1, generator=generator)
                erase = torch.rand(batch.shape, generator=generator) < rates
                forced = torch.randint(width, (len(batch),), generator=generator)
                erase[torch.arange(len(batch)), forced] = True
                logits = model(torch.where(erase, torch.full_like(batch, model.mask_token), batch))
                loss = torch.nn.functional.cross_entropy(logits[erase], batch[erase])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                loss_value = float(loss.detach())
        model.eval()
        seconds = time.perf_counter() - start
        logger.info("TransformerPrior: trained on %d architectures in %.1f s (last loss %.3f)",
                    n_rows, seconds, loss_value)
        info = {"prior_corpus": n_rows, "prior_epochs": epochs, "prior_layers": n_layers,
                "prior_heads": n_heads, "prior_d_model": d_model, "prior_seed": seed,
                "prior_fit_seconds": round(seconds, 2), "prior_final_loss": round(loss_value, 4)}
        prior = cls(SearchSpace(dims), model, temperature=temperature, info=info)
        prior._arch = {"sizes": sizes, "n_layers": n_layers, "n_heads": n_heads, "d_model": d_model}
        return prior

    # The model's class is built inside a function (torch is imported lazily): pickle its
    # weights and architecture, and rebuild it on load (a Searcher must stay picklable).
    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        arch = state.get("_arch")
        if arch is not None:
            state["model"] = {k: v.clone() for k, v in self.model.state_dict().items()}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        arch = state.get("_arch")
        if arch is not None and isinstance(state.get("model"), dict):
            model = _build_model(arch["sizes"], n_layers=arch["n_layers"], n_heads=arch["n_heads"],
                                 d_model=arch["d_model"])
            model.load_state_dict(state["model"])
            model.eval()
            state = {**state, "model": model}
        self.__dict__.update(state)

    def models(self, dim: Dimension) -> bool:
        return isinstance(dim, Categorical) and any(d.name == dim.name for d in self.dims)

    def fill(
        self, ctx: Context, partials: list[Config], masked: list[list[str]], *, upcoming: int = 0
    ) -> list[Mapping[str, Any] | None]:
        if not partials:
            return []
        import torch

        mask_token = self.model.mask_token
        tokens = np.full((len(partials), len(self.dims)), mask_token, dtype=np.int64)
        todo = np.zeros(tokens.shape, dtype=bool)
        for r, (partial, names) in enumerate(zip(partials, masked)):
            erased = set(names)
            for j, dim in enumerate(self.dims):
                if dim.name in erased or dim.name not in partial:
                    todo[r, j] = dim.name in erased
                    continue
                try:
                    tokens[r, j] = self.offsets[j] + dim.index(partial[dim.name])
                except ValueError:
                    pass  # a value the prior never saw: leave it erased as context
        # Fill one dimension at a time, in space order, each conditioned on those filled.
        with torch.no_grad(), _one_thread():
            for j in range(len(self.dims)):
                rows = np.flatnonzero(todo[:, j])
                if not len(rows):
                    continue
                logits = self.model(torch.from_numpy(tokens[rows]))[:, j, self.offsets[j]:self.offsets[j + 1]]
                probs = torch.softmax(logits.double() / self.temperature, dim=-1).numpy()
                for k, r in enumerate(rows):
                    p = probs[k] / probs[k].sum()
                    tokens[r, j] = self.offsets[j] + int(ctx.rng.choice(len(p), p=p))
        out: list[Mapping[str, Any] | None] = []
        for r, names in enumerate(masked):
            values = {}
            for j, dim in enumerate(self.dims):
                if todo[r, j]:
                    values[dim.name] = dim.choices[int(tokens[r, j]) - self.offsets[j]]
            out.append(values or None)
        return out

    def settings(self) -> dict[str, Any]:
        return {"prior": self.name, **self.info}


_THREADS_LOCK = threading.Lock()
_THREADS_STATE = {"users": 0, "before": 0}


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    """Run torch on one thread while the prior fits or fills: the model is tiny, and on a busy
    2-core machine torch's default threads made fitting 30× slower (95 s instead of 3 s,
    measured). Torch's thread count is process-wide: overlapping users (threads) share one
    save/restore, so the count the process had is always restored by the last one out; torch
    work in other threads runs on one thread meanwhile (about 3 s to fit, milliseconds to fill)."""
    import torch

    with _THREADS_LOCK:
        if _THREADS_STATE["users"] == 0:
            _THREADS_STATE["before"] = torch.get_num_threads()
            torch.set_num_threads(1)
        _THREADS_STATE["users"] += 1
    try:
        yield
    finally:
        with _THREADS_LOCK:
            _THREADS_STATE["users"] -= 1
            if _THREADS_STATE["users"] == 0:
                torch.set_num_threads(_THREADS_STATE["before"])


class CorpusPrior(Prior):
    """A :class:`TransformerPrior` fitted on ``corpus`` the first time it is used, when the
    host's search space is known (hosts build one from ``prior="transformer", corpus=...``).

    Args:
        corpus: good architectures (configuration dicts in the host's names), ``(config,
            score)`` pairs, or an object with ``top_pairs(k)`` (a tabular benchmark: its top
            ``corpus_size``).
        corpus_size: how many of a benchmark's best to train on. 200 [ours; the paper used
            NAS-Bench-101 cells with ≥ 90% validation accuracy].
        **fit_kwargs: passed to :meth:`TransformerPrior.fit` (``epochs``, ``seed``, ...).
    """

    name = "Transformer"
    source = "prior"
    cheap = True

    def __init__(self, corpus: Any, *, corpus_size: int = 200, **fit_kwargs: Any) -> None:
        if callable(getattr(corpus, "top_pairs", None)):
            corpus = corpus.top_pairs(corpus_size)
        if isinstance(corpus, (str, bytes)) or not isinstance(corpus, Sequence) or not corpus:
            raise ValueError("corpus must be a non-empty list of architectures (dicts or (dict, score) pairs) "
                             f"or a benchmark table; got {type(corpus).__name__}.")
        configs = [c[0] if isinstance(c, (tuple, list)) and len(c) == 2 else c for c in corpus]
        if not all(isinstance(c, Mapping) for c in configs):
            raise ValueError("every corpus entry must be an architecture dict or a (dict, score) pair.")
        self.corpus = [dict(c) for c in configs]
        self.fit_kwargs = fit_kwargs
        self._prior: TransformerPrior | None = None
        self._error = ""  # why fitting failed (then the prior gives nothing; logged once)

    def fitted(self, space: SearchSpace) -> TransformerPrior:
        """The Transformer fitted on the corpus for ``space`` (fitted on first use)."""
        if self._prior is None:
            names = {d.name for d in space if isinstance(d, Categorical)}
            keys = set().union(*(c.keys() for c in self.corpus))
            if not names:
                raise ValueError(
                    "the Transformer prior models categorical dimensions and the search space has none "
                    f"({', '.join(space.names)} are numeric); GPT-EA runs as a plain GA")
            if not names & keys:
                raise ValueError(
                    f"the corpus does not use the search space's names: the space has {sorted(names)}, "
                    f"the corpus {sorted(keys)[:12]}. Give the architectures in the host's parameter names.")
            self._prior = TransformerPrior.fit(space, self.corpus, **self.fit_kwargs)
        return self._prior

    def fill(
        self, ctx: Context, partials: list[Config], masked: list[list[str]], *, upcoming: int = 0
    ) -> list[Mapping[str, Any] | None]:
        if self._error:
            return [None] * len(partials)
        try:
            prior = self.fitted(ctx.space)
        except ValueError as exc:
            self._error = str(exc)
            logger.error("GPT-EA: the Transformer prior cannot be trained (%s); offspring are refilled at "
                         "random instead (a plain GA), counted as fallbacks.", exc)
            return [None] * len(partials)
        return prior.fill(ctx, partials, masked, upcoming=upcoming)

    def models(self, dim: Dimension) -> bool:
        if self._prior is not None:
            return self._prior.models(dim)
        return isinstance(dim, Categorical)  # fitting trains on every categorical dimension

    def miss_reason(self, ctx: Context) -> str:
        return f"Transformer prior unavailable ({self._error})" if self._error else super().miss_reason(ctx)

    def settings(self) -> dict[str, Any]:
        if self._prior is not None:
            return self._prior.settings()
        return {"prior": self.name, "prior_corpus": len(self.corpus), "prior_fitted": False,
                **({"prior_error": self._error} if self._error else {})}


def make_prior(prior: "str | Prior", corpus: Any = None, *, seed: int | None = None) -> Prior:
    """A prior from a host argument: ``"llm"``, ``"transformer"`` (needs ``corpus``) or a
    :class:`Prior` object."""
    if isinstance(prior, Prior):
        if corpus is not None:
            raise ValueError("corpus= is only used with prior='transformer'.")
        return prior
    if prior == "llm":
        if corpus is not None:
            raise ValueError("corpus= is only used with prior='transformer'.")
        return LLMPrior()
    if prior == "transformer":
        if corpus is None:
            raise ValueError("prior='transformer' needs corpus=: good architectures to train on "
                             "(a list of dicts, or a benchmark table such as NasBench201Table).")
        return CorpusPrior(corpus, seed=0 if seed is None else int(seed))
    raise ValueError(f"prior must be 'llm', 'transformer' or a gpt_ea.Prior object, got {prior!r}.")


def _build_model(sizes: Sequence[int], *, n_layers: int, n_heads: int, d_model: int) -> Any:
    """The masked-dimension predictor: token + position embeddings, a Transformer encoder,
    and per-position logits restricted to that dimension's choices (torch imported here)."""
    import torch
    from torch import nn

    class DimensionTransformer(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            vocab = int(sum(sizes))
            self.mask_token = vocab
            self.tokens = nn.Embedding(vocab + 1, d_model)
            self.positions = nn.Parameter(torch.randn(len(sizes), d_model) * 0.02)
            layer = nn.TransformerEncoderLayer(d_model, n_heads, dim_feedforward=2 * d_model, dropout=0.0,
                                               batch_first=True, norm_first=True)
            self.encoder = nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)
            self.head = nn.Linear(d_model, vocab)
            allowed = torch.full((len(sizes), vocab), float("-inf"))
            start = 0
            for j, size in enumerate(sizes):
                allowed[j, start:start + size] = 0.0
                start += size
            self.register_buffer("allowed", allowed)

        def forward(self, tokens: Any) -> Any:
            hidden = self.encoder(self.tokens(tokens) + self.positions)
            return self.head(hidden) + self.allowed

    return DimensionTransformer()


# -- the method ---------------------------------------------------------------------------------
PAPER_POPULATION = 30


class GPTEA(Method):
    """GPT-EA as a host-agnostic method.

    Generation 0 is ``population`` random architectures [ours: the paper's GA starts from a
    random population; LLM calls are kept for reconstruction]. From then on, generation
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
        population: GA population size. 30 [paper]. ``None``: 30, reduced to
            ``max(4, budget // 3)`` when the host's budget is smaller than 90, so a short search
            still has three generations (the paper's 30 × 20 is 600 evaluations) [ours].
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

    def generation(self, ctx: Context) -> int:
        """t = evaluated // population (generation 0 is the random initial population)."""
        return len(ctx.history) // self.population_size(ctx)

    def population_size(self, ctx: Context | None = None) -> int:
        """The population: as given, else 30, or ``max(4, budget // 3)`` for a budget < 90.
        Once chosen from a budget it stays (a study running past its budget, when the host
        stops passing one, keeps evolving the same population)."""
        if self.population is not None:
            return self.population
        if ctx is not None and ctx.budget is not None:
            self._auto_population = max(4, ctx.budget // 3) if ctx.budget < 3 * PAPER_POPULATION else PAPER_POPULATION
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
        if t == 0 or not ctx.history.usable:
            configs = unique_random(ctx.space, ctx.rng, n, ctx.taken)
            out = []
            for config in configs:
                if not ctx.problems(config):
                    ctx.take(config)
                    out.append(Proposal(config, "init"))
            if len(out) < n:  # the host rejected some: let the operator look further
                for config in mutate_or_random(ctx.space, ctx.history, ctx.rng, 20 * (n - len(out)), ctx.taken):
                    if len(out) >= n:
                        break
                    if ctx.is_new(config) and not ctx.problems(config):
                        ctx.take(config)
                        out.append(Proposal(config, "init"))
            ctx.proposals_so_far += len(out)
            logger.info("%s generation 0: %d random architectures", self.name, len(out))
            return out
        return self._evolve(ctx, n, t)

    def offspring(self, ctx: Context, n: int) -> list[Offspring]:
        """``n`` GA children of the current population, each with its erased dimensions."""
        rate = self.mask_rate(self.generation(ctx), ctx)
        pool = ctx.history.top(self.population_size(ctx))
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
            masked = tuple(d.name for d in ctx.space
                           if d.size() > 1 and self.prior.models(d) and ctx.rng.random() < rate)
            out.append(Offspring(child, masked))
        self._log_unmodelled(ctx)
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

    def _evolve(self, ctx: Context, n: int, t: int) -> list[Proposal]:
        children = self.offspring(ctx, n)
        for i, child in enumerate(children):  # a GA child already tried is bred again [ours]
            for _ in range(_REBREED_TRIES):
                if child.masked or (ctx.is_new(child.config) and not ctx.problems(child.config)):
                    break
                child = self.offspring(ctx, 1)[0]
            children[i] = child
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
            filled = 0
            for config in more:
                if ctx.is_new(config) and not ctx.problems(config):
                    ctx.take(config)
                    out.append(Proposal(config, "fallback", "duplicate offspring"))
                    filled += 1
            ctx.stats.add_fallback("duplicate offspring", filled)
        ctx.stats.add("batches")
        ctx.proposals_so_far += len(out)
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
                else:
                    ctx.take(config)
                    if llm:
                        ctx.stats.add("accepted_llm")
                    return Proposal(config, self.prior.source)
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
                    ctx.take(config)
                    ctx.stats.add_fallback(reason, 1)
                    return Proposal(config, "fallback", reason)
        else:
            config = child.config
            if ctx.is_new(config) and not ctx.problems(config):
                ctx.take(config)
                return Proposal(config, "ga")
            reason = "duplicate GA offspring"
        # Still nothing new: mutate the child further (more dimensions as tries grow).
        for attempt in range(_REFILL_TRIES):
            config = mutate(space, child.config, ctx.rng, n_dims=1 + attempt // 5)
            if ctx.is_new(config) and not ctx.problems(config):
                ctx.take(config)
                ctx.stats.add_fallback(reason, 1)
                return Proposal(config, "fallback", reason)
        return None
