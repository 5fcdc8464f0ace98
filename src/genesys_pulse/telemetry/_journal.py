"""The durable audit journal: append-only JSON lines with a sequence number.

See ``docs/journal.md`` for exactly what is guaranteed. In short:

* every audit record gets ``seq`` = previous + 1, continued across restarts
  (the tail of the newest file is read on open);
* each record is written with one ``os.write`` on an ``O_APPEND`` descriptor
  (no user-space buffer), so once :meth:`AuditJournal.on_event` returns the
  record survives ``kill -9`` of the process in every fsync mode;
* ``fsync`` runs off the caller's thread: a syncer thread commits whatever was
  written since its last ``fsync`` in one call (group commit). With
  ``fsync="always"`` (the default) a record is on stable storage one ``fsync``
  after the call returned (:attr:`AuditJournal.synced_seq` says which;
  :meth:`AuditJournal.flush` waits for it), so the event loop never waits for
  the disk, even in a storm of timeouts where every probe is an audit record;
* a torn last line (a crash or power loss mid-write) is cut off on open, its
  sequence number is skipped, and a ``journal.opened`` record says so;
* files rotate by size: ``journal.jsonl`` -> ``journal.jsonl.1`` -> ...
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, BinaryIO, Final, Literal

from genesys_pulse.core.model import AttrValue, Event, Sample
from genesys_pulse.telemetry._audit import audit_kind, redact_attributes

__all__ = ["AuditJournal", "JournalRecovery", "read_journal"]

_log = logging.getLogger("genesys_pulse.telemetry.journal")

FsyncPolicy = Literal["always", "interval", "never"]
_TAIL_CHUNK: Final = 64 * 1024


@dataclass(frozen=True, slots=True)
class JournalRecovery:
    """What :class:`AuditJournal` found when it opened an existing journal.

    Attributes:
      previous_seq: the last intact record's ``seq`` (0 for a new journal).
      torn_bytes: bytes of an incomplete last line that were cut off.
      gap_possible: ``True`` when a record may have been lost (a torn line
        was found); the next record's ``seq`` then skips one number.
    """

    previous_seq: int
    torn_bytes: int
    gap_possible: bool


class AuditJournal:
    """An append-only, size-rotated JSON-lines journal of audit records; a monitor sink.

    Args:
      path: the journal file (e.g. ``/var/lib/genesys-pulse/journal.jsonl``);
        rotated files get ``.1``, ``.2``, ... appended. The directory is created.
      max_bytes: rotate before a write would make the file larger than this.
      backups: rotated files kept (``0``: the old file is discarded on rotation).
      fsync: ``"always"`` - ``fsync`` as soon as a record is written, by the
        syncer thread (default); ``"interval"`` - the syncer ``fsync``s at most
        every ``fsync_interval`` seconds while something is unsynced, and on
        close; ``"never"`` - leave it to the OS (no syncer thread). In all modes
        the record is in the kernel before the call returns.
      fsync_interval: seconds, for ``fsync="interval"``.
      secrets: exact strings never to be written (masked if seen in a value).

    Samples are not journaled: :meth:`on_sample` does nothing. :meth:`on_event`
    writes every audit event (not ``window`` summaries). It never raises;
    failures are counted in :attr:`errors`.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        max_bytes: int = 10 * 1024 * 1024,
        backups: int = 5,
        fsync: FsyncPolicy = "always",
        fsync_interval: float = 1.0,
        secrets: tuple[str, ...] = (),
    ) -> None:
        if fsync not in ("always", "interval", "never"):
            raise ValueError(f"fsync must be 'always', 'interval' or 'never', not {fsync!r}")
        if max_bytes < 1024:
            raise ValueError("max_bytes must be at least 1024")
        if backups < 0:
            raise ValueError("backups must be >= 0")
        self.path = os.fspath(path)
        self.max_bytes = int(max_bytes)
        self.backups = int(backups)
        self.fsync = fsync
        self.fsync_interval = float(fsync_interval)
        self.errors = 0
        """Records that could not be written (never raised into the monitor)."""
        self._secrets = tuple(s for s in secrets if s)
        self._lock = threading.Lock()
        self._synced = threading.Condition(self._lock)
        """Notified when :attr:`synced_seq` moves and when a record is written."""
        self._written_seq = 0
        self._synced_seq = 0
        self._closing = False
        self._flush_wanted = False
        self._syncer: threading.Thread | None = None
        directory = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(directory, exist_ok=True)
        self._dir = directory
        self.recovery = self._recover()
        self._seq = self.recovery.previous_seq + (2 if self.recovery.gap_possible else 1)
        self._fd = self._open()
        if self.fsync != "never":
            self._syncer = threading.Thread(
                target=self._sync_loop, name="genesys-pulse-journal-fsync", daemon=True
            )
            self._syncer.start()
        self.write(
            "journal.opened",
            "",
            {
                "previous_seq": self.recovery.previous_seq,
                "torn_bytes": self.recovery.torn_bytes,
                "gap_possible": self.recovery.gap_possible,
                "pid": os.getpid(),
            },
            severity="WARN" if self.recovery.gap_possible else "INFO",
        )

    # ----------------------------------------------------------------- public

    @property
    def next_seq(self) -> int:
        """The ``seq`` the next record will get."""
        return self._seq

    @property
    def synced_seq(self) -> int:
        """The ``seq`` of the newest record known to be on stable storage (``fsync``-ed)."""
        with self._lock:
            return self._synced_seq

    def on_sample(self, sample: Sample) -> None:
        """Samples are not journaled (they are high-rate and not audit records)."""

    def on_event(self, event: Event) -> None:
        """Journal *event* if it is an audit record. Never raises."""
        kind = audit_kind(event)
        if kind is None:
            return
        try:
            self.write(
                kind.kind,
                event.target,
                event.attributes,
                at=event.at,
                severity=kind.severity_text,
            )
        except Exception:
            self._failed()

    def write(
        self,
        kind: str,
        target: str,
        attributes: Mapping[str, AttrValue] | Mapping[str, Any],
        *,
        at: float | None = None,
        severity: str = "INFO",
    ) -> int:
        """Append one record and return its ``seq``. Raises ``OSError`` on I/O failure.

        *attributes* pass through the redaction pass; nested JSON-able values
        (e.g. a redacted config mapping) are allowed.
        """
        at = time.time() if at is None else at
        flat = {k: v for k, v in attributes.items() if isinstance(v, str | int | float | bool)}
        clean: dict[str, Any] = dict(attributes)
        clean.update(redact_attributes(flat, extra_secrets=self._secrets))
        with self._lock:
            seq = self._seq
            record = {
                "seq": seq,
                "time": datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds"),
                "at": at,
                "kind": kind,
                "event_name": "genesys_pulse." + kind,
                "severity": severity,
                "target": target,
                "attributes": clean,
            }
            line = (json.dumps(record, separators=(",", ":"), default=str) + "\n").encode()
            for secret in self._secrets:
                if secret.encode() in line:
                    raise ValueError("refusing to journal a record containing a secret")
            if self._size + len(line) > self.max_bytes and self._size > 0:
                self._rotate()
            view = memoryview(line)
            while view:
                n = os.write(self._fd, view)
                view = view[n:]
            self._size += len(line)
            self._seq = seq + 1
            self._written_seq = seq
            if self._syncer is not None:
                self._synced.notify_all()
            return seq

    def flush(self, timeout: float | None = None) -> bool:
        """``fsync`` every record written so far; return whether they are synced.

        Called from any thread except the syncer. Raises ``OSError`` if the
        ``fsync`` fails. With ``fsync="never"`` it syncs too (an explicit
        request). *timeout* bounds the wait for the syncer thread; ``None``
        waits as long as it takes.
        """
        with self._lock:
            target = self._written_seq
            if self._synced_seq >= target or self._fd < 0:
                return True
            if self._syncer is None or not self._syncer.is_alive():
                fd = self._fd
                os.fsync(fd)
                self._synced_seq = max(self._synced_seq, target)
                return True
            self._flush_wanted = True
            self._synced.notify_all()
            return self._synced.wait_for(lambda: self._synced_seq >= target, timeout)

    def close(self) -> None:
        """Sync (unless ``fsync="never"``) and close. Idempotent; never raises."""
        with self._lock:
            self._closing = True
            self._synced.notify_all()
        if self._syncer is not None:
            self._syncer.join(timeout=30.0)
        try:
            if self.fsync != "never":
                self.flush()
        except OSError:
            self._failed()
        with self._lock:
            if self._fd >= 0:
                try:
                    os.close(self._fd)
                except OSError:
                    pass
                self._fd = -1

    def __enter__(self) -> AuditJournal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --------------------------------------------------------------- internals

    def _failed(self) -> None:
        self.errors += 1
        if self.errors == 1:
            _log.error("genesys-pulse audit journal write failed (counted)", exc_info=True)

    def _sync_loop(self) -> None:
        """The syncer thread: ``fsync`` what was written, in groups, off the caller's thread.

        The descriptor is duplicated under the lock and synced without it, so
        writers never wait for the disk; a rotation in between is harmless
        (the old file was synced by :meth:`_rotate` before it was closed).
        """
        last_sync = time.monotonic()
        while True:
            with self._lock:
                while True:
                    pending = self._written_seq > self._synced_seq
                    if self._closing:
                        return
                    if pending and (self.fsync == "always" or self._flush_wanted):
                        break
                    if pending:  # "interval"
                        wait = last_sync + self.fsync_interval - time.monotonic()
                        if wait <= 0:
                            break
                        self._synced.wait(wait)
                    else:
                        self._synced.wait()
                self._flush_wanted = False
                target = self._written_seq
                try:
                    fd = os.dup(self._fd)
                except OSError:
                    fd = -1
            ok = False
            if fd >= 0:
                try:
                    os.fsync(fd)
                    ok = True
                except OSError:
                    self._failed()
                finally:
                    os.close(fd)
            last_sync = time.monotonic()
            with self._lock:
                if ok:
                    self._synced_seq = max(self._synced_seq, target)
                else:  # do not spin on a failing disk; the records stay counted as unsynced
                    self._synced.wait(min(1.0, self.fsync_interval))
                self._synced.notify_all()

    def _open(self) -> int:
        existed = os.path.exists(self.path)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        self._size = os.fstat(fd).st_size
        if not existed and self.fsync != "never":
            self._fsync_dir()
        return fd

    def _fsync_dir(self) -> None:
        try:
            dfd = os.open(self._dir, os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(dfd)
        except OSError:
            pass
        finally:
            os.close(dfd)

    def _rotated(self, i: int) -> str:
        return f"{self.path}.{i}"

    def _rotate(self) -> None:
        if self.fsync != "never":
            os.fsync(self._fd)
        os.close(self._fd)
        self._fd = -1
        if self.backups == 0:
            os.unlink(self.path)
        else:
            oldest = self._rotated(self.backups)
            if os.path.exists(oldest):
                os.unlink(oldest)
            for i in range(self.backups - 1, 0, -1):
                src = self._rotated(i)
                if os.path.exists(src):
                    os.replace(src, self._rotated(i + 1))
            os.replace(self.path, self._rotated(1))
        self._fd = self._open()
        self._synced_seq = self._written_seq if self.fsync != "never" else self._synced_seq

    def _recover(self) -> JournalRecovery:
        """Find the last intact ``seq``; cut off a torn last line of the newest file."""
        torn = 0
        candidates = [self.path] + [self._rotated(i) for i in range(1, self.backups + 1)]
        for index, name in enumerate(candidates):
            try:
                size = os.path.getsize(name)
            except OSError:
                continue
            if size == 0:
                continue
            with open(name, "r+b") as f:
                if index == 0:
                    torn = _repair_tail(f, size)
                    size -= torn
                seq = _last_seq(f, size)
            if seq is not None:
                return JournalRecovery(seq, torn, torn > 0)
        return JournalRecovery(0, torn, torn > 0)


def _repair_tail(f: BinaryIO, size: int) -> int:
    """Truncate an incomplete last line; return the bytes removed."""
    f.seek(size - 1)
    if f.read(1) == b"\n":
        return 0
    pos = size
    while pos > 0:
        start = max(0, pos - _TAIL_CHUNK)
        f.seek(start)
        chunk = f.read(pos - start)
        nl = chunk.rfind(b"\n")
        if nl >= 0:
            keep = start + nl + 1
            break
        pos = start
    else:
        keep = 0
    f.truncate(keep)
    f.flush()
    os.fsync(f.fileno())
    removed: int = size - keep
    return removed


def _last_seq(f: BinaryIO, size: int) -> int | None:
    """The ``seq`` of the last parseable line of a file ending in a newline."""
    end = size
    buf = b""
    while end > 0 or buf:
        start = max(0, end - _TAIL_CHUNK)
        f.seek(start)
        buf = f.read(end - start) + buf
        end = start
        lines = buf.split(b"\n")
        # lines[0] may be partial unless we reached the start of the file
        complete = lines if start == 0 else lines[1:]
        for line in reversed(complete):
            if not line.strip():
                continue
            try:
                seq = json.loads(line)["seq"]
            except (ValueError, KeyError, TypeError):
                continue
            if isinstance(seq, int):
                return seq
        buf = lines[0] if start > 0 else b""
        if start == 0:
            break
    return None


def read_journal(path: str | os.PathLike[str], *, backups: int = 5) -> list[dict[str, Any]]:
    """Read every intact record of a journal, oldest file first (for tests and audits).

    An unparseable line (a torn write) is skipped.
    """
    base = os.fspath(path)
    names = [f"{base}.{i}" for i in range(backups, 0, -1)] + [base]
    records: list[dict[str, Any]] = []
    for name in names:
        try:
            with open(name, "rb") as f:
                data = f.read()
        except OSError:
            continue
        for line in data.split(b"\n"):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except ValueError:
                continue
    return records
