"""The names the dashboards' Prometheus rules and Grafana panels use are the
names the real collector writes.

The OTel sink reports a scripted monitor run (every metric of the contract)
through the SDK's OTLP/HTTP exporters to the built collector running
``otel-collector/prometheus.yaml``; the test scrapes its Prometheus endpoint
and compares every ``genesys_*`` series and label with the translation in
``genesys_pulse.telemetry._backends`` that ``dashboards/`` is checked against.
"""

from __future__ import annotations

import importlib.util
import re
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from genesys_pulse.core.model import Sample
from genesys_pulse.telemetry import OTelSink
from genesys_pulse.telemetry import _names as N
from genesys_pulse.telemetry._backends import prometheus_label, prometheus_series
from genesys_pulse.telemetry.sdk_setup import configure_from_env

from ._collector import COLLECTOR_DIR, free_loopback_ports, running_collector


def _telemetry_helpers() -> Any:
    """tests/telemetry/_helpers.py (the scripted monitor run), loaded by path:
    the test folders are separate packages."""
    path = Path(__file__).resolve().parents[1] / "telemetry" / "_helpers.py"
    spec = importlib.util.spec_from_file_location("_telemetry_helpers_for_collector", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


_H = _telemetry_helpers()
TARGET, TARGET_ATTRS, scripted_run = _H.TARGET, _H.TARGET_ATTRS, _H.scripted_run

pytestmark = pytest.mark.collector

_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def _scrape(url: str) -> list[tuple[str, dict[str, str]]]:
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    out = []
    for line in text.splitlines():
        if line and not line.startswith("#"):
            m = _LINE.match(line)
            assert m, f"unparseable exposition line: {line!r}"
            out.append((m.group(1), dict(_LABEL.findall(m.group(2) or ""))))
    return out


def test_collector_writes_the_translated_names(collector_binary: Path, tmp_path: Path) -> None:
    expected = {series: spec for spec in N.METRICS.values() for series in prometheus_series(spec)}
    (prom_port,) = free_loopback_ports(1)
    url = f"http://127.0.0.1:{prom_port}/metrics"
    with running_collector(
        collector_binary,
        COLLECTOR_DIR / "prometheus.yaml",
        tmp_path,
        name="prometheus-names",
        extra_env={"GENESYS_PULSE_COLLECTOR_PROMETHEUS_PORT": str(prom_port)},
    ) as collector:
        providers = configure_from_env(
            {
                "OTEL_EXPORTER_OTLP_ENDPOINT": collector.otlp_http_endpoint,
                "OTEL_TRACES_EXPORTER": "none",
                "OTEL_LOGS_EXPORTER": "none",
                "OTEL_METRIC_EXPORT_INTERVAL": "60000",
                "OTEL_SERVICE_NAME": "genesys-pulse-dashboards",
            }
        )
        sink = OTelSink(
            meter_provider=providers.meter_provider,
            tracer_provider=providers.tracer_provider,
            logger_provider=providers.logger_provider,
            target_attrs=TARGET_ATTRS,
        )
        for item in scripted_run():
            if isinstance(item, Sample):
                sink.on_sample(item)
            else:
                sink.on_event(item)
        assert providers.shutdown(timeout=10.0)  # one export of every metric
        assert sink.errors == 0
        deadline = time.monotonic() + 30
        while True:
            samples = _scrape(url)
            names = {name for name, _ in samples if name.startswith("genesys_")}
            if names >= set(expected) or time.monotonic() >= deadline:
                break
            time.sleep(0.3)
        log = collector.log_tail()

    assert names == set(expected), (sorted(names ^ set(expected)), log)
    for name, labels in samples:
        spec = expected.get(name)
        if spec is None:
            continue
        ours = {k for k in labels if k.startswith(("genesys_", "server_"))}
        keys = (*N.COMMON_METRIC_ATTRS, *spec.attributes)
        assert ours == {prometheus_label(k) for k in keys}, (name, labels)
        assert labels[prometheus_label(N.A_TARGET)] == TARGET
