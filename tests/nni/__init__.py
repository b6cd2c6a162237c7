"""Tests of the NNI host (``nni_llm_strategies``).

A package (not a bare folder) so that :mod:`tests.nni.spaces` is importable by name from the
trial subprocesses of NNI's web-UI engine, which load the evaluator by its module path.
"""
