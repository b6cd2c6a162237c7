"""Fixes for NNI 3.0 defects that break what the strategies promise (NNI is unmaintained).

Applied once, when :mod:`nni_llm_strategies` is imported; each is narrow and logged.

* **Resuming a web-UI experiment.** On ``NasExperiment.resume()`` NNI's manager replays the
  earlier trials to the tuner with an ``ImportData`` command, which the NAS command channel
  does not know: ``TunerCommandChannel.receive`` raises ``ValueError('Unknown command type')``
  on the engine's listener thread, the thread dies, and the resumed experiment waits forever
  for trial events. The fix skips commands the channel cannot parse (logged at DEBUG); the
  strategy reads the earlier trials from NNI's database instead.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

logger = logging.getLogger(__name__)

_applied = False


def apply() -> None:
    """Apply the fixes (idempotent)."""
    global _applied
    if _applied:
        return
    from nni.runtime.tuner_command_channel.channel import TunerCommandChannel

    original = TunerCommandChannel.receive

    @functools.wraps(original)
    def receive(self: Any) -> Any:
        while True:
            try:
                return original(self)
            except ValueError as exc:
                if "Unknown command type" not in str(exc):
                    raise
                logger.debug("Skipped a command NNI's NAS channel cannot parse: %s", exc)

    TunerCommandChannel.receive = receive  # type: ignore[method-assign]
    _applied = True
