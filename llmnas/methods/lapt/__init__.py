"""LAPT: learn design principles, search a refined space, adapt them (arXiv 2408.11330, AAAI 2025).

- **Stage A, learn.** The LLM sees the search space and the best architectures of a *source*
  (bounded: the top 50), reasons step by step and writes design principles in words plus a
  per-dimension **whitelist**: at most ``max_options`` values of each categorical dimension and
  a sub-range of each numeric one. The whitelist is the **refined search space**.
- **Stage B, search.** Regularized evolution (REA) inside the refined space: the population is
  the most recent ``population`` evaluated architectures that lie in the refined space (random
  refined ones while it is short), a tournament of ``tournament_size`` picks the parent, one
  dimension is mutated within its whitelist, duplicates are never proposed. When the refined
  space is exhausted, proposals come from the full space (logged). Where no principles refine
  the space (none learned yet, a failed learning call, ``use_llm=False``, the trust rule's
  slots for the operator) the method's operator searches the whole space: mutations of the
  best found, else random [ours; see ``LAPT._whole_space``].
- **Adaptation** every ``adapt_every`` evaluations: if the best improved since the last
  revision, the LLM gets the top ``top_n`` found and updates principles and whitelist; if not,
  it starts again from the *original* principles and suggests other options.

In the paper's loop (``trust=False``) the LLM only learns and adapts principles; every proposal
comes from REA inside them (or, where none refine the space, e.g. before principles exist in a
warm start, from the method's operator). **Under the trust rule** (the default) the LLM also
writes architectures [ours], so an LLM that knows good architectures is judged on them and not
only through the whitelist it writes: each learning or adaptation call asks for a batch of
architectures made of whitelisted values besides the principles (no more calls; stored with
the principles, so every worker proposes the same), and those the study has not taken seed
REA's population: they take the slots REA would fill with random architectures of the refined
space while its population is short (source ``llm``, with the principles' words), so REA then
evolves the LLM's architectures where they lie inside the whitelist, and where they do not (or
it refines nothing) they keep those slots; in a warm start the LLM's slots ask it for architectures of the task from what it knows (source ``llm``;
the operator's slots are the warm start's search of the whole space). Measured with the fake
LLMs of :mod:`llmnas.app.quality`: an expert at architectures whose whitelists are uninformed
took LAPT to the top 0.1 % of NAS-Bench-201 in a median of 74 (CIFAR-10) and 54.5 (CIFAR-100)
evaluations over 8 seeds, now 12 and 15.5; with the expert's whitelists too its evolution
still refines around the best (what the expert adds at 100 evaluations is unchanged). An LLM that fails or is over its call budget changes
nothing but the principles: the current ones are kept (logged).

**The principles artifact** is JSON: ``{"format", "text", "whitelist", "max_options",
"provenance"}``, where ``whitelist`` maps a categorical dimension to a list of its (JSON)
values and a numeric one to ``{"low", "high"}`` (multi-choice dimensions are never restricted)
and ``provenance`` says what it was learned from (``source``), how (``kind``: ``given``,
``learned``, ``updated``, ``explored``, ``kept``, ``default``), at which step, and every repair
made to the LLM's whitelist; under the trust rule ``architectures`` holds the (encoded)
architectures the LLM wrote with it. Each version is a knowledge entry ``lapt/principles/<step>``
(first writer wins); the step is a function of ``len(history)``, so workers agree on it.
Export the knowledge store (or :meth:`LAPT.principles`) and pass it as ``source=`` of another
study, in either host.

**Whitelist check** (:mod:`.whitelist`). Every whitelist the LLM writes is checked against the data it was shown:
a value that every one of the top ``check_top_k`` architectures uses for a dimension but the
whitelist excludes is added back (a WARNING says so; the dimension may then hold one more
value than ``max_options``); an invalid, empty or missing entry means the full dimension
(logged); values past ``max_options`` are dropped (logged).
"""

from __future__ import annotations

import copy
import datetime as _dt
import json
import logging
import math
from collections import Counter
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from ...history import History, Observation
from ...knowledge import FORMAT as KNOWLEDGE_FORMAT
from ...knowledge import TRANSFER_PREFIX, KnowledgeStore
from ...prompts import lapt as prompts
from ...proposals import LLM_SOURCES, OPERATOR_TURN_REASON, Context, Proposal, Source, short_rationale
from ...space import Config, SearchSpace
from ..base import Method
from ..operators import KeysSeen, mutate, tournament
from .whitelist import (  # noqa: F401 (_decode_or, _numeric_range: older imports)
    UntriedCount, Whitelist, _decode_or, _numeric_range, _remaining, describe_provenance, discard_samples,
    full_whitelist, inside, normalize_whitelist, refined_space, restricts,
)

POPULATION_WINDOW = 256
"""How far back (in trials) the REA population is looked for in the refined space."""

__all__ = ["FORMAT", "KEY", "LAPT", "Whitelist", "describe_provenance", "full_whitelist", "inside",
           "normalize_whitelist", "refined_space"]

logger = logging.getLogger(__name__)

FORMAT = "llmnas-lapt-principles/1"
KEY = "lapt/principles"
_LARGE_SPACE = 100_000  # max_options=None: 2 options up to this many configurations, else 3
WHOLE_SPACE_REASON = "LAPT: no principles refine the space; the operator searches the whole space"


class LAPT(Method):
    """LAPT as a host-agnostic method (hosts wrap it for NNI and Optuna).

    Args:
        source: where the principles come from.
            ``None``: warm start [ours]: the first ``warmup`` evaluations of this study are
            proposed by the fallback operator (mutation of good ones, else random; logged as a
            warm start; under the trust rule the LLM's slots among them are architectures it
            writes), then principles are learned from them. A list of ``(config, score)``
            pairs or a :class:`~llmnas.History`: evaluated architectures of a *source* task
            (e.g. a tabular benchmark's top-50 on another dataset; the paper learns on
            NAS-Bench-201 CIFAR-10 and searches CIFAR-100 [paper]); principles are learned from
            its best ``n_source_shown``. A principles dict (see the module docstring), or the
            path of a JSON file holding one or an exported knowledge store: used as is, with no
            learning call. Any object with ``top_pairs(k)`` (a tabular benchmark such as
            :class:`~llmnas.benchmarks.NasBench201Table`: its top ``n_source_shown``) or with
            ``history()`` (a finished NNI strategy of this library) is accepted too; the Optuna
            sampler also takes a finished ``optuna.Study``. Source and target should be distinct tasks (the released NB201
            script learns on the target itself, a leak not reproduced here [paper]).
        source_description: words for the prompt and the provenance (no benchmark names).
        source_direction: ``"maximize"`` or ``"minimize"`` for ``(config, score)`` pairs
            (``None``: the study's direction).
        warmup: evaluations before learning in a warm start. 10 [ours].
        max_options: the most values a whitelist keeps per categorical dimension. The paper
            uses 2 on NAS-Bench-201 (15,625 architectures) and 3 on TransNAS-Bench-101
            [paper]; ``None`` [ours] picks 2 for spaces up to 100,000 configurations, else 3.
        population: REA population. 5 on NAS-Bench-201, 10 on TransNAS-Bench-101 [paper].
        tournament_size: REA tournament. 2 on NAS-Bench-201, 5 on TransNAS-Bench-101 [paper].
        adapt_every: K, evaluations between adaptations. 5 on NAS-Bench-201, 10 on
            TransNAS-Bench-101 [paper].
        top_n: architectures found shown when updating. 5 on NAS-Bench-201, 15 on
            TransNAS-Bench-101 [paper].
        n_source_shown: source architectures shown when learning: the top 50 [paper].
        check_top_k: the whitelist check's k (see the module docstring). 5 [ours].
        batch_size: proposals per call of :meth:`propose`. 5 [ours].

    Paper facts [paper]: official code milkmilk511/LAPT; gpt-4-32k at temperature 0 on
    NAS-Bench-201 (gemini-1.5-pro at temperature 1 on TransNAS-Bench-101); budgets of 20
    (NB201) and 50 (TransNAS) evaluations. Pass ``temperature=0`` to the host/Searcher to match.

    Example:
        >>> from llmnas import Categorical, History, InMemoryKnowledge, SearchSpace, Searcher
        >>> from llmnas.methods.lapt import LAPT
        >>> space = SearchSpace([Categorical(f"e{i}", ["none", "skip", "conv"]) for i in range(3)])
        >>> principles = {"text": "convolutions everywhere help",
        ...               "whitelist": {"e0": ["conv", "skip"], "e1": ["conv"], "e2": ["conv"]}}
        >>> searcher = Searcher(LAPT(source=principles, batch_size=2), llm=None, use_llm=False, seed=0)
        >>> knowledge = InMemoryKnowledge()
        >>> proposals = searcher.next_proposals(space, History(), [], knowledge, n=2)
        >>> sorted(p.config["e0"] for p in proposals), {p.config["e1"] for p in proposals}
        (['conv', 'skip'], {'conv'})
        >>> LAPT.principles(knowledge)["provenance"]["kind"]
        'given'
    """

    name = "LAPT"
    llm_arm_sources = LLM_SOURCES | {"evolution", "operator:evolution"}
    """Its evolution inside the LLM's principles is the LLM's arm of the trust rule; in the
    operator's slots the operator searches the whole space instead (as with ``use_llm=False``)."""
    llm_calls_per_batch = False  # its calls follow the adaptation schedule (and the warm start's LLM slots)

    def __init__(
        self,
        *,
        source: Any = None,
        source_description: str | None = None,
        source_direction: str | None = None,
        warmup: int = 10,
        max_options: int | None = None,
        population: int = 5,
        tournament_size: int = 2,
        adapt_every: int = 5,
        top_n: int = 5,
        n_source_shown: int = 50,
        check_top_k: int = 5,
        batch_size: int = 5,
    ) -> None:
        for name, value in (("warmup", warmup), ("population", population), ("tournament_size", tournament_size),
                            ("adapt_every", adapt_every), ("top_n", top_n), ("n_source_shown", n_source_shown),
                            ("check_top_k", check_top_k), ("batch_size", batch_size)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}.")
        if max_options is not None and (isinstance(max_options, bool) or not isinstance(max_options, int)
                                        or max_options < 1):
            raise ValueError(f"max_options must be an integer >= 1 or None (automatic), got {max_options!r}.")
        if tournament_size > population:
            raise ValueError(f"tournament_size ({tournament_size}) cannot exceed population ({population}).")
        if source_direction not in (None, "maximize", "minimize"):
            raise ValueError(f"source_direction must be 'maximize', 'minimize' or None, got {source_direction!r}.")
        if source_description is not None and not isinstance(source_description, str):
            raise ValueError(f"source_description must be a string or None, got {type(source_description).__name__}.")
        self.source_pairs: list[tuple[dict[str, Any], Any]] | None = None
        self.source_history: History | None = None
        self.given: dict[str, Any] | None = None
        self.given_path = str(source) if isinstance(source, (str, Path)) else None
        if isinstance(source, (str, Path)):
            source = self.load_principles(source)
        elif callable(getattr(source, "top_pairs", None)):  # a tabular benchmark: its top n_source_shown
            source_description = source_description or getattr(source, "source_description", None)
            if source_direction is None and callable(getattr(source, "direction", None)):
                source_direction = source.direction("valid_acc")  # the pairs' metric, not the study's
            source = source.top_pairs(n_source_shown)
        elif callable(getattr(source, "history", None)):  # a finished search (e.g. an NNI strategy)
            source = source.history()
        if source is None:
            pass
        elif isinstance(source, History):
            if not source.usable:
                raise ValueError("source History has no evaluated architecture; pass None for a warm start.")
            self.source_history = source
        elif isinstance(source, Mapping):
            if not isinstance(source.get("whitelist"), Mapping):
                raise ValueError('a principles dict needs a "whitelist" mapping of dimension names to values.')
            self.given = json.loads(json.dumps(dict(source)))
        elif isinstance(source, (list, tuple)):
            pairs = []
            for item in source:
                if (not isinstance(item, (list, tuple)) or len(item) != 2 or not isinstance(item[0], Mapping)
                        or isinstance(item[1], bool) or not isinstance(item[1], (int, float))
                        or not math.isfinite(item[1])):
                    raise ValueError(f"source pairs must be (config dict, finite score), got {item!r}.")
                pairs.append((dict(item[0]), float(item[1])))
            if not pairs:
                raise ValueError("source is an empty list; pass None for a warm start.")
            self.source_pairs = pairs
        else:
            raise ValueError(
                "source must be None (warm start), a list of (config, score) pairs, a History, a "
                "principles dict, the path of a principles file, a benchmark table (top_pairs), a "
                "finished strategy of this library (history()) or, for the Optuna sampler, a finished "
                f"optuna.Study; got {type(source).__name__}."
            )
        self.source_description = source_description
        self.source_direction = source_direction
        self.warmup = warmup
        self.max_options = max_options
        self.population = population
        self.tournament_size = tournament_size
        self.adapt_every = adapt_every
        self.top_n = top_n
        self.n_source_shown = n_source_shown
        self.check_top_k = check_top_k
        self.batch_size = batch_size

    # -- settings and the artifact -------------------------------------------------------------
    @property
    def source_kind(self) -> str:
        if self.given is not None:
            return "principles"
        if self.source_pairs is not None or self.source_history is not None:
            return "architectures"
        return "warm-start"

    @property
    def learn_step(self) -> int:
        """The step whose principles are the original ones: 0 with a source, else ``warmup``."""
        return self.warmup if self.source_kind == "warm-start" else 0

    def settings(self) -> dict[str, Any]:
        return {
            "source": self.source_kind, "warmup": self.warmup if self.source_kind == "warm-start" else 0,
            "max_options": self.max_options if self.max_options is not None else "auto",
            "population": self.population, "tournament_size": self.tournament_size,
            "adapt_every": self.adapt_every, "top_n": self.top_n, "n_source_shown": self.n_source_shown,
            "check_top_k": self.check_top_k, "batch_size": self.batch_size,
        }

    def options_for(self, space: SearchSpace) -> int:
        if self.max_options is not None:
            return self.max_options
        return 2 if space.size() <= _LARGE_SPACE else 3

    @staticmethod
    def principles(where: Context | KnowledgeStore) -> dict[str, Any] | None:
        """The latest principles in a context's (or a store's) knowledge, or ``None``."""
        knowledge = where.knowledge if isinstance(where, Context) else where
        latest = knowledge.latest(KEY)
        return latest[1] if latest else None

    @staticmethod
    def save_principles(where: Context | KnowledgeStore, path: str | Path,
                        exported: Mapping[str, Any] | None = None) -> Path:
        """Write the latest principles (with their provenance) to a JSON file: a ``source=``
        for another study, in either host. ``exported`` (e.g. the host, a note naming the
        task) is added to the provenance under ``"exported"``."""
        found = LAPT.principles(where)
        if found is None:
            raise ValueError("no principles yet: LAPT has not learned any in this study.")
        document = {**{k: v for k, v in found.items() if k != "format"}, "format": FORMAT}
        provenance = dict(document.get("provenance") or {})
        provenance["exported"] = {"at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                                  **{k: v for k, v in (exported or {}).items() if v is not None}}
        document["provenance"] = provenance
        path = Path(path)
        path.write_text(json.dumps(document, indent=2))
        logger.info("LAPT: principles written to %s", path)
        return path

    @staticmethod
    def load_principles(path: str | Path) -> dict[str, Any]:
        """Principles from a JSON file: a principles dict or an exported knowledge store (its
        latest ``lapt/principles`` entry)."""
        try:
            document = json.loads(Path(path).read_text())
        except (OSError, ValueError) as exc:
            raise ValueError(f"{path}: cannot read principles: {exc}") from None
        if isinstance(document, dict) and document.get("format") == KNOWLEDGE_FORMAT:
            from ...knowledge import InMemoryKnowledge

            found = LAPT.principles(InMemoryKnowledge(document.get("entries") or {}))
            if found is None:
                raise ValueError(f"{path}: the knowledge file holds no {KEY}/<step> entry.")
            return found
        if not isinstance(document, dict) or not isinstance(document.get("whitelist"), dict):
            raise ValueError(f'{path}: not a principles file (expected an object with a "whitelist").')
        return document

    # -- proposing -----------------------------------------------------------------------------
    def propose(self, ctx: Context, n: int) -> list[Proposal]:
        transferred = self._with_transferred(ctx.knowledge)
        if transferred is not None:
            return transferred.propose(ctx, n)
        if self.source_kind == "warm-start" and len(ctx.history) < self.warmup:
            if ctx.trust_turn:  # the trust rule's LLM slots: the LLM writes architectures [ours]
                proposals, _ = ctx.ask_proposals(prompts.warm_start_messages(ctx, n), n, self.fallback,
                                                 purpose="warm-start architectures")
                return proposals
            reason = f"LAPT warm start ({len(ctx.history)} of {self.warmup} evaluations before learning)"
            logger.info("LAPT: warm start: no source given; proposing with the fallback operator until %d "
                        "evaluations, then learning principles from them (%d so far).", self.warmup, len(ctx.history))
            return self._whole_space(ctx, n, reason)
        if ctx.operator_turn:  # the trust rule's slots for the operator: the whole space
            return self._whole_space(ctx, n, OPERATOR_TURN_REASON)
        principles = self._current_principles(ctx, n)
        return self._evolve(ctx, n, principles)

    def _with_transferred(self, knowledge: KnowledgeStore) -> "LAPT | None":
        """With no source given, principles imported into this study's knowledge from another
        study (``knowledge.load(path, transfer=True)``) are the source: a copy of this method
        that has them as given principles (this object stays as built: it may serve another
        study)."""
        if self.source_kind != "warm-start":
            return None
        found = knowledge.transferred(KEY)
        if found is None or not isinstance(found[1], Mapping) or not isinstance(found[1].get("whitelist"), Mapping):
            return None
        method = copy.copy(self)
        method.given = json.loads(json.dumps(dict(found[1])))
        provenance = knowledge.get(TRANSFER_PREFIX + "provenance") or {}
        method.given_path = f"imported knowledge ({provenance.get('file', 'a knowledge file')})"
        logger.debug("LAPT: no source given; the principles imported from another study are the source.")
        return method

    def _current_principles(self, ctx: Context, upcoming: int) -> dict[str, Any]:
        j = (len(ctx.history) - self.learn_step) // self.adapt_every
        point = self.learn_step + j * self.adapt_every
        stored = ctx.knowledge.get(f"{KEY}/{point}")
        if stored is not None:
            return stored
        latest = ctx.knowledge.latest(KEY)
        if latest is not None and latest[0] > point:  # another worker is ahead: use its version
            return latest[1]
        if j == 0 or latest is None:
            learned = self._learn(ctx, upcoming)
            if j == 0 or ctx.knowledge.latest(KEY) is None:
                # Nothing learned to adapt (e.g. every source architecture failed): the full
                # space until the source holds an evaluated architecture.
                return learned
        return self._adapt(ctx, point, upcoming)

    # -- stage A -------------------------------------------------------------------------------
    def _source_data(self, ctx: Context) -> tuple[History, str]:
        if self.source_history is not None:
            data = History((_decoded(ctx.space, o) for o in self.source_history), self.source_history.directions)
            return _usable_history(data), self.source_description or "a related task"
        if self.source_pairs is not None:
            direction = self.source_direction or ctx.history.directions[0]
            data = History(directions=(direction,))
            dropped = 0
            for config, score in self.source_pairs:
                decoded, errors = ctx.space.decode(config)
                if errors:
                    dropped += 1
                else:
                    data.add(Observation(decoded, (score,)))
            if dropped:
                logger.warning("LAPT: %d of %d source architectures do not fit the search space; ignored.",
                               dropped, len(self.source_pairs))
            return data, self.source_description or "a related task"
        first = [ctx.history[i] for i in range(min(self.warmup, len(ctx.history)))]
        description = f"the first {len(first)} evaluations of this study (warm start)"
        return History(first, ctx.history.directions), self.source_description or description

    def _learn(self, ctx: Context, upcoming: int) -> dict[str, Any]:
        key = f"{KEY}/{self.learn_step}"
        stored = ctx.knowledge.get(key)
        if stored is not None:
            return stored
        options = self.options_for(ctx.space)
        if self.given is not None:
            whitelist, notes = normalize_whitelist(ctx.space, self.given.get("whitelist", {}), None, None, 0)
            provenance = dict(self.given.get("provenance") or {})
            value = _artifact(self.given.get("text", ""), whitelist, options, {
                "source": provenance.get("source", self.source_description or "given principles"),
                "kind": "given", "step": self.learn_step, "given_provenance": provenance, "notes": notes,
            })
            _log_notes(notes)
            logger.info("LAPT: using the given principles%s (no learning call): %s; principles: %s",
                        f" from {self.given_path}" if self.given_path else "", describe_provenance(provenance),
                        _short(value["text"]))
            return ctx.knowledge.put(key, value)
        data, description = self._source_data(ctx)
        if not data.usable:
            logger.warning("LAPT: the source holds no evaluated architecture; searching the full space.")
            return _artifact("", full_whitelist(ctx.space), options,
                             {"source": description, "kind": "default", "step": self.learn_step, "notes": []})
        if self.source_kind == "warm-start":
            logger.info("LAPT: warm start: learning principles from %s.", description)
        examples = data.top(self.n_source_shown)
        written = self._written_count(ctx)
        answer = ctx.ask_json(prompts.learn_messages(ctx, data, examples, description, options, written),
                              prompts.principles_schema(ctx.space, options, written), purpose="principles",
                              upcoming=upcoming)
        value = self._from_answer(ctx, answer, data, options, kind="learned", step=self.learn_step, source=description,
                                  written=written)
        if value is None:
            off = ctx.last_miss == "no LLM configured"  # use_llm=False: the LLM-off ablation, on purpose
            logger.log(logging.INFO if off else logging.WARNING,
                       "LAPT: learning principles failed (%s); searching the full space until the next "
                       "adaptation.", ctx.last_miss or "no usable answer")
            value = _artifact("", full_whitelist(ctx.space), options, {
                "source": description, "kind": "default", "step": self.learn_step,
                "reason": ctx.last_miss or "no usable answer", "notes": []})
        return ctx.knowledge.put(key, value)

    # -- adaptation ----------------------------------------------------------------------------
    def _adapt(self, ctx: Context, point: int, upcoming: int) -> dict[str, Any]:
        latest = ctx.knowledge.latest(KEY)
        if latest is None:  # nothing stored to adapt: learn (or search the full space) instead
            return self._learn(ctx, upcoming)
        last_step, current = latest
        original = ctx.knowledge.get(f"{KEY}/{self.learn_step}") or current
        now = _best_of_first(ctx.history, point)
        before = _best_of_first(ctx.history, last_step) if last_step > 0 else None
        improved = now is not None and ctx.history.is_better(now, before)
        found = ctx.history.top(self.top_n)
        options = self.options_for(ctx.space)
        written = self._written_count(ctx)
        if improved:
            messages = prompts.update_messages(ctx, current, found, options, written)
        else:
            messages = prompts.explore_messages(ctx, original, current, found, options, written)
        kind = "updated" if improved else "explored"
        answer = ctx.ask_json(messages, prompts.principles_schema(ctx.space, options, written),
                              purpose="adapt principles", upcoming=upcoming)
        value = self._from_answer(ctx, answer, History(found, ctx.history.directions), options, kind=kind,
                                  step=point, source=(current.get("provenance") or {}).get("source", ""),
                                  written=written)
        if value is None:
            reason = ctx.last_miss or "no usable answer"
            logger.info("LAPT step %d: adaptation (%s) failed (%s); keeping the current principles.",
                        point, "improved" if improved else "stuck", reason)
            provenance = dict(current.get("provenance") or {})
            provenance.update(kind="kept", step=point, reason=reason, kept_from=last_step)
            value = {**current, "provenance": provenance}
            value.pop("architectures", None)  # those were the last answer's, tried or taken by now
        else:
            logger.info("LAPT step %d: the best %s; principles %s: %s", point,
                        "improved" if improved else "did not improve", kind, _short(value["text"]))
        return ctx.knowledge.put(f"{KEY}/{point}", value)

    def _from_answer(self, ctx: Context, answer: Any, data: History, options: int, *, kind: str, step: int,
                     source: str, written: int = 0) -> dict[str, Any] | None:
        if not isinstance(answer, dict) or not isinstance(answer.get("whitelist"), dict):
            if answer is not None:
                ctx.last_miss = "the answer held no whitelist"
            return None
        whitelist, notes = normalize_whitelist(ctx.space, answer["whitelist"], options, data, self.check_top_k)
        _log_notes(notes)
        text = answer.get("principles")
        value = _artifact(text.strip() if isinstance(text, str) else "", whitelist, options,
                          {"source": source, "kind": kind, "step": step, "notes": notes})
        if written:
            value["architectures"] = _written(ctx.space, answer.get("architectures"), whitelist, value["provenance"])
        return value

    def _written_count(self, ctx: Context) -> int:
        """How many architectures a learning or adaptation call asks the LLM to write besides its
        principles [ours]: a batch's worth in the LLM's slots of the trust rule (so an LLM that
        knows good architectures is evaluated on them, not only through the refined space; no
        more calls), none in the paper's loop (``trust=False``)."""
        return self.batch_size if ctx.trust_turn else 0

    # -- stage B: regularized evolution in the refined space -----------------------------------
    def _recent_inside(self, history: History, check: Whitelist) -> list[Observation]:
        """The REA population: the latest ``population`` evaluated architectures inside the
        refined space, oldest first, among the last :data:`POPULATION_WINDOW` trials (regularized
        evolution ages its population out; older ones are not looked for). Scanned back from the
        newest, so a batch costs at most the window, not the history."""
        found: list[Observation] = []
        for i in range(len(history) - 1, max(-1, len(history) - 1 - POPULATION_WINDOW), -1):
            obs = history[i]
            if obs.usable and check.admits(obs.config):
                found.append(obs)
                if len(found) == self.population:
                    break
        found.reverse()
        return found

    def _whole_space(self, ctx: Context, n: int, reason: str) -> list[Proposal]:
        """The search of the whole space, where no principles restrict it [ours]: the method's
        operator (mutations of the best found, else random; :meth:`~llmnas.methods.base.Method.fallback`).
        The paper's REA (population 5, tournament 2) is sized for a refined space of a few dozen
        architectures; over a whole table it is a random walk of the latest five, well behind
        TPE (about 1 point of test accuracy on NAS-Bench-201 CIFAR-100 at 100 evaluations)."""
        return _emit(ctx, self.fallback(ctx, n, ctx.taken.copy()), Source.FALLBACK, reason)

    def _evolve(self, ctx: Context, n: int, principles: Mapping[str, Any]) -> list[Proposal]:
        """The LLM's slots: REA inside the refined space, whose random architectures (while
        its population is short) are, under the trust rule, first those the LLM's last learning
        or adaptation answer wrote that the study has not taken yet (source ``llm``): the LLM
        seeds the population it then evolves (REA alone in the paper's loop)."""
        written: list[Proposal] = []
        room = self._random_slots(ctx, n, principles) if ctx.trust_turn else 0
        for encoded in principles.get("architectures") or ():
            if len(written) >= room:
                break
            config, errors = ctx.space.decode(encoded)
            if not errors and ctx.is_new(config) and not ctx.problems(config):
                written.append(ctx.accept(Proposal(config, Source.LLM, "written with the LLM's principles",
                                                   short_rationale(principles.get("text") or ""))))
        if written:
            ctx.end_batch()
            if len(written) == n:
                return written
        return written + self._rea(ctx, n - len(written), principles)

    def _random_slots(self, ctx: Context, n: int, principles: Mapping[str, Any]) -> int:
        """How many of ``n`` slots REA would fill with random architectures of the refined space
        (its population is short): all of them where the principles refine nothing."""
        whitelist = principles.get("whitelist") or {}
        if not restricts(ctx.space, whitelist):
            return n
        _, short = self._population(ctx, Whitelist(ctx.space, whitelist))
        return n if short is None else min(n, short)

    def _population(self, ctx: Context, check: Whitelist) -> tuple[list[Observation], int | None]:
        """REA's population (:meth:`_recent_inside`) and how many random architectures of the
        refined space it still wants, the proposals waiting inside it counted (``None``: every
        slot, while it is empty)."""
        pool = self._recent_inside(ctx.history, check)
        if not pool:
            return pool, None
        return pool, max(0, self.population - len(pool) - sum(check.admits(c) for c in ctx.pending))

    def _rea(self, ctx: Context, n: int, principles: Mapping[str, Any]) -> list[Proposal]:
        """Regularized evolution inside the principles' refined space (the paper's stage B)."""
        whitelist = principles.get("whitelist") or {}
        if not restricts(ctx.space, whitelist):  # no principles (e.g. use_llm=False), or none that refine
            return self._whole_space(ctx, n, WHOLE_SPACE_REASON)
        refined = refined_space(ctx.space, whitelist)
        seen = KeysSeen(ctx.taken)
        untried = UntriedCount(refined, ctx.space, seen)
        out: list[Config] = []
        reasons: list[str] = []

        def accept(config: Config, reason: str) -> bool:
            key = ctx.space.key(config)
            if key in seen:
                return False
            seen.add(key)
            untried.saw(key)
            if ctx.problems(config):
                return False
            out.append(config)
            reasons.append(reason)
            return True

        check = Whitelist(ctx.space, whitelist)
        pool, short = self._population(ctx, check)
        n_random = n if short is None else short
        def futile(tries: int, limit: int) -> bool:
            """Whether a random loop's draws can only repeat from here on (the refined space is
            used up, checked once draws keep failing): then its remaining draws are made in one
            call and dropped, so the generator ends where the loop would have left it."""
            if tries < 20 * n or not untried.none_left():
                return False
            discard_samples(refined, ctx.rng, limit - tries)
            return True

        tries = 0
        while len(out) < min(n, n_random) and tries < 200 * n and not futile(tries, 200 * n):
            tries += 1
            accept(refined.sample(ctx.rng), "initial population in the refined space")
        tries = 0
        while pool and len(out) < n and tries < 200 * n:
            tries += 1
            parent = tournament(ctx.history, ctx.rng, self.tournament_size, pool)
            assert parent is not None
            dims = 1 + int(tries > 20 * n) + int(tries > 60 * n)
            accept(mutate(refined, parent.config, ctx.rng, n_dims=dims), "regularized evolution in the refined space")
        tries = 0
        while len(out) < n and tries < 100 * n and not futile(tries, 100 * n):
            tries += 1
            accept(refined.sample(ctx.rng), "random in the refined space")
        if len(out) < n:
            for config in _remaining(refined, ctx.rng, n - len(out), seen, ctx.space):
                accept(config, "random in the refined space")
        proposals = _emit(ctx, out, Source.EVOLUTION, reasons, rationale=short_rationale(principles.get("text") or ""))
        if len(proposals) < n:
            logger.warning("LAPT: the refined space (%g configurations) is exhausted; %d proposal(s) come from "
                           "the full space.", refined.size(), n - len(proposals))
            proposals += _emit(ctx, self.fallback(ctx, n - len(proposals), ctx.taken.copy()), Source.FALLBACK,
                               "LAPT refined space exhausted: full space")
        return proposals


# -- helpers -------------------------------------------------------------------------------------
def _emit(ctx: Context, configs: Iterable[Config], source: Source, reason: str | Sequence[str], *,
          rationale: str = "") -> list[Proposal]:
    out: list[Proposal] = []
    for i, config in enumerate(configs):
        if ctx.is_new(config) and not ctx.problems(config):
            why = reason if isinstance(reason, str) else reason[i]
            out.append(ctx.accept(Proposal(config, source, why, rationale)))
    ctx.end_batch()
    return out


def _artifact(text: str, whitelist: dict[str, Any], max_options: int, provenance: dict[str, Any]) -> dict[str, Any]:
    return {"format": FORMAT, "text": text, "whitelist": whitelist, "max_options": max_options,
            "provenance": {"method": "LAPT", **provenance}}


def _written(space: SearchSpace, items: Any, whitelist: Mapping[str, Any], provenance: dict[str, Any]) -> list[Any]:
    """The valid architectures of an answer's ``"architectures"`` (encoded, for the artifact);
    the invalid ones and those outside the answer's own whitelist are noted in ``provenance``
    (the latter are kept: what the LLM wrote is what it is judged on)."""
    found: list[Any] = []
    invalid = outside = 0
    check = Whitelist(space, whitelist)
    for item in items if isinstance(items, list) else ():
        config, errors = space.decode(item) if isinstance(item, dict) else ({}, ["not an object"])
        if errors:
            invalid += 1
            continue
        outside += not check.admits(config)
        found.append(space.encode(config))
    if invalid or outside or not found:
        provenance["notes"] = [*provenance.get("notes", []), (
            f"architectures: {len(found)} written, {invalid} invalid, {outside} outside the whitelist")]
        logger.info("LAPT: the LLM wrote %d architectures with its principles (%d invalid, %d outside its "
                    "whitelist)", len(found), invalid, outside)
    return found


def _decoded(space: SearchSpace, obs: Observation) -> Observation:
    config, errors = space.decode(obs.config)
    if errors:
        return Observation(obs.config, None, trial_id=obs.trial_id)  # failed: ignored by ranking
    return Observation(config, obs.values, obs.state, obs.metrics, obs.feasible, obs.trial_id)


def _best_of_first(history: History, k: int) -> Observation | None:
    """``History(history[:k]).best()`` without building it: with one objective a prefix ranks
    as the whole history does without its later observations, so its best is the first of
    ``history.top`` that is not one of them (``len(history) - k`` is one adaptation period)."""
    if history.multi_objective:  # Pareto fronts depend on the set: rank the prefix itself
        return History([history[i] for i in range(min(k, len(history)))], history.directions).best()
    later = Counter(id(history[i]) for i in range(max(k, 0), len(history)))
    for obs in history.top(sum(later.values()) + 1):
        if later[id(obs)]:  # a later observation (the same object twice: its later place ranks first)
            later[id(obs)] -= 1
            continue
        return obs
    return None


def _usable_history(data: History) -> History:
    return History(data.usable, data.directions)


def _log_notes(notes: Sequence[str]) -> None:
    for note in notes:
        if note.startswith("repaired"):
            logger.warning("LAPT: whitelist %s.", note)
        else:
            logger.warning("LAPT: whitelist: %s.", note)


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
