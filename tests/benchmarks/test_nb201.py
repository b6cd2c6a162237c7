"""NAS-Bench-201 as a benchmark: the table, its Optuna objective and its NNI evaluator."""

from __future__ import annotations

import csv
import functools
import gzip
import pickle
import shutil
import socket
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from llmnas.benchmarks import (
    ENV_VAR,
    NB201_DATASETS,
    NB201_EDGES,
    NB201_LATENCY_COLUMNS,
    NB201_OPS,
    NasBench201Table,
    arch_str_to_config,
    config_to_arch_str,
    config_to_ops,
    find_benchmark_file,
    ops_to_config,
)
from llmnas.space import Categorical

# The README's check values: best test, best valid, mean test (2 decimals), best-test cell.
CHECKS = {
    "cifar10": (94.3733, 91.6067, 87.06, 6111),
    "cifar100": (73.5133, 73.4933, 61.39, 9930),
    "imagenet16": (47.3111, 46.7333, 33.57, 857),
}
BEST_CIFAR10 = {  # cell 6111: |nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|
    "cell/0_1": "conv_3x3", "cell/0_2": "conv_3x3", "cell/1_2": "conv_3x3",
    "cell/0_3": "skip_connect", "cell/1_3": "conv_3x3", "cell/2_3": "conv_1x1",
}


@pytest.fixture(autouse=True)
def _no_env_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)


@pytest.fixture
def nni_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Keep NNI's files (``~/nni-experiments``, its config dir) inside the test's tmp folder."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("NNI_CONFIG_DIR", str(tmp_path / "nni-config"))
    return home


@functools.lru_cache(maxsize=1)
def _raw_rows() -> dict[int, dict[str, str]]:
    """The CSV read independently of the library, keyed by official index."""
    with gzip.open(find_benchmark_file("nb201.csv.gz"), "rt", newline="") as handle:
        return {int(row["nb201_index"]): row for row in csv.DictReader(handle)}


# -- the table --------------------------------------------------------------------------------
@pytest.mark.parametrize("dataset", NB201_DATASETS)
def test_readme_check_values(dataset: str) -> None:
    best_test, best_valid, mean_test, best_cell = CHECKS[dataset]
    table = NasBench201Table(dataset)
    assert len(table) == 15625
    test = table.optimum("test_acc")
    assert round(test.value, 4) == best_test
    assert best_cell in test.ties and table.query(test.config)["test_acc"] == test.value
    assert round(table.optimum("valid_acc").value, 4) == best_valid
    assert round(float(table.values("test_acc").mean()), 2) == mean_test
    assert table.rank(test.value, "test_acc") == 1
    assert table.percentile(test.value, "test_acc") == 100.0
    assert table.regret(test.value, "test_acc") == 0.0


def test_cifar10_best_test_is_shared_by_two_cells() -> None:
    best = NasBench201Table("cifar10").optimum("test_acc")
    assert len(best.ties) == 2 and best.index == 6111 and best.config == BEST_CIFAR10


def test_query_known_cell() -> None:
    metrics = NasBench201Table("cifar10").query(BEST_CIFAR10)
    assert metrics["index"] == 6111
    assert metrics["ops"] == "333132"
    assert metrics["arch_str"] == (
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"
    )
    assert metrics["test_acc"] == pytest.approx(94.373333)
    assert metrics["valid_acc"] == pytest.approx(91.606667)
    assert metrics["test_rank"] == 2  # tied with cell 13714, which the ranking puts first
    assert metrics["latency_ms"] == metrics["lat_titan_rtx_1_ms"]
    assert all(type(v) is float for k, v in metrics.items() if k not in ("index", "test_rank", "arch_str", "ops"))


@pytest.mark.parametrize("dataset", NB201_DATASETS)
def test_query_matches_raw_csv_columns(dataset: str) -> None:
    rows = _raw_rows()
    table = NasBench201Table(dataset, latency_column="lat_pixel3_ms")
    for index in (0, 1, 857, 6111, 9930, 15624):
        raw, got = rows[index], table.query_index(index)
        assert table.query(table.config_of_index(index)) == got
        assert got["valid_acc"] == float(raw[f"{dataset}_valid"])
        assert got["test_acc"] == float(raw[f"{dataset}_test"])
        assert got["test_acc_12ep"] == float(raw[f"{dataset}_test_12ep"])
        assert got["params_M"] == float(raw[f"params_{dataset}_M"])
        assert got["flops_M"] == float(raw[f"flops_{dataset}_M"])
        assert got["test_rank"] == int(float(raw[f"{dataset}_test_rank"]))
        assert got["latency_ms"] == float(raw["lat_pixel3_ms"])
        assert all(got[c] == float(raw[c]) for c in NB201_LATENCY_COLUMNS)
        assert (got["index"], got["arch_str"], got["ops"]) == (index, raw["arch_str"], raw["ops"])


def test_op_maps_agree_with_every_row() -> None:
    table = NasBench201Table("cifar10")
    for index in range(len(table)):
        metrics = table.query_index(index)
        config = ops_to_config(metrics["ops"])
        assert config_to_arch_str(config) == metrics["arch_str"]
        assert arch_str_to_config(metrics["arch_str"]) == config
        assert config_to_ops(config) == metrics["ops"]


def test_space_and_official_op_names() -> None:
    space = NasBench201Table.space()
    assert space.names == list(NB201_EDGES)
    for dim in space:
        assert isinstance(dim, Categorical) and dim.choices == NB201_OPS
        assert dim.descriptions is not None and all(dim.descriptions)
    table = NasBench201Table("cifar10")
    official = {edge: op.replace("conv_", "nor_conv_") for edge, op in BEST_CIFAR10.items()}
    assert table.query(official)["index"] == 6111
    rng = np.random.default_rng(0)
    for _ in range(20):
        config = space.sample(rng)
        assert table.objective(config) == table.query(config)["valid_acc"]


def test_directions_and_minimized_optimum() -> None:
    table = NasBench201Table("cifar100")
    assert table.direction("valid_acc") == "maximize"
    assert table.direction("latency_ms") == table.direction("params_M") == "minimize"
    fastest = table.optimum("latency_ms")
    assert fastest.value == float(table.values("latency_ms").min())
    assert table.rank(fastest.value, "latency_ms") == 1
    assert table.optimum("valid_acc", direction="minimize").value == float(table.values("valid_acc").min())


def test_bad_input_raises_value_error_naming_what_is_valid() -> None:
    with pytest.raises(ValueError, match="cifar10.*cifar100.*imagenet16"):
        NasBench201Table("mnist")
    assert NasBench201Table("ImageNet16-120").dataset == "imagenet16"
    table = NasBench201Table("cifar10")
    with pytest.raises(ValueError, match=r"cell/2_3: 'max_pool_3x3'.*avg_pool_3x3"):
        table.query({**BEST_CIFAR10, "cell/2_3": "max_pool_3x3"})
    with pytest.raises(ValueError, match=r"missing \['cell/0_1'\]"):
        table.query({k: v for k, v in BEST_CIFAR10.items() if k != "cell/0_1"})
    with pytest.raises(ValueError, match=r"unknown \['cell/3_4'\]"):
        table.query({**BEST_CIFAR10, "cell/3_4": "none"})
    with pytest.raises(ValueError, match="unknown metric 'accuracy'.*valid_acc"):
        table.objective(BEST_CIFAR10, "accuracy")
    with pytest.raises(ValueError, match="0-15624"):
        table.query_index(15625)
    with pytest.raises(ValueError, match="latency column.*lat_titan_rtx_1_ms"):
        NasBench201Table("cifar10", latency_column="lat_gpu")
    with pytest.raises(ValueError, match="arch_str"):
        arch_str_to_config("|conv~0|+|conv~0|conv~1|")


# -- locating the data --------------------------------------------------------------------------
def test_missing_path_says_where_it_looked(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError) as info:
        NasBench201Table("cifar10", path=tmp_path)
    message = str(info.value)
    assert str(tmp_path) in message and ENV_VAR in message and "path=" in message


def test_env_var_missing_file_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, str(tmp_path))
    with pytest.raises(FileNotFoundError, match=ENV_VAR):
        NasBench201Table("cifar10")


def test_env_var_and_path_argument_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    default = find_benchmark_file("nb201.csv.gz")
    copy_dir = tmp_path / "elsewhere"
    copy_dir.mkdir()
    shutil.copy(default, copy_dir / "nb201.csv.gz")
    monkeypatch.setenv(ENV_VAR, str(copy_dir))
    table = NasBench201Table("cifar100")
    assert table.file == (copy_dir / "nb201.csv.gz").resolve()
    assert table.query(BEST_CIFAR10) == NasBench201Table("cifar100", path=default).query(BEST_CIFAR10)
    # The argument wins over the environment; a file path works as well as a directory.
    assert NasBench201Table("cifar100", path=default).file == default


def test_found_from_another_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # the package's own location still leads to ../shared/benchmarks
    assert NasBench201Table("cifar10").file == find_benchmark_file("nb201.csv.gz")


def test_table_pickles_by_location() -> None:
    table = NasBench201Table("imagenet16", latency_column="lat_raspi4_ms")
    clone = pickle.loads(pickle.dumps(table))
    assert (clone.dataset, clone.file, clone.latency_column) == (table.dataset, table.file, "lat_raspi4_ms")
    assert len(pickle.dumps(table)) < 1000


# -- Optuna ----------------------------------------------------------------------------------
def test_optuna_objective_under_a_real_study() -> None:
    optuna = pytest.importorskip("optuna")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    table = NasBench201Table("cifar10")
    objective = table.optuna_objective("valid_acc")
    objective = pickle.loads(pickle.dumps(objective))  # picklable for multi-process runs
    study = optuna.create_study(direction=table.direction("valid_acc"),
                                sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(objective, n_trials=20)
    assert len(study.trials) == 20
    for trial in study.trials:
        assert trial.state == optuna.trial.TrialState.COMPLETE
        assert list(trial.params) == list(NB201_EDGES)
        expected = table.query(trial.params)
        assert trial.value == expected["valid_acc"]
        assert trial.user_attrs == {k: v for k, v in expected.items() if k != "valid_acc"}
    assert study.best_value == max(t.value for t in study.trials)


def test_optuna_objective_rejects_unknown_metric() -> None:
    with pytest.raises(ValueError, match="unknown metric"):
        NasBench201Table("cifar10").optuna_objective("top1")


# -- NNI -----------------------------------------------------------------------------------------
@pytest.fixture
def nni_bench(nni_home: Path) -> Any:
    pytest.importorskip("nni")
    from nni_llm_strategies import benchmarks

    return benchmarks


def _run_sequential(strategy: Any, evaluator: Any, n: int) -> tuple[list[Any], list[dict[str, Any]]]:
    from nni.nas.execution import SequentialExecutionEngine
    from nni.nas.execution.event import ModelEventType
    from nni.nas.space import SimplifiedModelSpace

    from nni_llm_strategies.benchmarks import nas_bench_201_space

    reported: list[dict[str, Any]] = []
    engine = SequentialExecutionEngine(max_model_count=n, continue_on_failure=False)
    engine.register_model_event_callback(ModelEventType.FinalMetric, lambda event: reported.append(
        {"sample": dict(event.model.sample), "metric": event.metric}))
    strategy(SimplifiedModelSpace.from_model(nas_bench_201_space(), evaluator), engine)
    return list(engine.list_models()), reported


def test_space_matches_nni_hub_labels_and_ops(nni_bench: Any) -> None:
    hub = nni_bench.nas_bench_201_space().simplify()
    ours = NasBench201Table.space()
    assert list(hub) == ours.names
    for dim in ours:
        assert hub[dim.name].label == dim.name
        assert tuple(hub[dim.name].values) == dim.choices


@pytest.mark.parametrize("strategy_name", ["Random", "RegularizedEvolution"])
def test_nni_evaluator_reports_table_metrics(nni_bench: Any, strategy_name: str) -> None:
    from nni.nas import strategy as nni_strategy

    strategy = (nni_strategy.Random(seed=0) if strategy_name == "Random"
                else nni_strategy.RegularizedEvolution(population_size=4, sample_size=2, seed=0))
    table = NasBench201Table("cifar100")
    evaluator = nni_bench.nas_bench_201_evaluator("cifar100", metric="valid_acc")
    models, reported = _run_sequential(strategy, evaluator, 10)
    assert len(models) == len(reported) == 10
    for model, event in zip(models, reported):
        expected = table.query(model.sample)
        assert event["sample"] == model.sample
        assert model.metrics.final == expected["valid_acc"]
        metric = event["metric"]
        assert metric["default"] == expected["valid_acc"]
        for key in ("valid_acc", "test_acc", "test_acc_12ep", "params_M", "flops_M", "latency_ms"):
            assert type(metric[key]) is float and metric[key] == expected[key]
        assert metric["index"] == expected["index"]


def test_nni_evaluator_negates_a_metric_to_minimize(nni_bench: Any) -> None:
    from nni.nas.strategy import Random

    table = NasBench201Table("cifar10")
    evaluator = nni_bench.nas_bench_201_evaluator("cifar10", metric="latency_ms", negate=True)
    models, reported = _run_sequential(Random(seed=2), evaluator, 3)
    for model, event in zip(models, reported):
        latency = table.query(model.sample)["latency_ms"]
        assert model.metrics.final == -latency and event["metric"]["latency_ms"] == latency
    with pytest.raises(ValueError, match="unknown metric"):
        nni_bench.nas_bench_201_evaluator("cifar10", metric="top1")


def test_nni_evaluator_survives_serialization(nni_bench: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What NNI's web-UI engine does: dump the frozen model with its evaluator, load it in the
    trial process (another directory, no environment) and execute it."""
    import nni
    from nni.nas.execution import SequentialExecutionEngine
    from nni.nas.space import ModelStatus, SimplifiedModelSpace

    evaluator = nni_bench.nas_bench_201_evaluator("imagenet16", metric="test_acc")
    assert Path(evaluator.arguments["path"]).is_absolute()
    space = SimplifiedModelSpace.from_model(nni_bench.nas_bench_201_space("imagenet16"), evaluator)
    frozen = space.freeze({**BEST_CIFAR10})
    payload = nni.dump(frozen)
    monkeypatch.chdir(tmp_path)
    loaded = nni.load(payload)
    loaded.status = ModelStatus(loaded.status)  # nni.load leaves a plain str; trials ignore it
    SequentialExecutionEngine().submit_models(loaded)
    assert loaded.metrics.final == NasBench201Table("imagenet16").query(BEST_CIFAR10)["test_acc"]


def test_sample_is_read_from_the_model_not_a_stale_trial(nni_bench: Any) -> None:
    import nni
    import torch
    from nni.nas.strategy import Random

    evaluator = nni_bench.nas_bench_201_evaluator("cifar10")
    models, _ = _run_sequential(Random(seed=1), evaluator, 2)
    # After a sequential run NNI keeps the last model as the "current parameter".
    stale = nni.get_current_parameter()
    assert stale is None or stale.sample == models[-1].sample
    space = nni_bench.nas_bench_201_space()
    module = space.freeze(BEST_CIFAR10)
    assert nni_bench.sample_of_model(module) == BEST_CIFAR10
    assert nni_bench.evaluate_nas_bench_201(module, "cifar10")["index"] == 6111
    with pytest.raises(ValueError, match="LayerChoice.*is the model frozen"):
        nni_bench.sample_of_model(space)  # not frozen: edges still hold LayerChoices
    with pytest.raises(ValueError, match="no NasBench201Cell"):
        nni_bench.sample_of_model(torch.nn.Linear(2, 2))  # the stale trial sample is not used


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
def test_nni_web_ui_engine_runs_trials_in_subprocesses(
    nni_bench: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The default NasExperiment (NNI manager, a subprocess per trial): about 30 s."""
    import json
    import os
    import sqlite3

    import llmnas
    from nni.nas.experiment import NasExperiment
    from nni.nas.strategy import Random

    # Trials start in the launch directory with this environment: they must import the project.
    project_root = str(Path(llmnas.__file__).resolve().parent.parent)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [project_root, os.environ.get("PYTHONPATH")])))
    monkeypatch.chdir(tmp_path)
    evaluator = nni_bench.nas_bench_201_evaluator("cifar100")
    experiment = NasExperiment(nni_bench.nas_bench_201_space("cifar100"), evaluator, Random(seed=1))
    experiment.config.max_trial_number = 3
    experiment.config.trial_concurrency = 2
    experiment.config.experiment_working_directory = str(tmp_path / "experiments")
    try:
        experiment.run(port=_free_port(), wait_completion=True)
    finally:
        experiment.stop()
    database = tmp_path / "experiments" / experiment.id / "db" / "nni.sqlite"
    with sqlite3.connect(database) as db:
        finals = [json.loads(json.loads(data)) for (data,) in
                  db.execute("SELECT data FROM MetricData WHERE type = 'FINAL'")]
    assert len(finals) == 3
    table = NasBench201Table("cifar100")
    for metric in finals:
        expected = table.query_index(metric["index"])
        assert metric["default"] == expected["valid_acc"] and metric["test_acc"] == expected["test_acc"]
