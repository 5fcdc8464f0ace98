"""Telemetry that is off is the floor: nothing is built for a signal nobody exports.

Structural checks (never timing): with ``OTEL_{TRACES,METRICS,LOGS}_EXPORTER=none``
the command used to build three SDK providers without processors or readers and
an OTelSink on them, which recorded every span, log record and measurement for
nobody and cost more CPU than exporting (docs/performance.md, "Telemetry off is
the floor"). Now an off signal has the API's no-op provider, and when every
signal is off the command builds no OpenTelemetry sink and never imports the SDK.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from opentelemetry import _logs, metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.trace import TracerProvider

from genesys_pulse.cli import _run
from genesys_pulse.core.config import parse_config
from genesys_pulse.core.model import ProbeKind
from genesys_pulse.telemetry import AuditJournal, OTelSink
from genesys_pulse.telemetry._otel_env import ConfigurationError, exporter_kinds, otel_requested
from genesys_pulse.telemetry.sdk_setup import configure_from_env

from ._helpers import event, sample

ALL_NONE = {
    "OTEL_TRACES_EXPORTER": "none",
    "OTEL_METRICS_EXPORTER": "none",
    "OTEL_LOGS_EXPORTER": "none",
}


@pytest.mark.parametrize(
    "env",
    [ALL_NONE, {"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "console"}],
    ids=["all-none", "sdk-disabled"],
)
def test_no_exporter_means_no_sdk_provider(env: dict[str, str]) -> None:
    p = configure_from_env(env)
    assert p.exporters == {"traces": (), "metrics": (), "logs": ()}
    assert p.metric_readers == []
    assert isinstance(p.tracer_provider, trace.NoOpTracerProvider)
    assert isinstance(p.meter_provider, metrics.NoOpMeterProvider)
    assert isinstance(p.logger_provider, _logs.NoOpLoggerProvider)
    # an OTelSink on them makes no SDK object: nothing records, nothing to drop
    sink = OTelSink(
        meter_provider=p.meter_provider,
        tracer_provider=p.tracer_provider,
        logger_provider=p.logger_provider,
    )
    sink.on_sample(sample(1, ProbeKind.CONTROL, 0.05))
    sink.on_event(event("timeout", 2, probe="control"))
    sink.on_event(event("window", 3))
    assert sink.errors == 0
    rtt = sink._metrics.instruments[0]
    assert not rtt.__class__.__module__.startswith("opentelemetry.sdk")
    assert p.shutdown(1.0)


def test_one_signal_off_gets_the_no_op_provider_the_others_the_sdk() -> None:
    p = configure_from_env(
        {"OTEL_TRACES_EXPORTER": "none", "OTEL_METRICS_EXPORTER": "console"},
        console_out=io.StringIO(),
    )
    try:
        assert isinstance(p.tracer_provider, trace.NoOpTracerProvider)
        assert isinstance(p.meter_provider, MeterProvider)
        assert not isinstance(p.logger_provider, _logs.NoOpLoggerProvider)  # logs: otlp
        assert len(p.metric_readers) == 1
    finally:
        p.shutdown(1.0)
    p = configure_from_env({"OTEL_METRICS_EXPORTER": "none", "OTEL_TRACES_EXPORTER": "console"})
    try:
        assert isinstance(p.meter_provider, metrics.NoOpMeterProvider)
        assert isinstance(p.tracer_provider, TracerProvider)
    finally:
        p.shutdown(1.0)


def test_all_none_is_off_like_no_variables() -> None:
    assert not otel_requested({})
    assert not otel_requested(ALL_NONE)
    assert not otel_requested({**ALL_NONE, "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"})
    assert not otel_requested({"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "otlp"})
    assert otel_requested({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"})
    # one signal off: the others default to otlp, so export is on
    assert otel_requested({"OTEL_TRACES_EXPORTER": "none"})
    assert exporter_kinds({"OTEL_TRACES_EXPORTER": "none"})["metrics"] == ("otlp",)
    with pytest.raises(ConfigurationError, match="OTEL_LOGS_EXPORTER"):
        otel_requested({"OTEL_LOGS_EXPORTER": "zipkin"})


def test_cli_builds_no_otel_sink_when_every_exporter_is_none(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for key in list(os.environ):
        if key.startswith("OTEL_"):
            monkeypatch.delenv(key)
    for key, value in ALL_NONE.items():
        monkeypatch.setenv(key, value)
    config = parse_config({"targets": [{"id": "floor-target", "url": "ws://127.0.0.1:9/"}]}, {})
    sinks, providers = _run._telemetry_sinks(config)
    assert sinks == [] and providers is None
    journal = parse_config(
        {
            "journal_path": str(tmp_path / "j.jsonl"),
            "targets": [{"id": "floor-target", "url": "ws://127.0.0.1:9/"}],
        },
        {},
    )
    sinks, providers = _run._telemetry_sinks(journal)
    try:
        assert [type(s) for s in sinks] == [AuditJournal] and providers is None
    finally:
        for s in sinks:
            s.close()
    # exporting one signal builds the sink, on a no-op provider for the others
    monkeypatch.setenv("OTEL_METRICS_EXPORTER", "console")
    sinks, providers = _run._telemetry_sinks(config)
    try:
        assert [type(s) for s in sinks] == [OTelSink]
        assert isinstance(providers.tracer_provider, trace.NoOpTracerProvider)
        assert isinstance(providers.logger_provider, _logs.NoOpLoggerProvider)
    finally:
        providers.shutdown(1.0)


_PROBE = textwrap.dedent(
    """
    import json, sys
    import genesys_pulse.monitor as monitor
    seen = []
    real = monitor.run_monitor
    async def spy(config, *, sinks=(), **kw):
        seen.extend(type(s).__name__ for s in sinks)
        return await real(config, sinks=sinks, **kw)
    monitor.run_monitor = spy
    from genesys_pulse.cli import main
    rc = main(["run", "--emulator", "--duration", "1s", "--output", "jsonl"])
    sdk = sorted(m for m in sys.modules if m.startswith("opentelemetry.sdk"))
    print(json.dumps({"rc": rc, "sinks": seen, "sdk": sdk}), file=sys.stderr)
    """
)


def test_cli_run_with_every_exporter_none_never_imports_the_sdk() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env.update(ALL_NONE)
    res = subprocess.run(
        [sys.executable, "-c", _PROBE],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    report = json.loads(res.stderr.strip().splitlines()[-1])
    assert report["rc"] == 0, res.stderr[-2000:]
    assert "OTelSink" not in report["sinks"]
    assert report["sinks"], "the spy saw run_monitor's sinks"
    assert report["sdk"] == []


def test_cli_names_an_unsupported_exporter_in_one_line() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env["OTEL_TRACES_EXPORTER"] = "zipkin"
    res = subprocess.run(
        [sys.executable, "-m", "genesys_pulse.cli", "run", "--emulator", "--duration", "1s"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert res.returncode == 2
    assert "OTEL_TRACES_EXPORTER" in res.stderr and "zipkin" in res.stderr
    assert "Traceback" not in res.stderr
