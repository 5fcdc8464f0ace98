"""The Prometheus path: ``prometheus.yaml`` run by the real collector, scraped over HTTP.

The SDK sends the sample RTT histogram over OTLP/HTTP; the test scrapes the
collector's Prometheus endpoint the way Prometheus would and checks the
translated name (``genesys.websocket.ping.rtt`` in seconds ->
``genesys_websocket_ping_rtt_seconds_{bucket,sum,count}``), every bucket's
cumulative count, the sum, and that resource attributes became labels
(``service_name``), which the dashboards rely on.
"""

from __future__ import annotations

import re
import time
import urllib.request
from pathlib import Path

import pytest

from ._collector import COLLECTOR_DIR, free_loopback_ports, running_collector
from ._sample_telemetry import (
    RTT_BOUNDARIES,
    RTT_METRIC,
    RTT_SAMPLES,
    SERVICE_NAME,
    TARGET,
    send_sample_telemetry,
)

pytestmark = pytest.mark.collector

_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def _prometheus_name(otel_name: str, unit: str) -> str:
    """The exporter's UnderscoreEscapingWithSuffixes translation, for a histogram in seconds."""
    assert unit == "s"
    return re.sub(r"[^a-zA-Z0-9_:]", "_", otel_name) + "_seconds"


def _scrape(url: str) -> list[tuple[str, dict[str, str], float]]:
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    samples = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _LINE.match(line)
        assert m, f"unparseable exposition line: {line!r}"
        samples.append((m.group(1), dict(_LABEL.findall(m.group(2) or "")), float(m.group(3))))
    return samples


def test_prometheus_config_exposes_the_rtt_histogram(
    collector_binary: Path, tmp_path: Path
) -> None:
    (prom_port,) = free_loopback_ports(1)
    url = f"http://127.0.0.1:{prom_port}/metrics"
    base = _prometheus_name(RTT_METRIC, "s")
    with running_collector(
        collector_binary,
        COLLECTOR_DIR / "prometheus.yaml",
        tmp_path,
        name="prometheus",
        extra_env={"GENESYS_PULSE_COLLECTOR_PROMETHEUS_PORT": str(prom_port)},
    ) as collector:
        send_sample_telemetry(collector.otlp_http_endpoint)
        deadline = time.monotonic() + 30
        while True:
            samples = _scrape(url)
            if any(name == f"{base}_count" for name, _, _ in samples):
                break
            if time.monotonic() >= deadline:
                pytest.fail(f"{base}_count never exposed:\n{collector.log_tail()}")
            time.sleep(0.3)

    buckets = {labels["le"]: value for name, labels, value in samples if name == f"{base}_bucket"}
    count = [v for n, _, v in samples if n == f"{base}_count"]
    total = [v for n, _, v in samples if n == f"{base}_sum"]
    assert count == [len(RTT_SAMPLES)]
    assert total == [pytest.approx(sum(RTT_SAMPLES))]
    for bound in RTT_BOUNDARIES:
        key = next(k for k in buckets if k != "+Inf" and float(k) == bound)
        assert buckets[key] == sum(1 for v in RTT_SAMPLES if v <= bound), bound
    assert buckets["+Inf"] == len(RTT_SAMPLES)

    labels = next(lbl for n, lbl, _ in samples if n == f"{base}_count")
    assert TARGET in labels.values(), labels  # the target attribute is a label
    assert labels.get("service_name") == SERVICE_NAME, labels  # resource -> labels
    assert labels.get("job") == SERVICE_NAME, labels
