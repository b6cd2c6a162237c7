"""GPT-EA's Transformer prior: a small masked-dimension model trained on good architectures.

:class:`TransformerPrior` is fitted on a corpus (torch, imported only when fitting or
filling); :class:`CorpusPrior` fits one on first use, once the host's space is known.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import Any, Iterator, Mapping, Sequence

import numpy as np

from ...proposals import Context, Source
from ...space import Categorical, Config, Dimension, SearchSpace
from .priors import Prior

logger = logging.getLogger(__name__)


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
        >>> from llmnas.methods import GPTEA
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
    source = Source.PRIOR
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
    source = Source.PRIOR
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
