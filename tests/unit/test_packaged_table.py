"""The NAS-Bench-201 table shipped in the package: found last (after the path argument,
LLMNAS_BENCHMARKS_DIR and shared/benchmarks), the same bytes as the project's copy, and the
only table shipped (the others are found as before or not at all)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from llmnas.benchmarks import tables
from llmnas.benchmarks.macro import MACRO_FILE
from llmnas.benchmarks.tables import ENV_VAR, NB201_FILE, NasBench201Table, find_benchmark_file, packaged_file

SHIPPED = Path(tables.__file__).resolve().parent.parent / "data" / NB201_FILE


@pytest.fixture
def nowhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No argument, no environment variable, no shared/benchmarks anywhere."""
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.setattr(tables, "_search_roots", lambda: [tmp_path / "shared" / "benchmarks"])
    return tmp_path


def test_the_shipped_copy_is_the_last_resort(nowhere: Path) -> None:
    assert packaged_file(NB201_FILE) == SHIPPED
    assert find_benchmark_file(NB201_FILE) == SHIPPED
    table = NasBench201Table("cifar10")
    assert table.file == SHIPPED and round(table.optimum("test_acc").value, 4) == 94.3733


def test_other_tables_are_not_shipped(nowhere: Path) -> None:
    assert packaged_file(MACRO_FILE) is None
    with pytest.raises(FileNotFoundError, match=MACRO_FILE):
        find_benchmark_file(MACRO_FILE)


def test_an_explicit_place_wins_and_a_wrong_one_is_an_error(nowhere: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(FileNotFoundError, match="path argument"):
        find_benchmark_file(NB201_FILE, nowhere)  # never the shipped copy behind the user's back
    monkeypatch.setenv(ENV_VAR, str(nowhere))
    with pytest.raises(FileNotFoundError, match=ENV_VAR):
        find_benchmark_file(NB201_FILE)


def test_the_shipped_copy_matches_the_projects_table() -> None:
    shared = Path(__file__).resolve().parents[3] / "shared" / "benchmarks" / NB201_FILE
    if not shared.is_file():
        pytest.skip(f"no {shared} to compare with")
    digest = [hashlib.sha256(p.read_bytes()).hexdigest() for p in (SHIPPED, shared)]
    assert digest[0] == digest[1], f"{SHIPPED} differs from {shared}: copy it again"
