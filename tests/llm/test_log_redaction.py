"""The library logs like a library: importing it leaves the root logger and the log-record
factory alone, and the redaction of secrets is local to the guarded loggers (a handler on the
top-level loggers, filters on the existing ones), yet covers loggers created later."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest

from llmnas.llm.base import RedactingFilter, guard_loggers, register_secret

SECRET = "sk-log-redaction-test-0123456789"


def test_importing_the_packages_changes_no_global_logging_state() -> None:
    code = (
        "import logging\n"
        "factory = logging.getLogRecordFactory()\n"
        "root = logging.getLogger()\n"
        "before = (list(root.handlers), root.level)\n"
        "import llmnas, llmnas.llm, llmnas.benchmarks, llmnas.methods\n"
        "import optuna_llm_samplers\n"
        "assert logging.getLogRecordFactory() is factory, 'record factory replaced'\n"
        "assert (list(root.handlers), root.level) == before, 'root logger changed'\n"
        "handlers = logging.getLogger('llmnas').handlers\n"
        "print([type(h).__name__ for h in handlers])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "['NullHandler']"


def test_a_backend_with_a_key_installs_no_record_factory(monkeypatch: pytest.MonkeyPatch) -> None:
    from llmnas.llm import OpenAIChatLLM

    factory = logging.getLogRecordFactory()
    root_handlers = list(logging.getLogger().handlers)
    OpenAIChatLLM("some-model", base_url="http://127.0.0.1:9/v1", api_key=SECRET)
    assert logging.getLogRecordFactory() is factory
    assert logging.getLogger().handlers == root_handlers


def test_loggers_created_after_the_guard_are_redacted_before_the_root_handlers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    register_secret(SECRET)
    guard_loggers()
    caplog.set_level(logging.DEBUG)
    for name in ("llmnas.created.later", "httpcore.created.later", "openai.created.later"):
        logging.getLogger(name).warning("the key is %s", SECRET)
    assert len(caplog.records) == 3
    assert all(r.getMessage() == "the key is ***" for r in caplog.records)
    assert SECRET not in caplog.text


def test_the_redacting_filter_on_a_users_handler() -> None:
    register_secret(SECRET)
    record = logging.LogRecord("elsewhere", logging.WARNING, __file__, 1, "key %s", (SECRET,), None)
    assert RedactingFilter().filter(record) is True
    assert record.getMessage() == "key ***"


def test_a_guarded_logger_still_reaches_last_resort_when_nothing_is_configured() -> None:
    """Without any handler configured, a warning of a guarded logger still reaches stderr
    (logging's lastResort), redacted: the guard neither silences nor leaks."""
    code = (
        "import logging\n"
        "from llmnas.llm.base import guard_loggers, register_secret\n"
        f"register_secret({SECRET!r})\n"
        "guard_loggers()\n"
        "logging.getLogger('httpx.somewhere').warning('retrying with %s', " + repr(SECRET) + ")\n"
        "logging.getLogger('httpx.somewhere').info('not shown: below lastResort level')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stderr.strip() == "retrying with ***"
