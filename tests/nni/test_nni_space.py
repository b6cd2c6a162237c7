"""NNI model spaces → the core SearchSpace and back (nni_llm_strategies._space)."""

from __future__ import annotations

import numpy as np
import pytest

import nni_llm_strategies  # noqa: F401  (imports nni quietly)
from llmnas import Categorical, Float, Integer, MultiChoice
from nni.mutable import LabeledMutable
from nni.nas.hub.pytorch import NasBench201
from nni.nas.space import SimplifiedModelSpace
from nni_llm_strategies._space import convert_space

from .spaces import ConstrainedSpace, MixedSpace, TinySpace

NB201_OPS = ["none", "skip_connect", "conv_1x1", "conv_3x3", "avg_pool_3x3"]


def test_nas_bench_201_round_trip():
    model_space = NasBench201()
    converted = convert_space(model_space)
    space = converted.space
    assert space.names == ["cell/0_1", "cell/0_2", "cell/1_2", "cell/0_3", "cell/1_3", "cell/2_3"]
    assert all(isinstance(d, Categorical) and list(d.choices) == NB201_OPS for d in space)
    assert space.size() == 5 ** 6
    # LayerChoice candidates are described for the LLM.
    assert "kernel_size=3" in space["cell/0_1"].descriptions[NB201_OPS.index("conv_3x3")]
    rng = np.random.default_rng(0)
    for _ in range(10):
        config = space.sample(rng)
        sample = converted.to_sample(config)
        assert sample == config and converted.validate(config) == []
        assert converted.from_sample(sample) == config
    model_space.freeze(sample)  # NNI builds it (about 1 s for this space on a CPU)
    # NNI's own samples convert and come back unchanged.
    nni_sample: dict = {}
    model_space.random(memo=nni_sample, random_state=np.random.RandomState(1))
    assert converted.to_sample(converted.from_sample(nni_sample)) == nni_sample
    [problem] = converted.validate({**config, "cell/0_1": "conv_7x7"})
    assert problem.startswith("conv_7x7 not found in ['none', 'skip_connect', 'conv_1x1', 'conv_3x3', 'avg_pool_3x3']")


def test_custom_space_with_every_mutable_kind_round_trips():
    model_space = MixedSpace()
    converted = convert_space(model_space)
    space = converted.space
    assert set(space.names) == {"op", "act", "skip", "depth", "dropout", "lr", "units"}
    op, act, skip, depth = space["op"], space["act"], space["skip"], space["depth"]
    assert isinstance(op, Categorical) and list(op.choices) == [0, 1, 2]
    assert op.descriptions == ("Conv2d(3, 8, kernel_size=3, padding=1)", "Conv2d(3, 8, kernel_size=5, padding=2)",
                               "MaxPool2d(kernel_size=3, stride=1, padding=1)")
    assert isinstance(act, Categorical) and list(act.choices) == ["relu", "tanh", "gelu"] and act.descriptions is None
    assert isinstance(skip, MultiChoice) and skip.n_chosen == 2 and list(skip.choices) == [0, 1, 2]
    assert isinstance(depth, Categorical) and list(depth.choices) == [1, 2, 3]
    assert depth.descriptions[2].startswith("3 × Linear")
    assert space["dropout"] == Float("dropout", 0.0, 0.5)
    assert space["lr"] == Float("lr", 1e-4, 1e-1, log=True)
    assert space["units"] == Integer("units", 2, 8, step=2)  # int quantize: NNI samples ints
    executable = SimplifiedModelSpace.from_model(model_space, None)  # the format strategies get
    rng = np.random.default_rng(0)
    for _ in range(20):
        config = space.sample(rng)
        sample = converted.to_sample(config)
        assert isinstance(sample["skip"], list) and isinstance(sample["units"], int)
        assert isinstance(sample["dropout"], float)
        assert converted.validate(config) == []
        network = executable.freeze(sample).executable_model()
        assert len(network.blocks) == sample["depth"]
    # NNI's own random samples are valid configurations of the converted space.
    for seed in range(5):
        nni_sample: dict = {}
        executable.random(memo=nni_sample, random_state=np.random.RandomState(seed))
        assert space.validate(converted.from_sample(nni_sample)) == []


@pytest.mark.parametrize(
    "change, expected",
    [
        ({"skip": 1}, "TypeError"),                     # an int for an InputChoice
        ({"skip": [0, 0]}, "must not have duplicates"),
        ({"act": "swish"}, "swish not found"),
        ({"depth": 7}, "7 not found"),
    ],
)
def test_host_validator_reports_what_nni_rejects(change, expected):
    converted = convert_space(TinySpace())
    config = {"op": 0, "act": "relu", "skip": [0, 2], "depth": 2}
    assert converted.validate(config) == []
    problems = converted.validate({**config, **change})
    assert len(problems) == 1 and expected in problems[0]
    missing = dict(config)
    del missing["op"]
    assert "op is missing" in converted.validate(missing)[0]


def test_constraints_are_skipped_and_enforced_by_the_host_validator():
    converted = convert_space(SimplifiedModelSpace.from_model(ConstrainedSpace(), None))
    assert converted.skipped == ["small"] and "small" not in converted.space
    legal = {"op": 0, "act": "relu", "skip": [0, 1], "depth": 2}
    assert converted.space.validate(legal) == [] and converted.validate(legal) == []
    illegal = {**legal, "op": 2, "depth": 1}
    assert converted.space.validate(illegal) == []  # within every dimension's bounds...
    [problem] = converted.validate(illegal)  # ...but NNI rejects it
    assert "(op + depth) <= 2 is not satisfied" in problem


def test_simplified_space_is_rebuilt_for_layer_choice_descriptions():
    converted = convert_space(SimplifiedModelSpace.from_model(TinySpace(), None))
    assert converted.space["op"].descriptions[1] == "Conv2d(3, 8, kernel_size=5, padding=2)"
    frozen = converted.freeze({"op": 1, "act": "gelu", "skip": [1, 2], "depth": 3})
    assert frozen.sample == {"op": 1, "act": "gelu", "skip": [1, 2], "depth": 3}


def test_unsupported_mutable_is_a_clear_error():
    class Odd(LabeledMutable):  # a labeled mutable of no kind the converter knows
        def __init__(self) -> None:
            self.label = "odd"

    class Holder:
        def simplify(self):
            return {"odd": Odd()}

    with pytest.raises(TypeError, match=r"'odd'.*type Odd.*not supported"):
        convert_space(Holder())


def test_unbounded_normal_is_searched_in_its_central_range():
    import nni

    class Holder:
        def simplify(self):
            return {"x": nni.normal("x", 0.0, 1.0), "q": nni.quniform("q", 0.0, 1.0, 0.25)}

    space = convert_space(Holder()).space
    assert space["x"].low == pytest.approx(-3.0, abs=0.01) and space["x"].high == pytest.approx(3.0, abs=0.01)
    assert space["q"] == Float("q", 0.0, 1.0, step=0.25)
