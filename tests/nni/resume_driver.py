"""Runs (or resumes) an NNI web-UI experiment with a SEKIStrategy in its own process, so a
test can kill the process mid-run and resume the experiment from another one.

    python -m tests.nni.resume_driver run|resume --id ID --workdir DIR --port P --llm URL --budget N
"""

from __future__ import annotations

import argparse
import json
import logging
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("action", choices=["run", "resume"])
    parser.add_argument("--id", required=True)
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--llm", required=True)
    parser.add_argument("--budget", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--method", default="SEKI")
    parser.add_argument("--result", default=None, help="write the strategy's records and summary here (JSON)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)

    import functools

    import nni.experiment.launcher as launcher
    from nni.nas.evaluator import FunctionalEvaluator
    from nni.nas.experiment import NasExperiment, NasExperimentConfig

    import nni_llm_strategies
    from tests.nni.spaces import TinySpace, evaluate_slowly

    # NNI gives its node manager 3 s to answer /check-status after starting it (3 retries of
    # launcher._check_rest_server), and fails with "Connection refused" when a loaded machine
    # starts it more slowly (seen once in CI on resume). These tests are about resuming, not
    # about how fast NNI starts: give it a minute.
    launcher._check_rest_server = functools.partial(launcher._check_rest_server, retry=60)

    strategy = getattr(nni_llm_strategies, f"{args.method}Strategy")(seed=0, llm=args.llm)
    evaluator = FunctionalEvaluator(evaluate_slowly)
    config = NasExperimentConfig.default(TinySpace(), evaluator, strategy)
    config.trial_concurrency = args.concurrency
    config.max_trial_number = args.budget
    config.experiment_working_directory = args.workdir
    experiment = NasExperiment(TinySpace(), evaluator, strategy, config, id=args.id)
    try:
        if args.action == "run":
            experiment.run(port=args.port)
        else:
            experiment.resume(port=args.port)
    finally:
        experiment.stop()
    if args.result:
        with open(args.result, "w") as f:
            json.dump({"records": strategy.records(), "summary": strategy.summary(),
                       "knowledge": strategy.knowledge.items()}, f, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
