"""CoLLM-NAS in Optuna with a resource limit and a target on NAS-Bench-201: the Coordinator
rejects architectures over the parameter limit before they are evaluated, and the study stops
once an architecture within the limit reaches the target.

    python examples/collm_nas_optuna_constraint.py [--max-params 0.4] [--target 90.2] [--trials 60]
        [--navigator-llm SPEC] [--generator-llm SPEC] [--llm SPEC]

The Navigator and the Generator may be two endpoints (e.g. a large model navigating, a small
fast one generating); each defaults to --llm, then to the environment / embedded model.
"""

from __future__ import annotations

import argparse
import logging

import optuna

from llmnas.benchmarks import NasBench201Table
from optuna_llm_samplers import CoLLMNASSampler, to_distributions


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--max-params", type=float, default=0.4, help="millions of parameters")
    parser.add_argument("--target", type=float, default=90.2, help="validation accuracy to stop at")
    parser.add_argument("--trials", type=int, default=60)
    parser.add_argument("--llm", default=None)
    parser.add_argument("--navigator-llm", default=None)
    parser.add_argument("--generator-llm", default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    optuna.logging.set_verbosity(optuna.logging.WARNING)

    table = NasBench201Table("cifar10")

    def within_params(arch: dict) -> bool:
        return table.query(arch)["params_M"] <= args.max_params

    sampler = CoLLMNASSampler(
        llm=args.llm, navigator_llm=args.navigator_llm, generator_llm=args.generator_llm, seed=0,
        budget=args.trials, target=args.target, resource_limit=within_params,
        resource_description=f"at most {args.max_params}M parameters",
        search_space=to_distributions(table.space()),  # so the first trial is checked too
    )
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(table.optuna_objective(), n_trials=args.trials)

    over = [t.number for t in study.trials if table.query(t.params)["params_M"] > args.max_params]
    best = study.best_trial
    reached = "reached" if best.value >= args.target else "not reached"
    print(f"{len(study.trials)} trials; target {args.target} {reached}: best valid {best.value:.2f} with "
          f"{table.query(best.params)['params_M']:.3f}M params (limit {args.max_params}M); "
          f"trials over the limit: {over or 'none'}")
    print("Navigator rounds:", len(sampler.navigator_log(study)))
    print(sampler.summary_line())


if __name__ == "__main__":
    main()
