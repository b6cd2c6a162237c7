"""A real (not tabular) search task that runs anywhere: small CNNs trained on CPU on the
8×8 handwritten digits that ship inside scikit-learn (no download).

Used by the demo when no benchmark table is found, and by examples that want a trial that
actually trains a network. One evaluation trains for a few epochs in about a second.

Example:
    >>> task = DigitsCNN(epochs=1)
    >>> config = {"conv1": 16, "conv2": 0, "kernel": 3, "activation": "relu", "pool": "max",
    ...           "hidden": 32, "dropout": 0.0, "lr": 0.01}
    >>> 0.0 <= task.evaluate(config)["valid_acc"] <= 100.0
    True
"""

from __future__ import annotations

import logging
import time
from functools import lru_cache
from typing import Any, Mapping

import numpy as np

from ..space import Categorical, Float, SearchSpace

logger = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def _digits() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    try:
        from sklearn.datasets import load_digits
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("DigitsCNN needs scikit-learn: pip install scikit-learn") from exc
    data = load_digits()
    x = (data.images / 16.0).astype(np.float32)[:, None, :, :]
    y = data.target.astype(np.int64)
    order = np.random.default_rng(0).permutation(len(y))
    x, y = x[order], y[order]
    cut = int(0.75 * len(y))
    return x[:cut], y[:cut], x[cut:], y[cut:]


class DigitsCNN:
    """Train a small CNN on scikit-learn's digits and report validation accuracy (%).

    Args:
        epochs: training epochs per evaluation.
        seed: torch seed for weight initialisation and batching (deterministic on CPU).
    """

    def __init__(self, *, epochs: int = 4, seed: int = 0) -> None:
        if epochs < 1:
            raise ValueError(f"epochs must be >= 1, got {epochs}.")
        self.epochs = epochs
        self.seed = seed

    @staticmethod
    def space() -> SearchSpace:
        return SearchSpace([
            Categorical("conv1", [8, 16, 32], descriptions=["8 channels", "16 channels", "32 channels"]),
            Categorical("conv2", [0, 16, 32, 64], descriptions=["no second conv", "16 ch", "32 ch", "64 ch"]),
            Categorical("kernel", [1, 3, 5], descriptions=["1x1", "3x3", "5x5"]),
            Categorical("activation", ["relu", "gelu", "tanh"]),
            Categorical("pool", ["max", "avg", "none"]),
            Categorical("hidden", [0, 32, 128], descriptions=["no hidden layer", "32 units", "128 units"]),
            Categorical("dropout", [0.0, 0.2, 0.5]),
            Float("lr", 1e-3, 1e-1, log=True),
        ])

    def build(self, config: Mapping[str, Any]) -> Any:
        import torch.nn as nn

        act = {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh}[config["activation"]]
        k = int(config["kernel"])
        layers: list[nn.Module] = [nn.Conv2d(1, int(config["conv1"]), k, padding=k // 2), act()]
        channels, size = int(config["conv1"]), 8
        if config["pool"] != "none":
            layers.append(nn.MaxPool2d(2) if config["pool"] == "max" else nn.AvgPool2d(2))
            size //= 2
        if int(config["conv2"]):
            layers += [nn.Conv2d(channels, int(config["conv2"]), k, padding=k // 2), act()]
            channels = int(config["conv2"])
        layers.append(nn.Flatten())
        features = channels * size * size
        if int(config["hidden"]):
            layers += [nn.Linear(features, int(config["hidden"])), act()]
            features = int(config["hidden"])
        layers += [nn.Dropout(float(config["dropout"])), nn.Linear(features, 10)]
        return nn.Sequential(*layers)

    def evaluate(self, config: Mapping[str, Any]) -> dict[str, float]:
        """Train ``config`` and return ``valid_acc`` (%), ``params`` and ``seconds``."""
        import torch

        problems = self.space().validate(config)
        if problems:
            raise ValueError("invalid DigitsCNN config: " + "; ".join(problems))
        start = time.perf_counter()
        torch.manual_seed(self.seed)
        x_train, y_train, x_valid, y_valid = (torch.from_numpy(a) for a in _digits())
        model = self.build(config)
        optimizer = torch.optim.Adam(model.parameters(), lr=float(config["lr"]))
        loss_fn = torch.nn.CrossEntropyLoss()
        generator = torch.Generator().manual_seed(self.seed)
        for _ in range(self.epochs):
            model.train()
            for batch in torch.randperm(len(y_train), generator=generator).split(64):
                optimizer.zero_grad()
                loss_fn(model(x_train[batch]), y_train[batch]).backward()
                optimizer.step()
        model.eval()
        with torch.no_grad():
            accuracy = (model(x_valid).argmax(1) == y_valid).float().mean().item() * 100.0
        params = sum(p.numel() for p in model.parameters())
        return {"valid_acc": float(accuracy), "params": float(params),
                "seconds": float(time.perf_counter() - start)}

    def optuna_objective(self) -> Any:
        """An Optuna objective (duck-typed: no optuna import) maximising ``valid_acc``."""
        space = self.space()

        def objective(trial: Any) -> float:
            config: dict[str, Any] = {}
            for dim in space:
                if isinstance(dim, Categorical):
                    config[dim.name] = trial.suggest_categorical(dim.name, list(dim.choices))
                else:
                    config[dim.name] = trial.suggest_float(dim.name, dim.low, dim.high, log=dim.log)
            metrics = self.evaluate(config)
            for key in ("params", "seconds"):
                trial.set_user_attr(key, metrics[key])
            return metrics["valid_acc"]

        return objective
