"""The LLM-quality sweep: how each method uses a good LLM and survives a bad one.

- :mod:`llmnas.app.quality.llm`: :class:`QualityLLM`, a fake LLM (a library backend, no
  network) whose answers come from a benchmark table at a chosen quality: ``expert`` (the top
  1 %), ``middle``, ``misleading`` (the bottom 10 %) or ``uninformed`` (uniform);
- :mod:`llmnas.app.quality.sweep`: :class:`QualitySweep`, every method with each quality next
  to its ``use_llm=False`` ablation, TPE and random search (``llmnas compare --llm-quality …``);
- :mod:`llmnas.app.quality.report`: the sweep's report, ``quality.md``.
"""

from .llm import POOL_BOUNDS, QUALITIES, QualityLLM, TablePools, table_pools
from .report import QUALITY_FILE, quality_markdown, write_quality_report
from .sweep import DEFAULT_QUALITIES, SWEEP_CONTENDERS, QualitySweep, parse_qualities

__all__ = [
    "DEFAULT_QUALITIES", "POOL_BOUNDS", "QUALITIES", "QUALITY_FILE", "SWEEP_CONTENDERS", "QualityLLM", "QualitySweep",
    "TablePools", "parse_qualities", "quality_markdown", "table_pools", "write_quality_report",
]
