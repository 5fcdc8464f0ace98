"""The fault matrix: every fault of ``_matrix.FAULTS``, injected for real.

For each fault: the monitor keeps running (or, for a refused client, stops
cleanly), the fault is detected within its bound, reported (samples, events,
span events and audit records), recovery happens within the backoff bound,
and no task, socket or file descriptor leaks. ``bench/fault_matrix.py`` runs
the same definitions and prints the summary table.

Rows with ``clock="mock"`` run under an autojump ``MockClock`` (exact times);
the others need a real socket or a real blocking call and use the real clock.
"""

from __future__ import annotations

import pytest
import trio
import trio.testing

from ._harness import run_fault
from ._matrix import FAULTS, Fault

MOCK = [f for f in FAULTS if f.clock == "mock"]
REAL = [f for f in FAULTS if f.clock == "real"]


async def _run(fault: Fault) -> None:
    result = await run_fault(fault)
    print("\n" + " | ".join(result.row()))
    assert result.ok, result.problems


@pytest.mark.parametrize("fault", MOCK, ids=[f.name for f in MOCK])
async def test_fault_mock_clock(fault: Fault, autojump_clock: trio.testing.MockClock) -> None:
    await _run(fault)


@pytest.mark.parametrize("fault", REAL, ids=[f.name for f in REAL])
async def test_fault_real_clock(fault: Fault) -> None:
    await _run(fault)


def test_summary_table_lists_every_fault() -> None:
    """``matrix-summary.md`` (what docs/reliability.md shows) is regenerated when the matrix changes:
    ``.venv/bin/python bench/fault_matrix.py --markdown tests/faults/matrix-summary.md``."""
    from pathlib import Path

    summary = (Path(__file__).with_name("matrix-summary.md")).read_text()
    rows = [line for line in summary.splitlines() if line.startswith("| ") and "[" in line]
    names = [row.split(" | ")[0][2:].rsplit(" [", 1)[0] for row in rows]
    assert names == [f.name for f in FAULTS]
    assert all(row.rstrip().endswith("| pass |") for row in rows), "a row did not pass"


def test_reliability_doc_shows_the_matrix_summary() -> None:
    """docs/reliability.md's fault table is the generated summary: same faults, all passing."""
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "docs" / "reliability.md").read_text()
    rows = [line for line in readme.splitlines() if line.startswith("| ") and " [" in line]
    names = [row.split(" | ")[0][2:].rsplit(" [", 1)[0] for row in rows]
    assert names == [f.name for f in FAULTS]
    assert all(row.rstrip().endswith("| pass |") for row in rows)
