"""Child process for the kill -9 test: journal + OTelSink exporting to a dead OTLP endpoint.

Prints ``seq`` of every record once ``on_event`` has returned, then keeps going
until killed (bounded: at most 100000 records).
"""

from __future__ import annotations

import sys
import time

from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor

from genesys_pulse.core.model import Event
from genesys_pulse.telemetry import AuditJournal, OTelSink


def main() -> None:
    path, dead_port, fsync = sys.argv[1], sys.argv[2], sys.argv[3]
    lp = LoggerProvider()
    lp.add_log_record_processor(
        BatchLogRecordProcessor(
            OTLPLogExporter(endpoint=f"http://127.0.0.1:{dead_port}/v1/logs", timeout=1)
        )
    )
    sink = OTelSink(logger_provider=lp)
    journal = AuditJournal(path, max_bytes=4096, backups=50, fsync=fsync)  # type: ignore[arg-type]
    print(f"opened {journal.next_seq - 1}", flush=True)
    names = ("timeout", "threshold.breach", "connection.lost", "reconnect", "connection.restored")
    for k in range(100_000):
        e = Event(
            target="t-kill-0001", name=names[k % len(names)], at=time.time(), attributes={"k": k}
        )
        sink.on_event(e)
        before = journal.next_seq
        journal.on_event(e)
        print(f"wrote {before}", flush=True)
        time.sleep(0.001)


if __name__ == "__main__":
    main()
