"""llmnas.app: the application on top of the library, the one room of ``llmnas`` that uses the hosts.

- :mod:`llmnas.app.cli`: the ``llmnas`` command (``python -m llmnas``): ``demo``
  (:mod:`llmnas.app.demo`) and ``compare`` (:mod:`llmnas.app.compare`);
- :mod:`llmnas.app.runner`: the comparison of our methods, their ablations and the hosts'
  built-ins on tabular benchmarks (:class:`Comparison`, :func:`run_one`), built from the
  contenders (:mod:`llmnas.app.contenders`), one run in its host (:mod:`llmnas.app.hosts`) and a
  run's record and ``runs.jsonl`` (:mod:`llmnas.app.records`);
- :mod:`llmnas.app.report`: the comparison's report (``results.md`` and plots).

The rest of ``llmnas`` imports no host (NNI, Optuna, torch, nor our adapters for them); the
modules here import them only inside the functions that run them, so importing this package
loads no host either. ``tests/unit/test_core_imports.py`` checks both statically.
"""

from .contenders import Contender, known_contenders
from .records import read_runs
from .report import write_report
from .runner import Comparison, ComparisonResult, run_one

__all__ = ["Comparison", "ComparisonResult", "Contender", "known_contenders", "read_runs", "run_one", "write_report"]
