"""Any method choosing small CNNs that really train (CPU, a few seconds each) on the
handwritten digits that ship with scikit-learn: no benchmark table, no download.

    python examples/optuna_train_cnn.py [--method seki|lapt|collm-nas|gpt-ea] [--trials 12]
"""

from __future__ import annotations

import argparse
import logging

import optuna

from llmnas.benchmarks.digits import DigitsCNN
from optuna_llm_samplers import CoLLMNASSampler, GPTEASampler, LAPTSampler, SEKISampler

SAMPLERS = {"seki": SEKISampler, "lapt": LAPTSampler, "collm-nas": CoLLMNASSampler, "gpt-ea": GPTEASampler}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--method", choices=sorted(SAMPLERS), default="seki")
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--llm", default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    optuna.logging.set_verbosity(optuna.logging.WARNING)

    sampler = SAMPLERS[args.method](llm=args.llm, seed=0, budget=args.trials,
                                     task="Design a small CNN for 8x8 grey-scale digit images (10 classes).")
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(DigitsCNN(epochs=4).optuna_objective(), n_trials=args.trials)
    print(f"best validation accuracy {study.best_value:.2f}% with {study.best_params}")
    print(sampler.summary_line())


if __name__ == "__main__":
    main()
