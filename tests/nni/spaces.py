"""Small NNI model spaces and evaluators for the tests.

Module-level and importable (``tests.nni.spaces``): NNI's web-UI engine runs each trial in a
subprocess that re-imports the model space class and the evaluation function by name.
Evaluators score a model from its sample (no training), so a search takes milliseconds per model.
"""

from __future__ import annotations

import warnings

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=r".*is found to be not a nn\.Module", category=RuntimeWarning)
    import nni
    import torch.nn as nn
    from nni.mutable import Categorical, ExpressionConstraint
    from nni.nas.nn.pytorch import InputChoice, LayerChoice, ModelSpace, Repeat

ACTIVATIONS = ["relu", "tanh", "gelu"]


class TinySpace(ModelSpace):
    """81 architectures: a LayerChoice (3 ops), an nni.choice (3 activations), an InputChoice
    (2 of 3 inputs: 3 ways) and a Repeat depth (1–3)."""

    def __init__(self) -> None:
        super().__init__()
        self.op = LayerChoice(
            [nn.Conv2d(3, 8, 3, padding=1), nn.Conv2d(3, 8, 5, padding=2), nn.MaxPool2d(3, 1, 1)], label="op"
        )
        self.act = self.add_mutable(nni.choice("act", ACTIVATIONS))
        self.skip = InputChoice(n_candidates=3, n_chosen=2, label="skip")
        self.blocks = Repeat(lambda index: nn.Linear(8, 8), (1, 3), label="depth")

    def forward(self, x):  # never run: the evaluators score the sample
        return x


class ConstrainedSpace(TinySpace):
    """TinySpace where only a third of the architectures are legal: op index + depth <= 2
    (an NNI constraint, checked by ``freeze``, that no search-space bound expresses)."""

    def __init__(self) -> None:
        super().__init__()
        op, depth = Categorical([0, 1, 2], label="op"), Categorical([1, 2, 3], label="depth")  # same labels
        self.add_mutable(ExpressionConstraint(op + depth <= 2, label="small"))


class MixedSpace(TinySpace):
    """TinySpace plus numerical dimensions: a uniform float and an int-quantized one."""

    def __init__(self) -> None:
        super().__init__()
        self.dropout = self.add_mutable(nni.uniform("dropout", 0.0, 0.5))
        self.lr = self.add_mutable(nni.loguniform("lr", 1e-4, 1e-1))
        self.units = self.add_mutable(nni.mutable.Numerical(2, 9, quantize=2, label="units"))


def score_of(sample: dict) -> float:
    """A deterministic score from the choices, distinct enough to rank (max 1.0)."""
    op = sample["op"] / 2
    act = ACTIVATIONS.index(sample["act"]) / 2
    skip = sum(sample["skip"]) / 3
    depth = (sample["depth"] - 1) / 2
    return round(0.4 * op + 0.3 * depth + 0.2 * act + 0.1 * skip, 6)


def current_sample() -> dict:
    """The sample of the model NNI is running now (in process or in a trial subprocess)."""
    return dict(nni.get_current_parameter().sample)


def evaluate(model) -> None:
    """Report the score plus an extra metric, as a dict."""
    sample = current_sample()
    nni.report_final_result({"default": score_of(sample), "depth": sample["depth"]})


def evaluate_or_fail(model) -> None:
    """Like :func:`evaluate`, but architectures built on the max-pool op fail."""
    sample = current_sample()
    if sample["op"] == 2:
        raise RuntimeError(f"this architecture cannot be trained: {sample}")
    nni.report_final_result(score_of(sample))


def evaluate_slowly(model) -> None:
    """Like :func:`evaluate` after ``LLMNAS_TEST_TRIAL_SECONDS`` seconds (default 1); when
    ``LLMNAS_TEST_TRIAL_LOG`` names a folder, each trial first leaves a file there (its
    sample, as JSON) so a test can see how far an experiment got."""
    import json
    import os
    import time
    import uuid

    sample = current_sample()
    log = os.environ.get("LLMNAS_TEST_TRIAL_LOG")
    time.sleep(float(os.environ.get("LLMNAS_TEST_TRIAL_SECONDS", "1")))
    if log:
        with open(os.path.join(log, f"{uuid.uuid4().hex}.json"), "w") as f:
            json.dump({"sample": sample, "pid": os.getpid(), "time": time.time()}, f)
    nni.report_final_result({"default": score_of(sample), "depth": sample["depth"]})
