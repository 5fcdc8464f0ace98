"""CI smoke runs of every benchmark script (``--quick``), so they cannot rot.

The four scripts run at once, each in a subprocess of its own (they start
their own echo server, proxy and measured processes, all on 127.0.0.1), under
one time limit. No timing assertions: each test checks that its script exited
cleanly and printed a Markdown table with the expected columns and rows, and
that every number in it is finite.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench"
LIMIT = 150.0

SCRIPTS = ("accuracy", "cost", "scale", "otel_overhead", "journal_cost")


@pytest.fixture(scope="module")
def outputs() -> dict[str, tuple[int, str, str]]:
    """Run every script with ``--quick`` concurrently; (returncode, stdout, stderr) per name."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    procs = {
        name: subprocess.Popen(
            [sys.executable, str(BENCH / f"{name}.py"), "--quick"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=str(ROOT),
            env=env,
        )
        for name in SCRIPTS
    }
    deadline = time.monotonic() + LIMIT
    out: dict[str, tuple[int, str, str]] = {}
    for name, proc in procs.items():
        try:
            stdout, stderr = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            stdout, stderr = proc.communicate()
            out[name] = (-9, stdout, "timed out\n" + stderr)
            continue
        out[name] = (proc.returncode, stdout, stderr)
    return out


def parse_table(text: str) -> tuple[list[str], list[list[str]]]:
    """The first Markdown table printed: header cells and row cells."""
    lines: list[str] = []
    for ln in text.splitlines():
        if ln.startswith("|"):
            lines.append(ln)
        elif lines:
            break  # the first table ends at its first non-table line
    assert len(lines) >= 3, f"no table in output:\n{text}"
    cells = [[c.strip() for c in ln.strip("|").split("|")] for ln in lines]
    header, sep, rows = cells[0], cells[1], cells[2:]
    assert all(set(c) <= {"-"} for c in sep)
    assert all(len(r) == len(header) for r in rows)
    return header, rows


def numbers(rows: list[list[str]], header: list[str], columns: list[str]) -> list[float]:
    """Every value of ``columns`` as a float (asserting each parses and is finite)."""
    values = []
    for col in columns:
        i = header.index(col)
        for r in rows:
            v = float(r[i].rstrip(" %").replace("+", ""))
            assert math.isfinite(v), (col, r)
            values.append(v)
    return values


def checked(outputs: dict[str, tuple[int, str, str]], name: str) -> str:
    code, stdout, stderr = outputs[name]
    assert code == 0, f"{name} exited {code}:\n{stderr[-3000:]}"
    assert f"bench/results/{name}_quick.json" in stdout.replace(os.sep, "/")
    return stdout


def test_accuracy(outputs: dict[str, tuple[int, str, str]]) -> None:
    header, rows = parse_table(checked(outputs, "accuracy"))
    assert header[:4] == ["delay/dir", "targets", "client", "probe"]
    clients = {(r[2], r[3]) for r in rows}
    assert ("raw", "control") in clients
    assert ("websockets", "control") in clients
    assert ("genesys-pulse", "control") in clients
    assert ("genesys-pulse", "application") in clients
    assert {r[1] for r in rows if r[2] == "genesys-pulse"} == {"1", "3"}
    numbers(rows, header, ["n", "added ms", "excess p50", "excess p99", "error p50", "error p99"])
    assert all(int(r[header.index("n")]) > 0 for r in rows)


def test_cost(outputs: dict[str, tuple[int, str, str]]) -> None:
    header, rows = parse_table(checked(outputs, "cost"))
    assert header[:2] == ["targets", "telemetry"]
    # per target count, both telemetry set-ups; each row has this design, the
    # previous design (baseline commit) and the naive loop, measured in the same run
    assert [(r[0], r[1]) for r in rows] == [
        ("1", "noop+jsonl"),
        ("1", "sdk+otlp"),
        ("3", "noop+jsonl"),
        ("3", "sdk+otlp"),
    ]
    values = numbers(
        rows,
        header,
        [
            "pulse µs/cycle",
            "baseline µs/cycle",
            "naive µs/cycle (ctrl+echo)",
            "naive µs/ping (ctrl only)",
            "pulse/naive",
            "baseline/naive",
            "pulse/baseline",
            "pulse CPU %",
        ],
    )
    assert all(v > 0 for v in values)
    assert "baseline e24170c" in outputs["cost"][1]


def test_scale(outputs: dict[str, tuple[int, str, str]]) -> None:
    header, rows = parse_table(checked(outputs, "scale"))
    assert header[:2] == ["targets x interval", "arm"]
    assert [(r[0], r[1]) for r in rows] == [
        ("5 x 0.2 s", "pulse"),
        ("5 x 0.2 s", "baseline e24170c"),
        ("5 x 0.2 s", "naive"),
    ]
    scheduled = rows[:2]  # the naive loop has no send schedule (no send-time error)
    numbers(
        scheduled,
        header,
        ["CPU % of one core", "µs/cycle", "RSS MiB", "send err p50 ms", "send err p99 ms"],
    )
    numbers(scheduled, header, ["RTT err p99 ms (ctrl)", "false timeouts", "reconnects"])
    numbers(
        rows,
        header,
        ["CPU % of one core", "µs/cycle", "RSS MiB", "RTT err p99 ms (ctrl)", "false timeouts"],
    )


def test_otel_overhead(outputs: dict[str, tuple[int, str, str]]) -> None:
    header, rows = parse_table(checked(outputs, "otel_overhead"))
    assert [r[0] for r in rows] == ["otel-noop", "otel-otlp"]
    numbers(rows, header, ["µs/cycle", "overhead µs/cycle", "CPU %", "RSS MiB"])


def test_journal_cost(outputs: dict[str, tuple[int, str, str]]) -> None:
    header, rows = parse_table(checked(outputs, "journal_cost"))
    assert [r[0] for r in rows] == ["no journal", "journal (syncer)", "journal (inline fsync)"]
    numbers(rows, header, ["CPU µs/cycle", "send err p50 ms", "send err p99 ms", "timeouts"])
    records = [int(r[header.index("journal records")]) for r in rows]
    timeouts = [int(r[header.index("timeouts")]) for r in rows]
    # the storm happened (every probe timed out) and both journals recorded it
    assert all(t > 0 for t in timeouts)
    assert records[0] == 0 and records[1] > 0 and records[2] > 0


def test_memory() -> None:
    """``bench/memory.py --quick`` (its own process: it needs no server, so it is not in
    the concurrent fixture, and ``-k memory`` runs it alone)."""
    proc = subprocess.run(
        [sys.executable, str(BENCH / "memory.py"), "--quick"],
        capture_output=True,
        text=True,
        cwd=str(ROOT),
        timeout=LIMIT,
        check=False,
    )
    stdout = checked({"memory": (proc.returncode, proc.stdout, proc.stderr)}, "memory")
    header, rows = parse_table(stdout)
    assert header[:3] == ["structure", "before B", "after B"]
    labels = [r[0] for r in rows]
    assert "total per target (tracemalloc)" in labels
    for kind in ("control", "application", "heartbeat"):
        assert any(label.startswith(f"{kind}: threshold machines") for label in labels)
    values = numbers(rows, header, ["before B", "after B", "before gc objs", "after gc objs"])
    total = rows[labels.index("total per target (tracemalloc)")]
    assert float(total[1]) > 0 and float(total[2]) > 0
    assert all(v >= 0 for v in values)
    assert "KindStats.record" in stdout


def test_sink_cost() -> None:
    """``bench/sink_cost.py --quick`` (its own process: no sockets, so it is not in the
    concurrent fixture, and ``-k sink`` runs it alone)."""
    proc = subprocess.run(
        [sys.executable, str(BENCH / "sink_cost.py"), "--quick"],
        capture_output=True,
        text=True,
        cwd=str(ROOT),
        timeout=LIMIT,
        check=False,
    )
    stdout = checked({"sink_cost": (proc.returncode, proc.stdout, proc.stderr)}, "sink_cost")
    header, rows = parse_table(stdout)
    assert header[:2] == ["sink", "providers"]
    arms = {(r[0], r[1]) for r in rows}
    assert {("current", "noop"), ("current", "sdk"), ("floor", "sdk")} <= arms
    values = numbers(rows, header, ["µs/sample", "µs/slot", "collect ms", "µs/slot + collect"])
    assert all(v >= 0 for v in values)
    assert all(float(r[header.index("µs/sample")]) > 0 for r in rows)
    assert all(r[header.index("errors")] == "0" for r in rows)
