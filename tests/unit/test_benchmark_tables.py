"""The look-up benchmarks on their real tables (../shared/benchmarks and the nas-bench-graph
package): sizes, published optima, query round trips, clear errors, the registry."""

from __future__ import annotations

import doctest
import importlib
import importlib.util
import math
import pickle
import time

import numpy as np
import pytest

from llmnas.benchmarks import (
    AbsentArchitectureError,
    GraphBenchTable,
    NasBenchMacroTable,
    TabularBenchmark,
    TransNas101Table,
    benchmark_names,
    load_benchmark,
)
from llmnas.benchmarks.macro import MACRO_FILE, MACRO_LAYERS, arch_to_config
from llmnas.benchmarks.tables import find_benchmark_file
from llmnas.benchmarks.transnas import (
    MACRO_MODULES,
    MICRO_EDGES,
    TRANSNAS_SPACES,
    TRANSNAS_TASKS,
    macro_rule_problems,
)

HAS_GRAPH = importlib.util.find_spec("nas_bench_graph") is not None
needs_graph = pytest.mark.skipif(not HAS_GRAPH, reason="pip install nas-bench-graph (in the dev extra)")

DOCTEST_MODULES = [
    "llmnas.benchmarks._lookup", "llmnas.benchmarks.macro", "llmnas.benchmarks.transnas",
    "llmnas.benchmarks.registry",
    pytest.param("llmnas.benchmarks.graph", marks=needs_graph),
]


@pytest.mark.parametrize("name", DOCTEST_MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


# --------------------------------------------------------------------------------------------
# Registry and protocol
# --------------------------------------------------------------------------------------------
def test_registry_lists_every_benchmark():
    names = benchmark_names()
    assert {"nb201-cifar10", "macro-cifar10", "transnas-micro-class_scene", "transnas-macro-room_layout",
            "graph-cora", "graph-proteins"} <= set(names)
    assert len([n for n in names if n.startswith("transnas-")]) == 14
    assert len([n for n in names if n.startswith("graph-")]) == 9
    with pytest.raises(ValueError, match="unknown benchmark 'transnas-micro-nope'.*macro-cifar10"):
        load_benchmark("transnas-micro-nope")


def _protocol_names():
    return [pytest.param(n, marks=needs_graph) if n.startswith("graph-") else n
            for n in benchmark_names() if not n.startswith("nb201")]


@pytest.mark.parametrize("name", _protocol_names())
def test_each_benchmark_follows_the_protocol(name):
    bench = load_benchmark(name)
    assert isinstance(bench, TabularBenchmark) and bench.name == name
    assert bench.description and "bench" not in bench.description.lower()
    values = bench.values(bench.search_metric)
    assert len(values) == len(bench) and np.isfinite(values).all() and not values.flags.writeable
    assert bench.direction(bench.search_metric) == bench.direction(bench.report_metric) == "maximize"
    best = bench.optimum(bench.search_metric)
    assert best.value == values.max() and best.index in best.ties
    metrics = bench.query(best.config)
    assert metrics[bench.search_metric] == best.value and metrics["index"] == best.index
    assert bench.report_metric in metrics and bench.space().validate(best.config) == []
    assert bench.contains(best.config) and bench.problems(best.config) == []
    assert bench.rank(best.value) == 1 and bench.regret(best.value) == 0.0
    top = bench.top_pairs(3)
    assert top[0][1] == best.value and top[0][1] >= top[1][1] >= top[2][1]
    assert bench.optimum(bench.report_metric).value >= metrics[bench.report_metric]
    with pytest.raises(ValueError, match="unknown metric 'nope'"):
        bench.values("nope")
    with pytest.raises(ValueError, match="needs exactly the dimensions"):
        bench.query({"nope": 1})
    clone = pickle.loads(pickle.dumps(bench))
    assert clone.name == name and clone.query(best.config) == metrics


# --------------------------------------------------------------------------------------------
# NAS-Bench-Macro
# --------------------------------------------------------------------------------------------
def test_macro_table_matches_the_published_checks():
    start = time.perf_counter()
    bench = NasBenchMacroTable()
    assert time.perf_counter() - start < 1.0
    assert len(bench) == 6561 == bench.space().size()
    assert (bench.search_metric, bench.report_metric) == ("test_acc_seed0", "test_acc_heldout")
    best = bench.optimum("test_acc")
    assert round(best.value, 3) == 93.127 and best.ties == (6473, 6477)
    assert round(float(bench.values("test_acc").mean()), 2) == 90.25
    seeds = [bench.values(f"test_acc_seed{i}") for i in range(3)]
    np.testing.assert_allclose(bench.values("test_acc_heldout"), (seeds[1] + seeds[2]) / 2)
    np.testing.assert_allclose(bench.values("test_acc"), sum(seeds) / 3, atol=1e-4)
    assert bench.direction("params_M") == "minimize" and 0.38 < bench.values("params_M").min() < 0.39


def test_macro_query_round_trip_and_errors():
    bench = NasBenchMacroTable()
    for config in bench.configs()[::97]:
        metrics = bench.query(config)
        assert arch_to_config(metrics["arch"]) == config and int(metrics["arch"], 3) == metrics["index"]
    first = bench.query_arch("02012100")  # the table's first row
    assert (first["test_acc_seed0"], first["test_acc_seed1"], first["test_acc_seed2"]) == (89.47, 88.95, 89.17)
    assert first["params_M"] == pytest.approx(0.890666) and first["flops_M"] == pytest.approx(47.327744)
    config = dict(arch_to_config("02012100"), **{"layer/3": "conv_3x3"})
    with pytest.raises(ValueError, match=r"layer/3: 'conv_3x3' is not one of \['identity', 'mb_k3_e3', 'mb_k5_e6'\]"):
        bench.query(config)
    with pytest.raises(ValueError, match="layer/8: missing"):
        bench.query({layer: "identity" for layer in MACRO_LAYERS[:7]})
    with pytest.raises(ValueError, match="8 digits 0-2"):
        bench.query_arch("0201210")


def test_tables_are_found_by_path_or_fail_clearly(tmp_path):
    file = find_benchmark_file(MACRO_FILE)
    assert NasBenchMacroTable(path=file.parent).file == file == NasBenchMacroTable(path=file).file
    with pytest.raises(FileNotFoundError, match="nas_bench_macro_cifar10.csv.gz"):
        NasBenchMacroTable(path=tmp_path)
    with pytest.raises(FileNotFoundError, match="transnas101_subset.csv.gz"):
        load_benchmark("transnas-micro-jigsaw", path=tmp_path)


# --------------------------------------------------------------------------------------------
# TransNAS-Bench-101 subset
# --------------------------------------------------------------------------------------------
# (space, task): (architectures, best val_accuracy, its arch code)
TRANSNAS_OPTIMA = {
    ("micro", "class_scene"): (711, 54.79697, "3_12_212"),
    ("micro", "jigsaw"): (711, 94.99403, "0_32_223"),
    ("micro", "room_layout"): (711, -0.6094988, "3_11_310"),
    ("macro", "class_object"): (662, 47.47213, "212311"),
    ("macro", "jigsaw"): (725, 96.91978, "2213"),
    ("macro", "autoencoder"): (725, 0.7687846, "221113"),
}


@pytest.mark.parametrize(("space", "task"), sorted(TRANSNAS_OPTIMA))
def test_transnas_sizes_and_optima(space, task):
    size, value, arch = TRANSNAS_OPTIMA[(space, task)]
    bench = load_benchmark(f"transnas-{space}-{task}")
    assert len(bench) == size == bench.space().size()
    assert bench.search_metric == bench.report_metric == "val_accuracy"
    best = bench.optimum()
    assert best.value == pytest.approx(value) and best.config == {"arch": arch}
    assert bench.query_arch(arch)["val_accuracy"] == pytest.approx(value)


def test_transnas_every_task_is_there_and_every_choice_is_in_the_table():
    sizes = {(s, t): len(TransNas101Table(s, t)) for s in TRANSNAS_SPACES for t in TRANSNAS_TASKS}
    assert all(n == 711 for (s, _), n in sizes.items() if s == "micro")
    assert sizes[("macro", "class_scene")] == sizes[("macro", "class_object")] == 662
    assert all(n == 725 for (s, t), n in sizes.items() if s == "macro" and not t.startswith("class"))
    bench = TransNas101Table("macro", "normal")
    configs = bench.configs()
    assert [c["arch"] for c in configs] == list(bench.space()["arch"].choices)
    assert all(not macro_rule_problems(bench.query(c)["arch"].ljust(6, "0")) for c in configs)
    assert bench.query({"arch": "1242"})["tnb_arch_str"] == "64-1242-basic"


def test_transnas_structured_encoding_rejects_absent_cells_clearly():
    flat = TransNas101Table("micro", "class_scene")
    cells = TransNas101Table("micro", "class_scene", encoding="cells")
    assert cells.space().names == list(MICRO_EDGES) and cells.space().size() == 4096
    assert sum(cells.contains(cells.config_of_arch(c["arch"])) for c in flat.configs()) == 711
    for config in flat.configs()[::50]:  # both encodings agree
        assert cells.query(cells.config_of_arch(config["arch"])) == flat.query(config)
    empty = {edge: "none" for edge in MICRO_EDGES}
    with pytest.raises(AbsentArchitectureError, match="'0_00_000' is not in this subset.*711 of the 4096") as info:
        cells.query(empty)
    assert isinstance(info.value, KeyError) and not cells.contains(empty) and len(cells.problems(empty)) == 1
    with pytest.raises(AbsentArchitectureError, match="not in this subset"):
        flat.query({"arch": "0_00_000"})
    with pytest.raises(ValueError, match="not a micro architecture code"):
        flat.query({"arch": "000000"})
    with pytest.raises(ValueError, match="cell/0_1: 'avg_pool_3x3' is not one of"):
        cells.query(dict(empty, **{"cell/0_1": "avg_pool_3x3"}))

    macro = TransNas101Table("macro", "jigsaw", encoding="cells")
    assert macro.space().names == list(MACRO_MODULES) and macro.space().size() == 6400
    assert macro.problems(macro.config_of_arch("1242")) == []
    (problem,) = macro.problems(macro.config_of_arch("1111"))
    assert "not a network of the space" in problem and "halved 0 times" in problem
    hole = dict(macro.config_of_arch("1242"), **{"module/6": "keep"})
    hole["module/5"] = "none"
    assert "followed by a module" in macro.problems(hole)[0]


def test_transnas_optuna_objective_fails_absent_cells_with_nan():
    class Trial:
        def __init__(self, ops):
            self.ops, self.user_attrs = ops, {}

        def suggest_categorical(self, name, choices):
            return self.ops[name]

        def set_user_attr(self, key, value):
            self.user_attrs[key] = value

    cells = TransNas101Table("micro", "jigsaw", encoding="cells")
    objective = pickle.loads(pickle.dumps(cells.optuna_objective()))
    trial = Trial({edge: "none" for edge in MICRO_EDGES})
    assert math.isnan(objective(trial)) and "not in this subset" in trial.user_attrs["absent"]
    best = cells.optimum()
    trial = Trial(best.config)
    assert objective(trial) == best.value and trial.user_attrs["arch"] == "0_32_223"


def test_transnas_unknown_names_are_clear():
    with pytest.raises(ValueError, match="unknown TransNAS-Bench-101 task 'segmentation'.*segmentsemantic"):
        TransNas101Table("micro", "segmentation")
    with pytest.raises(ValueError, match="unknown TransNAS-Bench-101 space 'meso'"):
        TransNas101Table("meso", "jigsaw")
    with pytest.raises(ValueError, match="unknown encoding 'ops'"):
        TransNas101Table("micro", "jigsaw", encoding="ops")


# --------------------------------------------------------------------------------------------
# NAS-Bench-Graph (the nas-bench-graph package's data)
# --------------------------------------------------------------------------------------------
@needs_graph
def test_graph_tables_match_the_package():
    from nas_bench_graph import Arch, light_read

    start = time.perf_counter()
    bench = GraphBenchTable("citeseer")
    assert time.perf_counter() - start < 1.0
    raw = light_read("citeseer")
    assert len(bench) == len(raw) == 26206 and bench.space().size() == 9 * 9**4
    assert bench.optimum("test_perf").value == max(v["perf"] for v in raw.values())
    assert round(bench.optimum("valid_perf").value, 4) == 0.728
    rng = np.random.default_rng(0)
    for _ in range(50):
        config = bench.space().sample(rng)
        if all(config[f"op{i}"] == "skip" for i in range(1, 5)):
            continue
        key = Arch([int(c) for c in config["link"]], [config[f"op{i}"] for i in range(1, 5)]).valid_hash()
        metrics = bench.query(config)
        assert metrics["key"] == key
        assert (metrics["valid_perf"], metrics["test_perf"]) == (raw[key]["valid_perf"], raw[key]["perf"])


@needs_graph
def test_graph_keys_are_canonical_and_isomorphs_share_metrics():
    bench = GraphBenchTable("cora")
    for config in bench.configs():  # every stored key is its own canonical form
        assert bench.key_of(config) == bench.query(config)["key"]
    parallel = {"link": "0000", "op1": "gcn", "op2": "gat", "op3": "sage", "op4": "fc"}
    swapped = {"link": "0000", "op1": "fc", "op2": "sage", "op3": "gat", "op4": "gcn"}
    assert bench.query(parallel) == bench.query(swapped)
    assert round(bench.optimum("test_perf").value, 4) == 0.8313
    assert bench.direction("latency") == bench.direction("params_M") == "minimize"
    no_layer = {"link": "0123", "op1": "skip", "op2": "skip", "op3": "skip", "op4": "skip"}
    with pytest.raises(AbsentArchitectureError, match="four skip ops"):
        bench.query(no_layer)
    assert not bench.contains(no_layer)
    with pytest.raises(ValueError, match="op1: 'conv' is not one of"):
        bench.query(dict(no_layer, op1="conv"))


@needs_graph
def test_graph_proteins_has_its_five_ops():
    bench = load_benchmark("graph-proteins")
    assert len(bench) == 2021 and bench.space()["op1"].choices == ("gcn", "sage", "arma", "fc", "skip")
    assert bench.space().size() == 9 * 5**4
    assert round(bench.optimum("test_perf").value, 4) == 0.7926
    with pytest.raises(ValueError, match="op2: 'gat' is not one of"):
        bench.query({"link": "0000", "op1": "gcn", "op2": "gat", "op3": "gcn", "op4": "gcn"})
    with pytest.raises(ValueError, match="unknown NAS-Bench-Graph dataset 'reddit'"):
        GraphBenchTable("reddit")
