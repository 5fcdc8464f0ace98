"""The durable audit journal: sequence, rotation, torn tails, fsync modes, kill -9."""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from genesys_pulse.core.model import Event, ProbeKind, Sample
from genesys_pulse.telemetry import AuditJournal, read_journal

HERE = Path(__file__).parent


def ev(name: str, k: int = 0, **attrs: object) -> Event:
    return Event(target="t-journal-01", name=name, at=1_800_000_000.0 + k, attributes=attrs)  # type: ignore[arg-type]


def seqs(path: Path, backups: int = 50) -> list[int]:
    return [r["seq"] for r in read_journal(path, backups=backups)]


def test_records_sequence_and_shape(tmp_path: Path) -> None:
    path = tmp_path / "j" / "journal.jsonl"
    with AuditJournal(path) as j:
        j.on_event(ev("timeout", 1, probe="control", timeout_s=1.0))
        j.on_event(ev("window", 2, stability=1.0))  # not an audit record
        j.on_sample(
            Sample("t", ProbeKind.CONTROL, 1, 0.0, 0.0, 0.01, False, 0.0)
        )  # samples are never journaled
        j.on_event(ev("threshold.breach", 3, metric="jitter", level="critical"))
    records = read_journal(path)
    assert [r["seq"] for r in records] == [1, 2, 3]
    opened, timeout, breach = records
    assert opened["kind"] == "journal.opened" and opened["attributes"]["previous_seq"] == 0
    assert timeout["event_name"] == "genesys_pulse.timeout"
    assert timeout["attributes"] == {"probe": "control", "timeout_s": 1.0}
    assert timeout["time"] == "2027-01-15T08:00:01.000+00:00"
    assert breach["severity"] == "ERROR"
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"


def test_sequence_continues_across_reopen(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    for _ in range(3):
        with AuditJournal(path) as j:
            j.on_event(ev("reconnect", reason="error"))
    assert seqs(path) == list(range(1, 7))


@pytest.mark.parametrize("fsync", ["always", "interval", "never"])
def test_rotation_keeps_sequence(tmp_path: Path, fsync: str) -> None:
    path = tmp_path / "journal.jsonl"
    with AuditJournal(path, max_bytes=2048, backups=3, fsync=fsync) as j:  # type: ignore[arg-type]
        for k in range(60):
            j.on_event(ev("timeout", k, probe="application"))
    files = sorted(os.listdir(tmp_path))
    assert files == ["journal.jsonl", "journal.jsonl.1", "journal.jsonl.2", "journal.jsonl.3"]
    for name in files:
        assert os.path.getsize(tmp_path / name) <= 2048
    kept = seqs(path, backups=3)
    assert kept == list(range(kept[0], 62))  # oldest rotated away, no gap in what is kept
    # reopening after rotation continues from the newest file
    with AuditJournal(path, max_bytes=2048, backups=3) as j:
        assert j.next_seq == 63  # 61 + journal.opened
    assert seqs(path, backups=3)[-1] == 62


def test_reopen_right_after_rotation_reads_previous_file(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    with AuditJournal(path, max_bytes=2048, backups=2) as j:
        for k in range(10):
            j.on_event(ev("timeout", k))
        last = j.next_seq - 1
    os.replace(path, f"{path}.1")  # as if we crashed between rotation and the next write
    path.touch()
    with AuditJournal(path, max_bytes=2048, backups=2) as j:
        assert j.recovery.previous_seq == last


def test_torn_last_line_is_cut_and_gap_flagged(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    with AuditJournal(path) as j:
        for k in range(3):
            j.on_event(ev("timeout", k))
    with open(path, "ab") as f:
        f.write(b'{"seq":5,"time":"2027-01-15T0')  # a write torn by a crash
    with AuditJournal(path) as j:
        assert j.recovery.previous_seq == 4
        assert j.recovery.gap_possible and j.recovery.torn_bytes > 0
        j.on_event(ev("timeout", 9))
    records = read_journal(path)
    assert [r["seq"] for r in records] == [1, 2, 3, 4, 6, 7]
    reopened = records[4]
    assert reopened["kind"] == "journal.opened" and reopened["attributes"]["gap_possible"] is True
    assert all(line.endswith(b"}") for line in path.read_bytes().split(b"\n") if line)


def test_secrets_never_written(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    secret = "Very-Distinct-Client-Secret-42"
    with AuditJournal(path, secrets=(secret,)) as j:
        j.on_event(ev("token.failed", 1, detail=f"invalid_client for {secret}", access_token="abc"))
        j.on_event(ev("token.issued", 2, note="Bearer " + "x" * 60))
    text = path.read_text()
    assert secret not in text and "x" * 60 not in text and '"abc"' not in text
    assert "***" in text


def test_io_failure_is_counted_not_raised(tmp_path: Path) -> None:
    j = AuditJournal(tmp_path / "journal.jsonl")
    os.close(j._fd)  # the disk went away under us
    j.on_event(ev("timeout"))
    assert j.errors == 1
    j._fd = -1
    j.close()


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        AuditJournal("/tmp/x.jsonl", fsync="sometimes")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        AuditJournal("/tmp/x.jsonl", max_bytes=10)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again when this returns: nothing listens


def _run_and_kill(
    path: Path, port: int, fsync: str, records: int, script: str = "_writer.py"
) -> list[int]:
    """Start a writer, let it write *records* records, SIGKILL it; return the seqs it reported."""
    proc = subprocess.Popen(
        [sys.executable, str(HERE / script), str(path), str(port), fsync],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    written: list[int] = []
    deadline = time.monotonic() + 40
    buf = b""
    try:
        while len(written) < records and time.monotonic() < deadline:
            ready, _, _ = select.select([proc.stdout], [], [], 1.0)
            if not ready:
                continue
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                break
            buf += chunk
            *lines, buf = buf.split(b"\n")
            written += [int(line.split()[1]) for line in lines if line.startswith(b"wrote")]
    finally:
        proc.send_signal(signal.SIGKILL)  # mid-run, no chance to flush or close
        proc.wait(10)
    assert proc.returncode == -signal.SIGKILL
    assert len(written) >= records, "writer did not get far enough"
    return written


@pytest.mark.parametrize("fsync", ["always", "never"])
def test_kill_9_with_otlp_down_loses_nothing_and_sequence_continues(
    tmp_path: Path, fsync: str
) -> None:
    path = tmp_path / "journal.jsonl"
    port = _closed_port()
    first = _run_and_kill(path, port, fsync, records=150)
    on_disk = seqs(path)
    # every record the writer saw written is there, in order, with no gap
    assert on_disk == list(range(1, on_disk[-1] + 1))
    assert set(first) <= set(on_disk)
    assert on_disk[-1] >= first[-1]
    # restart: the sequence continues where the killed run stopped
    second = _run_and_kill(path, port, fsync, records=20)
    after = read_journal(path, backups=50)
    assert [r["seq"] for r in after] == list(range(1, after[-1]["seq"] + 1))
    reopened = next(r for r in after if r["kind"] == "journal.opened" and r["seq"] > 1)
    assert reopened["seq"] == on_disk[-1] + 1 or reopened["attributes"]["gap_possible"]
    assert reopened["attributes"]["previous_seq"] == on_disk[-1]
    assert second[0] == reopened["seq"] + 1
    assert len({os.path.basename(p) for p in os.listdir(tmp_path)}) > 2  # it rotated meanwhile
    for r in after:
        json.dumps(r)


def test_kill_9_of_the_real_monitor_with_otlp_down(tmp_path: Path) -> None:
    """Issue 5, acceptance 3, with run_monitor itself: kill -9 mid-run, restart, compare."""
    path = tmp_path / "journal.jsonl"
    port = _closed_port()
    first = _run_and_kill(path, port, "always", records=25, script="_monitor_proc.py")
    on_disk = read_journal(path, backups=100)
    seqs_1 = [r["seq"] for r in on_disk]
    assert seqs_1 == list(range(1, seqs_1[-1] + 1))
    assert set(first) <= set(seqs_1)
    kinds = {r["kind"] for r in on_disk}
    assert {"monitor.started", "connection.lost", "reconnect"} <= kinds, kinds
    assert "monitor.stopped" not in kinds  # it really was killed, not stopped
    second = _run_and_kill(path, port, "always", records=10, script="_monitor_proc.py")
    after = read_journal(path, backups=100)
    assert [r["seq"] for r in after] == list(range(1, after[-1]["seq"] + 1))
    assert after[: len(on_disk)] == on_disk  # nothing written before the kill was lost or changed
    reopened = after[len(on_disk)]
    assert reopened["kind"] == "journal.opened"
    assert reopened["attributes"]["previous_seq"] == seqs_1[-1]
    assert second[0] == reopened["seq"]


def _record_fsyncs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Make every ``os.fsync`` of the journal module report the thread that ran it."""
    import threading

    from genesys_pulse.telemetry import _journal

    threads: list[str] = []
    real = os.fsync

    def fsync(fd: int) -> None:
        threads.append(threading.current_thread().name)
        real(fd)

    monkeypatch.setattr(_journal.os, "fsync", fsync)
    return threads


def test_always_mode_syncs_off_the_callers_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads = _record_fsyncs(monkeypatch)
    j = AuditJournal(tmp_path / "journal.jsonl")
    caller = __import__("threading").current_thread().name
    assert threads in ([], [caller])  # opening a new file fsyncs its directory, once
    threads.clear()
    for k in range(200):  # a timeout storm: every probe an audit record
        j.on_event(ev("timeout", k, probe="application"))
    # the call sites (on_event) never fsync; the syncer commits them in groups
    assert caller not in threads
    assert j.flush(timeout=30.0)
    assert j.synced_seq == j.next_seq - 1 == 201
    assert threads and set(threads) == {"genesys-pulse-journal-fsync"}
    assert len(threads) <= 201
    j.close()
    assert seqs(tmp_path / "journal.jsonl") == list(range(1, 202))


def test_interval_mode_syncs_an_idle_journal(tmp_path: Path) -> None:
    """The syncer commits unsynced records after the interval even if nothing else is written."""
    j = AuditJournal(tmp_path / "journal.jsonl", fsync="interval", fsync_interval=0.05)
    j.on_event(ev("reconnect", reason="error"))
    deadline = time.monotonic() + 30.0
    while j.synced_seq < 2 and time.monotonic() < deadline:  # bounded wait for the syncer
        time.sleep(0.01)
    assert j.synced_seq == 2
    j.close()


def test_never_mode_has_no_syncer_but_flush_still_syncs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads = _record_fsyncs(monkeypatch)
    j = AuditJournal(tmp_path / "journal.jsonl", fsync="never")
    j.on_event(ev("reconnect", reason="error"))
    assert threads == [] and j.synced_seq == 0
    assert j.flush()
    assert j.synced_seq == 2 and len(threads) == 1
    j.close()


def test_failing_fsync_is_counted_and_never_reaches_the_caller(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from genesys_pulse.telemetry import _journal

    j = AuditJournal(tmp_path / "journal.jsonl")
    assert j.flush(timeout=30.0)

    def broken(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(_journal.os, "fsync", broken)
    j.on_event(ev("timeout", 1, probe="control"))  # must not raise
    assert j.flush(timeout=0.2) is False  # not on stable storage, and it says so
    deadline = time.monotonic() + 30.0
    while j.errors == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert j.errors >= 1
    monkeypatch.undo()
    assert j.flush(timeout=30.0)
    assert j.synced_seq == 2
    j.close()
