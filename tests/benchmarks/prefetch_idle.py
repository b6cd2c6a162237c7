"""How long trials wait for the LLM, with and without prefetching: 4 worker threads, an
endpoint that takes SLOW_S per answer, an objective that takes OBJECTIVE_S.

    .venv/bin/python -m tests.benchmarks.prefetch_idle [--trials 40] [--slow 1.0] [--objective 0.5]

A trial's idle time is from its start to the start of the objective's own work (the
sampler's part, LLM wait included). Prints a markdown table; used for the README."""

from __future__ import annotations

import argparse
import random
import statistics
import threading
import time

import optuna

from optuna_llm_samplers import CoLLMNASSampler, GPTEASampler, LAPTSampler, SEKISampler
from tests.fake_openai import FakeOpenAIServer, generate_from_schema
from tests.optuna.conftest import EDGES, OPS, nas_score

SAMPLERS = {"SEKI": SEKISampler, "LAPT": LAPTSampler, "CoLLM-NAS": CoLLMNASSampler, "GPT-EA": GPTEASampler}


def measure(sampler_class, *, prefetch: bool, trials: int, slow_s: float, objective_s: float,
            workers: int = 4) -> dict[str, float]:
    def slow_answer(body, schema, rng: random.Random):
        time.sleep(slow_s)
        return generate_from_schema(schema, rng) if schema else {"answer": "ok"}

    idle: list[float] = []
    lock = threading.Lock()

    def objective(trial: optuna.Trial) -> float:
        params = {e: trial.suggest_categorical(e, list(OPS)) for e in EDGES}
        started = time.time()
        with lock:
            idle.append(started - trial._cached_frozen_trial.datetime_start.timestamp())
        time.sleep(objective_s)
        return nas_score(params)

    with FakeOpenAIServer(seed=0, responder=slow_answer) as server:
        sampler = sampler_class(seed=0, budget=trials, llm=server.base_url, prefetch=prefetch)
        study = optuna.create_study(direction="maximize", sampler=sampler)
        start = time.perf_counter()
        study.optimize(objective, n_trials=trials, n_jobs=workers)
        wall = time.perf_counter() - start
    return {"wall_s": wall, "idle_mean_s": statistics.mean(idle), "idle_total_s": sum(idle),
            "llm_calls": sampler.summary()["pipeline"]["llm_calls"],
            "distinct": len({tuple(sorted(t.params.items())) for t in study.trials})}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--slow", type=float, default=1.0)
    parser.add_argument("--objective", type=float, default=0.5)
    parser.add_argument("--methods", nargs="*", default=list(SAMPLERS))
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    print(f"{args.trials} trials, 4 threads, LLM answer {args.slow} s, objective {args.objective} s\n")
    print("| method | prefetch | wall | idle per trial (mean) | idle in all | LLM calls | distinct |")
    print("|---|---|---|---|---|---|---|")
    for name in args.methods:
        for prefetch in (False, True):
            r = measure(SAMPLERS[name], prefetch=prefetch, trials=args.trials, slow_s=args.slow,
                        objective_s=args.objective)
            print(f"| {name} | {'on' if prefetch else 'off'} | {r['wall_s']:.1f} s | {r['idle_mean_s']:.2f} s | "
                  f"{r['idle_total_s']:.1f} s | {r['llm_calls']} | {r['distinct']}/{args.trials} |", flush=True)


if __name__ == "__main__":
    main()
