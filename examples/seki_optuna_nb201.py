"""SEKI as an Optuna sampler on NAS-Bench-201 (CIFAR-10), the table read from ../shared.

    python examples/seki_optuna_nb201.py [--trials 30] [--llm local|openai:<model>|http://…/v1]

With no --llm, the environment's endpoint (OPENAI_BASE_URL / OPENAI_API_KEY / LLMNAS_MODEL)
or else the embedded model is used. Any Optuna storage works, e.g. a JournalStorage file for
several worker processes.
"""

from __future__ import annotations

import argparse
import logging

import optuna

from llmnas.benchmarks import NasBench201Table
from optuna_llm_samplers import SEKISampler


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--dataset", default="cifar10")
    parser.add_argument("--llm", default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    optuna.logging.set_verbosity(optuna.logging.WARNING)

    table = NasBench201Table(args.dataset)
    sampler = SEKISampler(llm=args.llm, seed=0, budget=args.trials)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(table.optuna_objective("valid_acc"), n_trials=args.trials)

    best = study.best_trial
    print(f"best valid {best.value:.2f}, its test {best.user_attrs['test_acc']:.2f} "
          f"(table optimum test {table.optimum('test_acc').value:.2f})")
    print(best.params)
    print(sampler.summary_line())


if __name__ == "__main__":
    main()
