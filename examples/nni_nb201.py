"""Any of the four methods as an NNI strategy on the hub space NasBench201, evaluated from the
NAS-Bench-201 table.

    python examples/nni_nb201.py [--method seki|lapt|collm-nas|gpt-ea] [--models 30] [--webui]

Without --webui the experiment runs in process (NNI's sequential engine). With --webui it runs
NNI's default engine: the node manager, the web UI on http://localhost:8081 and one trial
subprocess per model, two at a time (the strategy fills both workers from one LLM answer).
"""

from __future__ import annotations

import argparse
import logging

from nni.nas.experiment import NasExperiment, NasExperimentConfig

from llmnas.benchmarks import NasBench201Table
from nni_llm_strategies import CoLLMNASStrategy, GPTEAStrategy, LAPTStrategy, SEKIStrategy
from nni_llm_strategies.benchmarks import nas_bench_201_evaluator, nas_bench_201_space

STRATEGIES = {"seki": SEKIStrategy, "lapt": LAPTStrategy, "collm-nas": CoLLMNASStrategy, "gpt-ea": GPTEAStrategy}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--method", choices=sorted(STRATEGIES), default="seki")
    parser.add_argument("--models", type=int, default=30)
    parser.add_argument("--dataset", default="cifar10")
    parser.add_argument("--llm", default=None)
    parser.add_argument("--webui", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    table = NasBench201Table(args.dataset)
    strategy = STRATEGIES[args.method](llm=args.llm, seed=0)
    evaluator = nas_bench_201_evaluator(args.dataset, path=table.file)
    space = nas_bench_201_space(args.dataset)
    if args.webui:
        experiment = NasExperiment(space, evaluator, strategy)
        experiment.config.max_trial_number = args.models
        experiment.config.trial_concurrency = 2
        experiment.run(port=8081)
    else:
        config = NasExperimentConfig("sequential", "simplified")
        config.max_trial_number = args.models
        NasExperiment(space, evaluator, strategy, config).run()

    for model in strategy.list_models(limit=3):
        print(model.metric, model.sample)
    summary = strategy.summary()
    print(f"{summary['method']}: best valid {summary['best']:.2f}; pipeline {summary['pipeline']}")


if __name__ == "__main__":
    main()
