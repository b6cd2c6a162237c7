"""Fixtures of the NNI tests: NNI writes nothing outside the test's temporary folder."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Iterator

import pytest


@pytest.fixture(autouse=True)
def nni_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point ``HOME`` (``~/nni-experiments``) and ``NNI_CONFIG_DIR`` (the experiment manifest)
    at a temporary folder; returns the folder to use as ``experiment_working_directory``."""
    from nni.tools.nnictl import config_utils, constants

    home = tmp_path / "home"
    home.mkdir()
    experiments = home / "nni-experiments"
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("NNI_CONFIG_DIR", str(home / "nni-config"))
    # NNI's experiment manifest (~/nni-experiments/.experiment) takes its folder from a
    # constant computed when nni was imported, before HOME changed: patch it too.
    monkeypatch.setattr(constants, "NNI_HOME_DIR", str(experiments))
    monkeypatch.setattr(config_utils.Experiments.__init__, "__defaults__", (str(experiments),))
    yield experiments


@pytest.fixture
def free_port() -> int:
    """A TCP port nothing listens on (right now)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
