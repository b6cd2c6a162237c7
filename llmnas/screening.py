"""Surrogate screening: score many candidates cheaply, evaluate only the most promising.

An addition of ours, not part of any of the four papers, and off by default. A small LLM
writes few useful architectures, and each one it writes costs a real evaluation. With a
screen, every batch a method proposes (its LLM's answers and its own operator's fill-ins)
competes with many more candidates from the method's own non-LLM operator; a Gaussian
process fitted on the history ranks them all by expected improvement, and only the best
``n`` are evaluated. An LLM proposal survives when the model expects it to beat the
operator's; a bad one costs nothing but the call that wrote it.

The model is deliberately plain and host-free: configurations become one-hot (categorical,
multi-choice) and ``[0, 1]``-scaled (numbers, on a log scale where the dimension says so)
features; targets are the history's ranks (feasible before infeasible, complete before
pruned, Pareto fronts for several objectives) through a normal copula, so one outlier score
does not flatten the rest; an RBF kernel whose length scale and noise are picked by marginal
likelihood from a small grid; a batch is chosen greedily, each pick added to the data at its
predicted mean ("kriging believer") so the batch spreads out.

Every decision is the same on every machine. Floating point is not: BLAS and numpy pick
their kernels per CPU (AVX2, AVX-512, ...), and a different summation order changes the last
bits of a prediction. That matters when candidates tie exactly in exact arithmetic, which is
common with one-hot features (two candidates that differ only in choices no observation
has tried are at the same distance from every observation): their scores then differ by
about 1e-16, and the order of those bits decided which one was evaluated. So the screen
compares scores only after rounding them to :data:`SCORE_DECIMALS` decimals (expected
improvements of standardised targets, and the grid's log marginal likelihoods), and a tie
goes to the earlier candidate (the batch's own proposals come first, LLM answers before the
operator's) or the earlier grid point. Machine noise (about 1e-16 here) is seven orders below
the rounding step, so a decision flips only when a score lies within that noise of a rounding
boundary. The matrix work runs on :data:`BLAS_THREADS` thread(s) for speed; decisions no
longer depend on it.

Example:
    >>> import numpy as np
    >>> from llmnas import Categorical, History, SearchSpace
    >>> from llmnas.history import Observation
    >>> space = SearchSpace([Categorical(f"op{i}", ["a", "b", "c"]) for i in range(4)])
    >>> history = History()
    >>> rng = np.random.default_rng(0)
    >>> for _ in range(12):  # the score counts the "a"s
    ...     config = space.sample(rng)
    ...     history.add(Observation(config, (sum(v == "a" for v in config.values()),)))
    >>> screen = SurrogateScreen()
    >>> pool = [{f"op{i}": "a" for i in range(4)}, {f"op{i}": "c" for i in range(4)}]
    >>> screen.rank(space, history, pool, 1)
    [{'op0': 'a', 'op1': 'a', 'op2': 'a', 'op3': 'a'}]
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from statistics import NormalDist
from typing import Sequence

import numpy as np
from threadpoolctl import threadpool_limits

from .history import History
from .space import Categorical, Config, Float, Integer, MultiChoice, SearchSpace

_NORMAL = NormalDist()
_BLAS_LIMIT = threading.Lock()
"""threadpoolctl's limit is process-wide: screens in several threads take turns, so one cannot
restore the thread count while another still relies on the limit."""
SCORE_DECIMALS = 9
"""Decimals the screen's scores are rounded to before any comparison (see the module docstring)."""
BLAS_THREADS = 1
"""BLAS threads for the screen's small matrices: more only spin against the trials' own work."""
_LENGTH_SCALES = (0.5, 0.8, 1.2, 1.8, 2.7, 4.0)
_NOISES = (1e-3, 0.03, 0.1, 0.3)


@dataclass(frozen=True)
class SurrogateScreen:
    """Settings of the surrogate screen (see the module docstring for what it does).

    Args:
        candidates_per_proposal: operator candidates generated per proposal the batch needs
            (10: a batch of 5 competes with 50 more).
        random_per_proposal: random candidates from the whole space per proposal, so the model
            can send the search somewhere the operator would not go.
        min_observations: usable results needed before the screen starts; before that the
            method's proposals pass unscreened (its own warm-up, e.g. a random population).
        max_observations: the most results the model is fitted on (the best half and the most
            recent others), so a long study keeps each fit to milliseconds.
        exploration: added to the best target before expected improvement is computed (in
            standard deviations of the targets; larger favours uncertain candidates).

    Example:
        >>> SurrogateScreen(candidates_per_proposal=20).candidates_per_proposal
        20
    """

    candidates_per_proposal: int = 10
    random_per_proposal: int = 0
    min_observations: int = 10
    max_observations: int = 300
    exploration: float = 0.0

    def __post_init__(self) -> None:
        for name in ("candidates_per_proposal", "min_observations", "max_observations"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"SurrogateScreen.{name} must be an integer >= 1, got {value!r}.")
        value = self.random_per_proposal
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"SurrogateScreen.random_per_proposal must be an integer >= 0, got {value!r}.")
        if self.max_observations < self.min_observations:
            raise ValueError(f"SurrogateScreen.max_observations ({self.max_observations}) must be >= "
                             f"min_observations ({self.min_observations}).")
        if isinstance(self.exploration, bool) or not isinstance(self.exploration, (int, float)) \
                or not math.isfinite(self.exploration) or self.exploration < 0:
            raise ValueError(f"SurrogateScreen.exploration must be a finite number >= 0, got {self.exploration!r}.")

    def ready(self, history: History) -> bool:
        """Whether the history holds enough results to fit the model."""
        return history.n_usable >= self.min_observations

    def rank(self, space: SearchSpace, history: History, candidates: Sequence[Config], n: int) -> list[Config]:
        """The ``n`` candidates to evaluate, best first (all of them, in order, when
        ``n >= len(candidates)`` or the history is too short to fit)."""
        candidates = list(candidates)
        if n >= len(candidates) or not self.ready(history):
            return candidates[:n]
        with _BLAS_LIMIT, threadpool_limits(limits=BLAS_THREADS, user_api="blas"):
            return self._rank(space, history, candidates, n)

    def _rank(self, space: SearchSpace, history: History, candidates: list[Config], n: int) -> list[Config]:
        train = self._training_set(history)
        x = features(space, [o.config for o in train])
        y = _copula([history.rank_position(o) for o in train])
        gp = _GP.fit(x, y)
        pool = features(space, candidates)
        left = list(range(len(candidates)))
        picked: list[int] = []
        best = float(y.max()) + self.exploration
        while left and len(picked) < n:
            mean, std = gp.predict(pool[left])
            scores = _expected_improvement(mean, std, best)
            i = best_index(scores)  # ties: the earlier candidate (LLM answers come first)
            picked.append(left.pop(i))
            gp = gp.with_point(pool[picked[-1]], float(mean[i]))  # kriging believer
        return [candidates[i] for i in picked]

    def _training_set(self, history: History) -> list:
        """The best half of ``max_observations`` and the most recent others (O(max), not O(n))."""
        if history.n_usable <= self.max_observations:
            return history.ranked()
        keep = history.top(self.max_observations // 2)
        kept = {id(o) for o in keep}
        # The most recent others are among the last max_observations usable ones (at most
        # len(keep) of those are kept).
        recent = [o for o in history.recent_usable(self.max_observations) if id(o) not in kept]
        return keep + recent[: self.max_observations - len(keep)]


def features(space: SearchSpace, configs: Sequence[Config]) -> np.ndarray:
    """Configurations as rows of numbers: one-hot categorical and multi-choice dimensions
    (scaled so that one differing choice is at distance 1), numbers scaled to ``[0, 1]``
    (log scale where the dimension says so); a dimension a configuration lacks is all zeros."""
    columns: list[np.ndarray] = []
    for dim in space:
        values = [c.get(dim.name) for c in configs]
        if isinstance(dim, (Categorical, MultiChoice)):
            inner = dim if isinstance(dim, Categorical) else dim._inner
            block = np.zeros((len(configs), len(inner.choices)))
            for row, value in enumerate(values):
                if value is None:
                    continue
                for item in (value if isinstance(dim, MultiChoice) else [value]):
                    block[row, inner.index(item)] = 1.0
            columns.append(block / math.sqrt(2.0))
        elif isinstance(dim, (Integer, Float)):
            low, high = float(dim.low), float(dim.high)
            log = bool(getattr(dim, "log", False)) and low > 0
            scale = (lambda v: math.log(v)) if log else (lambda v: v)
            span = (scale(high) - scale(low)) or 1.0
            column = [0.0 if v is None else (scale(float(v)) - scale(low)) / span for v in values]
            columns.append(np.asarray(column, dtype=float)[:, None])
        else:
            raise TypeError(f"dimension {dim.name!r}: {type(dim).__name__} has no features")
    return np.hstack(columns) if columns else np.zeros((len(configs), 0))


def best_index(scores: Sequence[float] | np.ndarray) -> int:
    """The index of the highest score after rounding to :data:`SCORE_DECIMALS` decimals; the
    first such index on ties, so the choice does not depend on the machine's last bits.

    Example:
        >>> best_index([0.25, 0.5 + 1e-16, 0.5, 0.1])
        1
        >>> best_index([0.25, 0.5, 0.5 + 1e-16, 0.1])
        1
    """
    rounded = np.round(np.asarray(scores, dtype=float), SCORE_DECIMALS)
    return int(np.argmax(rounded))  # numpy's argmax returns the first maximum


def _copula(rank_positions: Sequence[int]) -> np.ndarray:
    """Rank positions (0 = best) → standard normal quantiles, best highest."""
    n = len(rank_positions)
    order = np.argsort(np.argsort(rank_positions, kind="stable"), kind="stable")  # 0 = best, no ties
    return np.array([_NORMAL.inv_cdf(1.0 - (k + 0.5) / n) for k in order])


def _expected_improvement(mean: np.ndarray, std: np.ndarray, best: float) -> np.ndarray:
    std = np.maximum(std, 1e-9)
    z = (mean - best) / std
    cdf = np.array([_NORMAL.cdf(v) for v in z])
    pdf = np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
    return (mean - best) * cdf + std * pdf


@dataclass
class _GP:
    """A zero-mean GP with an RBF kernel (unit signal variance) on standardised targets."""

    x: np.ndarray
    y: np.ndarray
    length: float
    noise: float
    chol: np.ndarray
    alpha: np.ndarray

    @classmethod
    def fit(cls, x: np.ndarray, y: np.ndarray) -> _GP:
        """Length scale and noise by log marginal likelihood over a fixed grid."""
        best: tuple[float, _GP] | None = None
        for length in _LENGTH_SCALES:
            for noise in _NOISES:
                gp = cls._make(x, y, length, noise)
                if gp is None:
                    continue
                lml = -0.5 * float(y @ gp.alpha) - float(np.log(np.diag(gp.chol)).sum())
                lml = round(lml, SCORE_DECIMALS)  # ties: the earlier grid point, on every machine
                if best is None or lml > best[0]:
                    best = (lml, gp)
        if best is None:  # never: the largest noise keeps the matrix positive definite
            raise np.linalg.LinAlgError("the surrogate could not be fitted")
        return best[1]

    @classmethod
    def _make(cls, x: np.ndarray, y: np.ndarray, length: float, noise: float) -> _GP | None:
        k = _rbf(x, x, length) + noise * np.eye(len(x))
        try:
            chol = np.linalg.cholesky(k)
        except np.linalg.LinAlgError:
            return None
        alpha = np.linalg.solve(chol.T, np.linalg.solve(chol, y))
        return cls(x, y, length, noise, chol, alpha)

    def predict(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        k = _rbf(x, self.x, self.length)
        mean = k @ self.alpha
        v = np.linalg.solve(self.chol, k.T)
        var = np.maximum(1.0 - (v * v).sum(axis=0), 1e-12)
        return mean, np.sqrt(var)

    def with_point(self, x: np.ndarray, y: float) -> _GP:
        """The same GP with one more (fantasised) observation."""
        grown = self._make(np.vstack([self.x, x[None, :]]), np.append(self.y, y), self.length, self.noise)
        return grown if grown is not None else self


def _rbf(a: np.ndarray, b: np.ndarray, length: float) -> np.ndarray:
    d2 = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return np.exp(-0.5 * np.maximum(d2, 0.0) / (length * length))
