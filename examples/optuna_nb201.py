"""Any of the four methods as an Optuna sampler on NAS-Bench-201, the table read from ../shared.

    python examples/optuna_nb201.py [--method seki|lapt|collm-nas|gpt-ea] [--trials 30]
                                    [--dataset cifar10|cifar100|imagenet16] [--llm SPEC]

With no --llm, the environment's endpoint (OPENAI_BASE_URL / OPENAI_API_KEY / LLMNAS_MODEL)
or else the embedded model is used. Any Optuna storage works, e.g. a JournalStorage file for
several worker processes. The search uses validation accuracy; the test accuracy of the best
trial is printed next to the table's optimum.
"""

from __future__ import annotations

import argparse
import logging

import optuna

from llmnas.benchmarks import NasBench201Table
from optuna_llm_samplers import CoLLMNASSampler, GPTEASampler, LAPTSampler, SEKISampler

SAMPLERS = {"seki": SEKISampler, "lapt": LAPTSampler, "collm-nas": CoLLMNASSampler, "gpt-ea": GPTEASampler}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--method", choices=sorted(SAMPLERS), default="seki")
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--dataset", default="cifar10")
    parser.add_argument("--llm", default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    optuna.logging.set_verbosity(optuna.logging.WARNING)

    table = NasBench201Table(args.dataset)
    sampler = SAMPLERS[args.method](llm=args.llm, seed=0, budget=args.trials)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(table.optuna_objective("valid_acc"), n_trials=args.trials)

    best = study.best_trial
    print(f"{sampler.method.name}: best valid {best.value:.2f}, its test {best.user_attrs['test_acc']:.2f} "
          f"(table optimum test {table.optimum('test_acc').value:.2f})")
    print(best.params)
    print(sampler.summary_line())


if __name__ == "__main__":
    main()
