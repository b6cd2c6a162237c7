"""The core search space: validation, decoding of LLM answers, schema, sampling, identity."""

from __future__ import annotations

import math

import numpy as np
import pytest

from llmnas import Categorical, Float, Integer, MultiChoice, SearchSpace

OPS = ["none", "skip_connect", "conv_1x1", "conv_3x3", "avg_pool_3x3"]


@pytest.fixture()
def space() -> SearchSpace:
    return SearchSpace([
        Categorical("op", OPS, descriptions=["zero", "identity", "1x1 conv", "3x3 conv", "3x3 avg pool"]),
        Categorical("width", [16, 32, 64]),
        Categorical("flag", [True, False, None]),
        Integer("depth", 2, 20, step=2),
        Integer("units", 1, 1024, log=True),
        Float("lr", 1e-5, 1e-1, log=True),
        Float("drop", 0.0, 0.5, step=0.1),
        MultiChoice("inputs", [0, 1, 2, 3], n_chosen=2),
    ])


def valid(space: SearchSpace) -> dict:
    return {"op": "conv_3x3", "width": 32, "flag": None, "depth": 4, "units": 100,
            "lr": 0.01, "drop": 0.2, "inputs": [0, 3]}


def test_valid_config_has_no_errors(space):
    assert space.validate(valid(space)) == []
    assert space.contains(valid(space))


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("op", "pool", "is not one of"),
        ("width", 48, "is not one of"),
        ("depth", 3, "multiple of 2"),
        ("depth", 22, "outside"),
        ("depth", 4.0, "expected an integer"),
        ("units", True, "expected an integer"),
        ("lr", 1.0, "outside"),
        ("lr", math.nan, "not finite"),
        ("drop", 0.25, "multiple of 0.1"),
        ("inputs", [0], "exactly 2"),
        ("inputs", [1, 1], "repeated"),
        ("inputs", [0, 9], "is not one of"),
    ],
)
def test_each_rule_is_reported_with_the_dimension_name(space, name, value, fragment):
    config = {**valid(space), name: value}
    errors = space.validate(config)
    assert len(errors) == 1 and errors[0].startswith(name) and fragment in errors[0], errors


def test_missing_and_unknown_dimensions_are_reported(space):
    config = valid(space)
    del config["op"]
    config["colour"] = "red"
    errors = space.validate(config)
    assert "op: missing" in errors
    assert any("unknown dimensions ['colour']" in e for e in errors)


def test_decode_is_lenient_on_json_forms_but_returns_host_types(space):
    answer = {"op": "conv_3x3", "width": "32", "flag": None, "depth": 4.0, "units": "100",
              "lr": "0.01", "drop": 0.30000000000000004, "inputs": [3, "0"]}
    config, errors = space.decode(answer)
    assert errors == []
    assert config["width"] == 32 and isinstance(config["width"], int)
    assert config["depth"] == 4 and isinstance(config["depth"], int)
    assert config["drop"] == pytest.approx(0.3) and space.validate(config) == []
    assert sorted(config["inputs"]) == [0, 3]


def test_decode_reports_what_is_wrong(space):
    config, errors = space.decode({**valid(space), "op": "sep_conv", "depth": "deep"})
    assert "op" not in config and "depth" not in config
    assert any(e.startswith("op:") for e in errors) and any(e.startswith("depth:") for e in errors)
    assert space.decode(["not", "an", "object"])[1]


def test_proposals_schema_enumerates_choices_and_bounds(space):
    schema = space.proposals_schema(4, extra={"patterns": {"type": "string"}})
    assert schema["required"] == ["patterns", "architectures"]
    items = schema["properties"]["architectures"]
    assert items["maxItems"] == 4
    props = items["items"]["properties"]
    assert props["op"] == {"enum": OPS}
    assert props["depth"] == {"type": "integer", "minimum": 2, "maximum": 20, "multipleOf": 2}
    assert props["inputs"]["minItems"] == props["inputs"]["maxItems"] == 2
    assert items["items"]["required"] == space.names


def test_describe_is_one_line_per_dimension_with_descriptions(space):
    text = space.describe()
    assert len(text.splitlines()) == len(space)
    assert '"conv_3x3" (3x3 conv)' in text
    assert "lr: number in [1e-05, 0.1], log scale" in text


def test_samples_are_valid_and_seeded(space):
    a = [space.sample(np.random.default_rng(7)) for _ in range(3)]
    b = [space.sample(np.random.default_rng(7)) for _ in range(3)]
    assert a == b
    rng = np.random.default_rng(0)
    for _ in range(300):
        config = space.sample(rng)
        assert space.validate(config) == [], config


def test_key_identifies_configs_regardless_of_multichoice_order(space):
    a = valid(space)
    b = {**a, "inputs": [3, 0]}
    assert space.key(a) == space.key(b)
    assert space.key(a) != space.key({**a, "op": "none"})


def test_size_counts_distinct_configs():
    space = SearchSpace([Categorical("a", [1, 2, 3]), Integer("b", 0, 9), MultiChoice("c", "xyz", n_chosen=2)])
    assert space.size() == 3 * 10 * 3
    assert SearchSpace([Float("x", 0, 1)]).size() == math.inf


def test_merged_grows_a_define_by_run_space():
    first = SearchSpace([Categorical("a", [1, 2])])
    grown = first.merged(SearchSpace([Integer("b", 0, 3)]))
    assert grown.names == ["a", "b"]


@pytest.mark.parametrize(
    "build",
    [
        lambda: Categorical("a", []),
        lambda: Categorical("a", [1, 1]),
        lambda: Integer("a", 5, 1),
        lambda: Integer("a", 0, 10, log=True),
        lambda: Float("a", 0.0, 1.0, log=True),
        lambda: Float("a", 0.0, math.inf),
        lambda: MultiChoice("a", [1, 2], n_chosen=3),
        lambda: SearchSpace([Categorical("a", [1]), Integer("a", 0, 1)]),
    ],
)
def test_bad_definitions_raise_value_error(build):
    with pytest.raises(ValueError):
        build()


def test_non_json_choices_are_shown_as_text_and_decoded_back():
    class Block:
        def __init__(self, k: int) -> None:
            self.k = k

        def __repr__(self) -> str:
            return f"Block(k={self.k})"

    blocks = [Block(3), Block(5)]
    dim = Categorical("block", blocks)
    assert dim.encoded_choices == ["Block(k=3)", "Block(k=5)"]
    assert dim.decode("Block(k=5)") is blocks[1]


def test_stepped_floats_snap_to_clean_grid_values_and_share_keys():
    dim = Float("x", 0.0, 0.3, step=0.1)
    assert dim.decode(0.3) == 0.3 and dim.errors(dim.decode(0.3)) == []
    assert dim.decode("0.2987") == 0.3
    rng = np.random.default_rng(0)
    assert all(dim.errors(dim.sample(rng)) == [] for _ in range(200))
    other = Float("y", 0.1, 0.9, step=0.2)
    assert other.key(0.9) == other.key(0.8999999999999999)
