"""How the telemetry contract's names look in each backend, derived from ``_names``.

The dashboards and alerts under ``dashboards/`` name metrics and attributes
the way each backend stores them. This module writes those translations down
once, from the contract, so that the definitions can be checked against it
(``tests/dashboards``): rename a metric in ``_names.py`` and every definition
still using the old name fails a test.

Prometheus (the collector's ``prometheus`` exporter, default
``translation_strategy: UnderscoreEscapingWithSuffixes``; the same rules as
Prometheus's own OTLP receiver) -- hand-written because the rules live in a Go
library (``github.com/prometheus/otlptranslator``, ``normalizeName`` and the
``LabelNamer``) with no Python equivalent; the version the collector v0.159.0
builds with is otlptranslator v1.0.0 (``tests/dashboards`` runs that library on
the whole contract, ``dashboards/prometheus/otlpnames``, and compares):

* the name is split into tokens at every character outside ``[A-Za-z0-9:]``
  (dots become ``_``, runs of separators collapse);
* the unit is appended as a word unless already a token: ``s`` -> ``seconds``
  (``ms`` -> ``milliseconds``, ``By`` -> ``bytes``, ...); ``1`` and
  annotations in braces (``{ping}``) add nothing;
* a monotonic sum (counter) gets ``_total``; a gauge of unit ``1`` gets
  ``_ratio``;
* a histogram is exposed as ``<name>_bucket`` (label ``le``), ``_sum`` and
  ``_count``;
* attribute keys become labels with every character outside
  ``[A-Za-z0-9_]`` replaced by ``_`` (``genesys.monitor.target`` ->
  ``genesys_monitor_target``); ``service.name`` becomes ``job`` and
  ``service.instance.id`` ``instance``.

Datadog, New Relic and Honeycomb keep the OTel names as they are (dots and
all): Datadog tags, New Relic ``Metric`` attributes and Honeycomb columns are
the attribute keys, and the metric names are unchanged. Datadog maps an OTLP
histogram to a distribution (percentiles with ``p95:<name>``), New Relic to a
``distribution`` (``percentile(<name>, 95)``), Honeycomb to a histogram field
(``P95(<name>)``).
"""

from __future__ import annotations

import re
from typing import Final

from genesys_pulse.telemetry import _names as N

__all__ = [
    "otel_names",
    "prometheus_label",
    "prometheus_metric",
    "prometheus_names",
    "prometheus_series",
]

# otlptranslator unitMap (v1.0.0): the units the contract uses, and the common ones.
_UNIT_WORDS: Final = {
    "d": "days",
    "h": "hours",
    "min": "minutes",
    "s": "seconds",
    "ms": "milliseconds",
    "us": "microseconds",
    "ns": "nanoseconds",
    "By": "bytes",
    "1": "",
    "%": "percent",
}
_NAME_SEP: Final = re.compile(r"[^A-Za-z0-9:]+")
_LABEL_BAD: Final = re.compile(r"[^A-Za-z0-9_]")


def _unit_word(unit: str) -> str:
    main = unit.split("/", 1)[0].strip()
    if not main or "{" in main or "}" in main:
        return ""
    return _UNIT_WORDS.get(main, main)


def prometheus_metric(spec: N.MetricSpec) -> str:
    """The Prometheus metric family name of *spec* (without histogram suffixes)."""
    tokens = [t for t in _NAME_SEP.split(spec.name) if t]
    word = _unit_word(spec.unit)
    if word and word not in tokens:
        tokens.append(word)
    if spec.instrument == "counter":
        tokens = [t for t in tokens if t != "total"] + ["total"]
    if spec.unit == "1" and spec.instrument == "gauge":
        tokens = [t for t in tokens if t != "ratio"] + ["ratio"]
    name = "_".join(tokens)
    return "_" + name if name[:1].isdigit() else name


def prometheus_series(spec: N.MetricSpec) -> tuple[str, ...]:
    """The series names Prometheus stores for *spec*."""
    base = prometheus_metric(spec)
    if spec.instrument == "histogram":
        return (base + "_bucket", base + "_sum", base + "_count")
    return (base,)


def prometheus_label(key: str) -> str:
    """The Prometheus label name of attribute *key*."""
    label = _LABEL_BAD.sub("_", key)
    return "key_" + label if label[:1].isdigit() else label


def prometheus_names() -> frozenset[str]:
    """Every metric family, series and label name the contract yields in Prometheus."""
    out: set[str] = set()
    for spec in N.METRICS.values():
        out.add(prometheus_metric(spec))
        out.update(prometheus_series(spec))
        for key in (*N.COMMON_METRIC_ATTRS, *spec.attributes):
            out.add(prometheus_label(key))
    return frozenset(out)


def otel_names() -> frozenset[str]:
    """Every name of the contract as OTel-native backends store it.

    Metric names, attribute keys, span names and span event names; log
    ``event_name``s (``genesys_pulse.<kind>``) are added by the caller from
    ``_audit.AUDIT_KINDS``.
    """
    out: set[str] = set(N.METRICS)
    out.update(getattr(N, k) for k in dir(N) if k.startswith("A_"))
    out.update((N.S_CONNECT, N.S_PROBE_WINDOW))
    out.update(N.SPAN_EVENT_NAMES.values())
    return frozenset(out)
