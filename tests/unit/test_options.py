"""The shared options are declared once (llmnas/options.py) and every public class takes them.

What is checked: the typed keywords (``SearchOptionsKwargs``, for ``typing.Unpack``) list exactly
the fields of ``SearchOptions``; every field has its docstring there; each method's settings
(``llmnas/method_settings.py``) are exactly the keywords its constructor takes (so a setting
added to a method cannot be forgotten by the hosts); no public sampler or strategy re-declares a
shared option in its signature; each accepts every shared option and rejects a stray keyword with
a ``TypeError`` that names it.
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

import llmnas.options
from llmnas.method_settings import METHOD_SETTINGS, build_method
from llmnas.methods import GPTEA, LAPT, SEKI, CoLLMNAS
from llmnas.options import SearchOptions, SearchOptionsKwargs
from llmnas.searcher import Searcher


def test_typed_keywords_match_the_dataclass():
    assert set(SearchOptionsKwargs.__annotations__) == set(SearchOptions.names())


def test_every_option_is_documented_once_in_the_options_module():
    tree = ast.parse(Path(llmnas.options.__file__).read_text())
    [cls] = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "SearchOptions"]
    documented = set()
    for field, after in zip(cls.body, cls.body[1:]):
        if isinstance(field, ast.AnnAssign) and isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant):
            documented.add(field.target.id)
    assert set(SearchOptions.names()) <= documented


@pytest.mark.parametrize("method_class", [SEKI, LAPT, CoLLMNAS, GPTEA], ids=lambda c: c.__name__)
def test_method_settings_are_the_constructor_keywords(method_class):
    settings_type, _ = METHOD_SETTINGS[method_class.name if isinstance(method_class.name, str) else method_class().name]
    constructor = set(inspect.signature(method_class.__init__).parameters) - {"self"}
    taken_elsewhere = {"budget"}  # a shared option the builder passes on
    host_form = {"prior": "prior", "corpus": None, "navigator_llm": None, "generator_llm": None}
    settings = {host_form.get(k, k) for k in settings_type.__annotations__} - {None}
    assert settings == constructor - taken_elsewhere - {"source_direction"}


def test_build_method_passes_the_budget_and_the_role_llms():
    method, options, own = build_method("CoLLM-NAS", {"budget": 33, "round_size": 3, "seed": 4,
                                                      "navigator_llm": "http://127.0.0.1:9/v1"})
    assert (method.budget, method.round_size, options.seed, own) == (33, 3, 4, {})
    assert options.role_llms == {"navigator": "http://127.0.0.1:9/v1", "generator": None}
    with pytest.raises(TypeError, match="unexpected keyword argument 'rounds'"):
        build_method("SEKI", {"rounds": 3}, owner="SEKISampler")


def test_searcher_takes_options_or_keywords_not_both():
    a = Searcher(SEKI(budget=10), seed=3, use_llm=False)
    b = Searcher(SEKI(budget=10), options=SearchOptions(seed=3, use_llm=False))
    assert (a.seed, a.use_llm) == (b.seed, b.use_llm) == (3, False)
    with pytest.raises(TypeError, match="not both"):
        Searcher(SEKI(), options=SearchOptions(), seed=1)
    with pytest.raises(TypeError, match="unexpected keyword argument 'sead'"):
        Searcher(SEKI(), sead=1)


def _public_classes() -> list[type]:
    from nni_llm_strategies import CoLLMNASStrategy, GPTEAStrategy, LAPTStrategy, SEKIStrategy
    from optuna_llm_samplers import CoLLMNASSampler, GPTEASampler, LAPTSampler, SEKISampler

    return [SEKISampler, LAPTSampler, CoLLMNASSampler, GPTEASampler,
            SEKIStrategy, LAPTStrategy, CoLLMNASStrategy, GPTEAStrategy]


def test_no_public_class_redeclares_a_shared_option():
    shared = set(SearchOptions.names())
    for cls in _public_classes():
        declared = set(inspect.signature(cls.__init__).parameters) - {"self", "options"}
        assert not declared & shared, f"{cls.__name__} re-declares {sorted(declared & shared)}"


def test_every_public_class_takes_every_shared_option_and_rejects_strays():
    defaults = {name: getattr(SearchOptions(), name) for name in SearchOptions.names()}
    defaults["use_llm"] = False
    for cls in _public_classes():
        made = cls(**defaults)
        searcher = getattr(made, "_searcher", None) or made.searcher
        assert searcher.options == SearchOptions(**defaults), cls.__name__
        with pytest.raises(TypeError, match=rf"{cls.__name__}\(\) got an unexpected keyword argument 'max_call'"):
            cls(max_call=1)
