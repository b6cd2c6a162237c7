"""CoLLM-NAS in NNI over the sub-nets of a supernet that NNI trained, on CPU in about a minute.

    python examples/collm_nas_nni_supernet.py [--budget 12] [--epochs 6] [--max-params 30000]
                                              [--target 95] [--llm SPEC] [--no-llm]

The CoLLM-NAS paper (arXiv 2509.26037) never trains a candidate: its sub-nets inherit weights
from a pretrained OFA / SPOS / AutoFormer supernet and are only evaluated. This example does
the same with NNI's own machinery, at a size that runs on a laptop CPU:

1. ``DigitsSpace``: an NNI ``ModelSpace`` for scikit-learn's 8×8 digits (shipped with the
   package, no download): two channel widths (``nni.choice`` → ``MutableConv2d`` /
   ``MutableBatchNorm2d`` / ``MutableLinear``) and four ``LayerChoice`` slots of seven
   operations each (residual convolutions, pooling, identity): 3 × 3 × 7⁴ = 21,609 architectures.
2. **Supernet training, SPOS-style**: NNI's ``RandomOneShot`` strategy mutates the space into
   a weight-sharing supernet *in place* and trains it with NNI's Lightning ``Classification``
   evaluator, one uniformly sampled path per step (about 5 s for the default 6 epochs).
3. **Multi-trial search over the trained supernet**: the LLM strategy runs on
   ``RawFormatModelSpace(supernet, FunctionalEvaluator(...))`` with NNI's
   ``SequentialExecutionEngine``. Every model it submits is ``supernet.freeze(sample)``: a
   sub-net that inherits the supernet's weights (sliced widths, the chosen candidates). The
   evaluator re-estimates its BatchNorm statistics on a few training batches (SPOS's BN
   recalibration, no gradient step), measures validation accuracy and reports
   ``{"default": accuracy, "params": n_params}``.
4. The resource limit: ``fits(sample)`` counts the parameters of the frozen sub-net;
   CoLLM-NAS's Coordinator rejects over-limit proposals before anything is evaluated.

``--no-llm`` runs the strategy's own non-LLM operators (fast, for tests). Without it the LLM
is ``--llm`` or the environment's choice (``OPENAI_BASE_URL`` / ``OPENAI_API_KEY``, else the
embedded demo model, where one call takes 10–20 s on a CPU).

NNI 3.0 notes (found while writing this): ``RandomOneShot`` trains through NNI's own API under
pytorch_lightning 2.x, no shim needed; ``supernet.freeze`` fails for
``MutableConv2d(..., bias=False)`` ("Unexpected key(s) in state_dict: bias": the mixed op hands
``bias=None`` to ``load_state_dict``), so the convolutions here keep their bias; and
``RandomOneShot`` samples each step's path with an unseeded ``numpy.random.RandomState()``, so
``SeededRandomOneShot`` below draws the paths from one seeded generator (reproducible runs).
"""

from __future__ import annotations

import argparse
import copy
import logging
import random
import time
import warnings
from typing import Any, Mapping

import numpy as np
import torch
import torch.nn as nn

# nni_llm_strategies imports nni.nas quietly (torch >= 2.6 makes it warn about Buffer).
import nni_llm_strategies  # noqa: F401  (before nni.nas below)
import nni
from nni.nas.evaluator import FunctionalEvaluator
from nni.nas.evaluator.pytorch import Classification, DataLoader
from nni.nas.execution import SequentialExecutionEngine
from nni.nas.nn.pytorch import LayerChoice, ModelSpace, MutableBatchNorm2d, MutableConv2d, MutableLinear
from nni.nas.oneshot.pytorch.sampling import RandomSamplingLightningModule
from nni.nas.space import RawFormatModelSpace
from nni.nas.strategy import RandomOneShot

from llmnas.benchmarks.digits import _digits  # the project's 75/25 split of sklearn's digits

from nni_llm_strategies import CoLLMNASStrategy

logger = logging.getLogger("collm_nas_nni_supernet")

# The prompts' task text. It names what each operation is: once RandomOneShot has mutated the
# space, the candidates' own descriptions read "Residual[MixedConv2d, MixedBatchNorm2d, ReLU]"
# for all four convolutions.
TASK = (
    "Classify 8x8 grey-scale images of handwritten digits (10 classes). The network is a stem "
    "conv3x3 with width1 channels, then op1, op2 at 8x8, a 1x1 conv to width2 channels with 2x2 "
    "max-pooling, then op3, op4 at 4x4, global average pooling and a linear classifier. Each op "
    "keeps the shape: convKxK is residual, x + ReLU(BatchNorm(Conv KxK(x))), dilconv3x3 the "
    "same with a 3x3 conv of dilation 2, the pools are 3x3 with stride 1, skip is the identity. "
    "Sub-networks inherit weights from a trained weight-sharing supernet; the score is "
    "validation accuracy (%)."
)


# -- 1. the model space ----------------------------------------------------------------------------
class Residual(nn.Module):
    """``x + body(x)``. Residual convolutions keep the features' meaning whichever path is
    sampled, so the weight-sharing supernet learns in a few epochs (a plain conv-BN-ReLU
    stack of the same space needs about five times longer to get off chance level)."""

    def __init__(self, body: nn.Module) -> None:
        super().__init__()
        self.body = body

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def _candidates(channels: Any) -> dict[str, nn.Module]:
    """The seven operations of one ``LayerChoice`` slot (all keep the shape)."""

    def conv(kernel: int, dilation: int = 1) -> nn.Module:
        # bias=True: NNI 3.0 cannot freeze a one-shot MutableConv2d without bias (see the docstring).
        return Residual(nn.Sequential(
            MutableConv2d(channels, channels, kernel, padding=dilation * (kernel // 2), dilation=dilation),
            MutableBatchNorm2d(channels), nn.ReLU(),
        ))

    return {
        "conv1x1": conv(1), "conv3x3": conv(3), "conv5x5": conv(5), "dilconv3x3": conv(3, 2),
        "maxpool3x3": nn.MaxPool2d(3, stride=1, padding=1),
        "avgpool3x3": nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False),
        "skip": nn.Identity(),
    }


class DigitsSpace(ModelSpace):
    """A small NAS space for 1×8×8 digit images (labels ``width1 op1 op2 width2 op3 op4``)."""

    def __init__(self) -> None:
        super().__init__()
        width1 = nni.choice("width1", [16, 24, 32])
        width2 = nni.choice("width2", [32, 48, 64])
        self.stem = nn.Sequential(MutableConv2d(1, width1, 3, padding=1), MutableBatchNorm2d(width1), nn.ReLU())
        self.op1 = LayerChoice(_candidates(width1), label="op1")
        self.op2 = LayerChoice(_candidates(width1), label="op2")
        self.down = nn.Sequential(MutableConv2d(width1, width2, 1), MutableBatchNorm2d(width2), nn.ReLU(),
                                  nn.MaxPool2d(2))
        self.op3 = LayerChoice(_candidates(width2), label="op3")
        self.op4 = LayerChoice(_candidates(width2), label="op4")
        self.head = MutableLinear(width2, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.op2(self.op1(self.stem(x)))
        x = self.op4(self.op3(self.down(x)))
        return self.head(x.mean(dim=(2, 3)))


# -- 2. the supernet, trained by NNI's one-shot strategy ----------------------------------------------
def _tensors() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    return tuple(torch.from_numpy(a) for a in _digits())  # type: ignore[return-value]


class _SeededPathSampling(RandomSamplingLightningModule):
    """RandomOneShot's training module, with the path of each step drawn from one seeded
    generator: NNI 3.0 draws it with a fresh, unseeded ``numpy.random.RandomState()`` per
    choice, so two SPOS runs differ whatever the seed."""

    def __init__(self, training_module: Any, seed: int) -> None:
        super().__init__(training_module)
        self._rng = np.random.RandomState(seed)
        self._mutables: dict[str, Any] | None = None

    def resample(self) -> dict[str, Any]:
        if self._mutables is None:
            self._mutables = self.model.simplify()
        sample = {label: mutable.random(random_state=self._rng) for label, mutable in self._mutables.items()}
        for module in self.supernet_modules():
            module.resample(memo=sample)
        return sample


class SeededRandomOneShot(RandomOneShot):
    """NNI's ``RandomOneShot`` (SPOS: uniform path sampling), reproducible with ``seed``."""

    def __init__(self, seed: int) -> None:
        super().__init__()
        self.seed = seed

    def configure_oneshot_module(self, training_module: Any) -> RandomSamplingLightningModule:
        return _SeededPathSampling(training_module, self.seed)


def train_supernet(space: DigitsSpace, *, epochs: int, seed: int = 0, batch_size: int = 16, lr: float = 0.005) -> None:
    """SPOS: ``RandomOneShot`` turns ``space`` into a supernet in place and trains it, one random
    path per step, with NNI's Lightning ``Classification`` evaluator."""
    x_train, y_train, x_valid, y_valid = _tensors()
    train = DataLoader(torch.utils.data.TensorDataset(x_train, y_train), batch_size=batch_size, shuffle=True)
    valid = DataLoader(torch.utils.data.TensorDataset(x_valid, y_valid), batch_size=512)
    evaluator = Classification(
        train_dataloaders=train, val_dataloaders=valid, num_classes=10, learning_rate=lr, max_epochs=epochs,
        accelerator="cpu", devices=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, num_sanity_val_steps=0,
        limit_val_batches=0,  # a random path's accuracy says little about the supernet: skip it
    )
    SeededRandomOneShot(seed)(RawFormatModelSpace.from_model(space, evaluator), SequentialExecutionEngine())


# -- 3. sub-nets that inherit the supernet's weights --------------------------------------------------
def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@torch.no_grad()
def recalibrate_batchnorm(model: nn.Module, x: torch.Tensor, batches: int, batch_size: int = 128) -> None:
    """Re-estimate BatchNorm statistics for this path on ``batches`` training batches (SPOS): the
    supernet's running statistics mix every path that shared the layer."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms or batches < 1:
        return
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # a cumulative average over the batches
    model.train()
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    for batch in order[: batches * batch_size].split(batch_size):
        model(x[batch])


def evaluate_subnet(model: nn.Module, bn_batches: int = 4) -> None:
    """The ``FunctionalEvaluator``: no training, only BN recalibration and validation."""
    x_train, _, x_valid, y_valid = _tensors()
    model = copy.deepcopy(model)  # never touch the supernet's own statistics
    recalibrate_batchnorm(model, x_train, bn_batches)
    model.eval()
    with torch.no_grad():
        accuracy = (model(x_valid).argmax(1) == y_valid).float().mean().item() * 100.0
    nni.report_final_result({"default": float(accuracy), "params": count_params(model)})


class ParamBudget:
    """``fits(sample)``: whether the frozen sub-net of ``sample`` has at most ``max_params``
    parameters (counted on ``supernet.freeze(sample)``, cached per architecture)."""

    def __init__(self, supernet: ModelSpace, max_params: int) -> None:
        self.supernet = supernet
        self.max_params = max_params
        self._cache: dict[tuple, int] = {}
        self.__name__ = f"at_most_{max_params}_params"  # how the strategy's summary names the rule

    def params(self, sample: Mapping[str, Any]) -> int:
        key = tuple(sorted((str(k), str(v)) for k, v in sample.items()))
        if key not in self._cache:
            self._cache[key] = count_params(self.supernet.freeze(dict(sample)))
        return self._cache[key]

    def __call__(self, sample: Mapping[str, Any]) -> bool:
        return self.params(sample) <= self.max_params


# -- 4. the strategy ---------------------------------------------------------------------------------
def make_strategy(args: argparse.Namespace, fits: ParamBudget) -> CoLLMNASStrategy:
    return CoLLMNASStrategy(llm=args.llm, seed=args.seed, target=args.target, resource_limit=fits,
                            resource_description=f"at most {fits.max_params} parameters", task=TASK,
                            use_llm=not args.no_llm)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget", type=int, default=12, help="sub-nets to evaluate (default 12)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--llm", default=None, help="LLM spec (default: the environment's choice)")
    parser.add_argument("--no-llm", action="store_true", help="the strategy's non-LLM operators only")
    parser.add_argument("--epochs", type=int, default=6, help="supernet training epochs (default 6)")
    parser.add_argument("--target", type=float, default=None, help="stop once a sub-net reaches this accuracy (%%)")
    parser.add_argument("--max-params", type=int, default=30_000, help="parameter limit (default 30000)")
    parser.add_argument("--bn-batches", type=int, default=4, help="BN recalibration batches (0: off)")
    args = parser.parse_args()
    if args.budget < 1 or args.epochs < 1 or args.max_params < 1 or args.bn_batches < 0:
        parser.error("--budget, --epochs and --max-params must be >= 1, --bn-batches >= 0")

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    for name in ("pytorch_lightning", "lightning", "lightning.pytorch", "lightning_fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)  # "GPU available: False", tips
    warnings.filterwarnings("ignore", module=r"pytorch_lightning\..*")
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)

    started = time.perf_counter()
    supernet = DigitsSpace()
    train_supernet(supernet, epochs=args.epochs, seed=args.seed)
    trained_s = time.perf_counter() - started
    logger.info("Supernet trained by RandomOneShot in %.1f s (%d epochs).", trained_s, args.epochs)

    fits = ParamBudget(supernet, args.max_params)
    strategy = make_strategy(args, fits)
    space = RawFormatModelSpace.from_model(supernet, FunctionalEvaluator(evaluate_subnet, bn_batches=args.bn_batches))
    search_started = time.perf_counter()
    strategy(space, SequentialExecutionEngine(max_model_count=args.budget, continue_on_failure=True))
    search_s = time.perf_counter() - search_started

    records = [r for r in strategy.records() if r["state"] == "complete"]
    within = [r for r in records if fits(r["config"])]
    ranked = sorted(within or records, key=lambda r: -r["score"])
    summary = strategy.summary()
    pipeline = summary.get("pipeline", {})
    print()
    print(f"{type(strategy).__name__} over sub-nets of a RandomOneShot supernet "
          f"(digits, {args.epochs} epochs, limit {args.max_params} params)")
    print(f"{'#':>3}  {'valid acc':>9}  {'params':>7}  {'source':<9} architecture")
    for r in ranked[:5]:
        arch = " ".join(f"{k}={v}" for k, v in r["config"].items())
        print(f"{r['number']:>3}  {r['score']:>9.2f}  {int(r['metrics'].get('params', 0)):>7}  {r['source']:<9} {arch}")
    print(f"Evaluated {len(strategy.records())} sub-nets ({len(records)} complete, {len(within)} within the limit); "
          f"LLM: {summary.get('llm')}, {pipeline.get('llm_calls', 0)} calls, "
          f"{pipeline.get('fallback_proposals', 0)} fallback proposals")
    if within:
        best = ranked[0]
        print(f"best sub-net within the limit: {best['score']:.2f}% valid accuracy, "
              f"{int(best['metrics'].get('params', 0))} params, {best['config']}")
    else:
        print("no complete sub-net within the limit (the table shows the best ones over it)")
    print(f"time: supernet {trained_s:.1f} s, search {search_s:.1f} s, total {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
