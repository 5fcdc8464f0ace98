"""Acceptance 2 and 4: the plugin under ``opentelemetry-instrument`` in an unmodified host."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.test._otlp_test_server import OtlpProtoTestServer, RecordedLogRecord

from genesys_pulse.telemetry import read_journal

from ._support import emulator_process, instrumented_host, otel_env

MONITOR_THREAD = "genesys-pulse-monitor"


@pytest.fixture
def otlp() -> Iterator[OtlpProtoTestServer]:
    with OtlpProtoTestServer() as server:
        yield server


def wait_for_log(
    server: OtlpProtoTestServer, event_name: str, seen: list[RecordedLogRecord], timeout: float = 20
) -> Any:
    """Wait (bounded) for a log record with *event_name*; keep every record read in *seen*."""
    deadline = time.monotonic() + timeout
    while (remaining := deadline - time.monotonic()) > 0:
        try:
            record = server.get_log_record(timeout=remaining)
        except TimeoutError:
            break
        seen.append(record)
        if record.log_record.event_name == event_name:
            return record.log_record
    raise TimeoutError(f"no {event_name} log record")


def endpoint(server: OtlpProtoTestServer) -> str:
    return f"http://127.0.0.1:{server.port}"


def test_probing_starts_with_no_code_change(otlp: OtlpProtoTestServer) -> None:
    with emulator_process() as emu:
        with instrumented_host({**emu.env(), **otel_env(endpoint(otlp))}) as host:
            assert host.get("/") == b"hello\n"
            assert MONITOR_THREAD in host.threads()
            rtt = otlp.wait_for_metric(name="genesys.websocket.ping.rtt", timeout=20)
            window = otlp.wait_for_span(name="genesys_pulse.probe_window", timeout=20)
        assert host.proc.returncode == 0, host.stderr.decode()[-2000:]
    assert rtt.metric.unit == "s"
    assert rtt.scope.name == "genesys_pulse"
    resource = {kv.key: kv.value.string_value for kv in rtt.resource.attributes}
    assert resource["service.name"] == "web-service-example"  # the host's own resource
    assert window.span.end_time_unix_nano > window.span.start_time_unix_nano
    logs = {r.log_record.event_name for r in otlp.drain_log_records()}
    assert {"genesys_pulse.monitor.started", "genesys_pulse.token.issued"} <= logs
    assert emu.tokens, "the monitor never logged in"


def test_disabled_instrumentation_does_not_start(otlp: OtlpProtoTestServer) -> None:
    with emulator_process() as emu:
        env = {
            **emu.env(),
            **otel_env(endpoint(otlp)),
            "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "requests, genesys_pulse",
        }
        with instrumented_host(env) as host:
            assert host.get("/") == b"hello\n"
            assert MONITOR_THREAD not in host.threads()
        assert host.proc.returncode == 0
    assert emu.tokens == []  # nobody ever logged in to the emulator
    assert not [m for m in otlp.drain_metrics() if m.metric.name.startswith("genesys.")]
    assert b"genesys-pulse" not in host.stderr


def test_broken_config_host_starts_and_one_error_is_logged(otlp: OtlpProtoTestServer) -> None:
    with emulator_process() as emu:
        env = {**emu.env(GENESYS_PULSE_INTERVAL="0.01"), **otel_env(endpoint(otlp))}
        with instrumented_host(env) as host:
            assert host.get("/") == b"hello\n"
            assert MONITOR_THREAD not in host.threads()
        assert host.proc.returncode == 0
    lines = [line for line in host.stderr.decode().splitlines() if "genesys-pulse" in line]
    assert len(lines) == 1, host.stderr.decode()
    assert "monitor not started" in lines[0] and "interval" in lines[0]
    assert emu.tokens == []


def test_no_secret_or_token_anywhere(otlp: OtlpProtoTestServer, tmp_path: Path) -> None:
    """Acceptance 4 (issue 4) / 4 (issue 5): reconnects, refreshes and an auth failure,
    then every byte the hosts emitted is searched for secrets and tokens."""
    secret = "Pulse-Test-Secret-7f3a9c2e-DO-NOT-LEAK"
    wrong = "Wrong-Secret-b81d44-DO-NOT-LEAK"
    journal = tmp_path / "journal.jsonl"
    texts: list[str] = []
    seen_logs: list[RecordedLogRecord] = []
    console = {
        "OTEL_TRACES_EXPORTER": "otlp,console",
        "OTEL_METRICS_EXPORTER": "otlp,console",
        "OTEL_LOGS_EXPORTER": "otlp,console",
        "OTEL_PYTHON_LOG_LEVEL": "debug",
    }
    with emulator_process(
        "--client-secret", secret, "--close-every", "1.5", "--token-ttl", "3"
    ) as emu:
        env = {
            **emu.env(GENESYS_PULSE_JOURNAL_PATH=str(journal)),
            **otel_env(endpoint(otlp)),
            **console,
        }
        with instrumented_host(env) as host:
            otlp.wait_for_metric(name="genesys.websocket.reconnects", timeout=20)
            otlp.wait_for_span(name="genesys_pulse.connect", timeout=20)
        texts += [host.stdout.decode(errors="replace"), host.stderr.decode(errors="replace")]
        bad_env = {
            **emu.env(GENESYS_CLOUD_CLIENT_SECRET=wrong),
            **otel_env(endpoint(otlp)),
            **console,
        }
        with instrumented_host(bad_env) as bad:
            assert bad.get("/") == b"hello\n"
            failed = wait_for_log(otlp, "genesys_pulse.token.failed", seen_logs)
        texts += [bad.stdout.decode(errors="replace"), bad.stderr.decode(errors="replace")]
    assert emu.tokens, "no token was issued: the scan would prove nothing"
    exported = [str(r.span) for r in otlp.drain_spans()]
    exported += [str(r.metric) for r in otlp.drain_metrics()]
    logs = seen_logs + otlp.drain_log_records()
    exported += [str(r.log_record) for r in logs]
    records = read_journal(journal)
    kinds = {r["kind"] for r in records}
    assert {"connection.lost", "reconnect"} <= kinds, kinds  # the faults really happened
    assert failed.severity_text == "ERROR"
    haystack = "\n".join(texts + exported) + journal.read_text()
    assert len(haystack) > 10_000
    for needle in (secret, wrong, *emu.tokens):
        assert needle not in haystack
