"""LAPT transfer across datasets and hosts: principles learned on NAS-Bench-201 CIFAR-10 in an
NNI experiment steer an Optuna study on CIFAR-100.

    python examples/lapt_transfer_nni_to_optuna.py [--source-models 20] [--trials 20]
        [--principles principles.json] [--llm SPEC]

1. NNI: ``LAPTStrategy`` searches CIFAR-10. With no source it warm-starts (its first 10
   models come from its operator), then the LLM writes principles and a whitelist from them,
   and adapts them every 5 models. The final principles go to a JSON file with their
   provenance.
2. Optuna: ``LAPTSampler(source=<file>)`` searches CIFAR-100 inside the whitelist from its
   first trial (no learning call); the log names the file and where it was learned.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import optuna
from nni.nas.experiment import NasExperiment, NasExperimentConfig

from llmnas.benchmarks import NasBench201Table
from nni_llm_strategies import LAPTStrategy
from nni_llm_strategies.benchmarks import nas_bench_201_evaluator, nas_bench_201_space
from optuna_llm_samplers import LAPTSampler


def learn_in_nni(models: int, llm: str | None, path: Path) -> Path:
    table = NasBench201Table("cifar10")
    strategy = LAPTStrategy(llm=llm, seed=0)
    config = NasExperimentConfig("sequential", "simplified")
    config.max_trial_number = models
    NasExperiment(nas_bench_201_space("cifar10"), nas_bench_201_evaluator("cifar10", path=table.file),
                  strategy, config).run()
    print(f"NNI on CIFAR-10: {len(strategy.records())} models, best valid {strategy.summary()['best']:.2f}")
    return strategy.export_principles(path, note="NAS-Bench-201 CIFAR-10, NNI LAPTStrategy")


def search_in_optuna(trials: int, llm: str | None, path: Path) -> optuna.Study:
    table = NasBench201Table("cifar100")
    sampler = LAPTSampler(source=path, llm=llm, seed=0, budget=trials)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(table.optuna_objective(), n_trials=trials)
    best = study.best_trial
    print(f"Optuna on CIFAR-100 from {path}: best valid {best.value:.2f}, its test "
          f"{best.user_attrs['test_acc']:.2f} (table optimum test {table.optimum('test_acc').value:.2f})")
    print("principles now:", sampler.principles(study)["text"][:300])
    return study


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--source-models", type=int, default=20)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--principles", type=Path, default=Path("lapt_principles_cifar10.json"))
    parser.add_argument("--llm", default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    optuna.logging.set_verbosity(optuna.logging.WARNING)

    path = learn_in_nni(args.source_models, args.llm, args.principles)
    print(f"principles written to {path}")
    search_in_optuna(args.trials, args.llm, path)


if __name__ == "__main__":
    main()
