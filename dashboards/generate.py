"""Generate the dashboard and alert definitions under dashboards/ from one panel list.

    .venv/bin/python dashboards/generate.py          # rewrite the generated files
    .venv/bin/python dashboards/generate.py --check  # exit 1 if any file is stale

Every metric and attribute name comes from the telemetry contract
(``genesys_pulse.telemetry._names``) and, for Prometheus and Grafana, from its
translation (``genesys_pulse.telemetry._backends``). The generated files are
committed (they are what users import); ``tests/dashboards`` checks that they
are current, that every name in them is in the contract, and that each
backend's own models or tools accept them. The Prometheus rules and their
promtool tests (``prometheus/rules.yaml``, ``prometheus/rules.test.yaml``) are
written by hand: PromQL is the content there.

Why generated: the same ~14 panels exist in four formats; one list keeps
their meaning (which definition each figure uses) identical everywhere.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genesys_pulse.telemetry import _names as N
from genesys_pulse.telemetry._backends import prometheus_label, prometheus_metric

HERE = Path(__file__).resolve().parent

#: The monitor's default probe timeout and the local-stall threshold (seconds):
#: both are bucket boundaries of SECONDS_BUCKETS, so Prometheus can count the
#: observations above them exactly.
TIMEOUT_S = 1.0
STALL_S = 0.05
#: Minutes without data before "no data" alerts fire; minutes of a sustained
#: disconnected state before the disconnected alert fires.
NO_DATA_MIN = 10
DISCONNECTED_MIN = 5

M = N.METRICS
TARGET, ENV, PING, REASON, METRIC = (
    N.A_TARGET,
    N.A_ENVIRONMENT,
    N.A_PING_TYPE,
    N.A_REASON,
    N.A_METRIC,
)


def le(bound: float) -> str:
    """A matcher for the bucket *bound*: Prometheus 3 stores ``le`` as a float
    (``1.0``), Prometheus 2 as the exporter wrote it (``1``)."""
    short, full = f"{bound:g}", repr(float(bound))
    return f'le="{full}"' if short == full else f'le=~"{short}|{full}"'


def prom(name: str) -> str:
    return prometheus_metric(M[name])


def lbl(key: str) -> str:
    return prometheus_label(key)


@dataclass(frozen=True)
class Panel:
    """One chart, in every backend. ``definition`` says which figure it shows."""

    key: str
    title: str
    definition: str
    unit: str  # "s", "ratio", "count", "state"
    datadog: tuple[str, ...]
    nrql: str
    honeycomb: dict[str, Any]
    promql: tuple[tuple[str, str], ...]  # (legend, expr)


DD_SCOPE = "{$environment,$target}"
PT, PE, PL = lbl(TARGET), lbl(ENV), lbl(PING)
PSEL = f'{PE}=~"$environment", {PT}=~"$target"'
BY_T = f"{PE}, {PT}"


def _hq(
    op: str, column: str | None, breakdowns: list[str], filters: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    calc: dict[str, Any] = {"op": op}
    if column is not None:
        calc["column"] = column
    q: dict[str, Any] = {"calculations": [calc], "breakdowns": breakdowns, "time_range": 3600}
    if filters:
        q["filters"] = filters
    return q


def _quantiles(metric: str, by: str) -> tuple[tuple[str, str], ...]:
    base = prom(metric)
    return tuple(
        (
            f"p{q} {{{{{PT}}}}} {{{{{PL}}}}}" if by == PL else f"p{q} {{{{{PT}}}}}",
            f"histogram_quantile(0.{q}, sum by (le, {BY_T}{', ' + by if by else ''}) "
            f"(rate({base}_bucket{{{PSEL}}}[5m])))",
        )
        for q in ("50", "95", "99")
    )


PANELS: tuple[Panel, ...] = (
    Panel(
        "rtt",
        "RTT p50 / p95 / p99 per probe type",
        "Round-trip time of each answered ping (control = RFC 6455 ping/pong, application = "
        "Genesys {message:ping}); late answers (after the timeout) are included with their true RTT.",
        "s",
        tuple(f"{p}:{N.M_RTT}{DD_SCOPE} by {{{TARGET},{PING}}}" for p in ("p50", "p95", "p99")),
        f"SELECT percentile({N.M_RTT}, 50, 95, 99) FROM Metric FACET {ENV}, {TARGET}, {PING} "
        "TIMESERIES",
        {
            **_hq("P50", N.M_RTT, [ENV, TARGET, PING]),
            "calculations": [{"op": p, "column": N.M_RTT} for p in ("P50", "P95", "P99")],
        },
        _quantiles(N.M_RTT, PL),
    ),
    Panel(
        "timeouts",
        "Timeouts and late answers",
        f"Timeouts: pings not answered within the timeout (counter). Late answers: answers "
        f"that came after the timeout, i.e. RTT observations above the {TIMEOUT_S:g} s default "
        "timeout (Prometheus counts them from the le bucket; elsewhere the RTT max against "
        "the timeout line shows them).",
        "count",
        (
            f"sum:{N.M_TIMEOUTS}{DD_SCOPE} by {{{TARGET},{PING}}}.as_count()",
            f"max:{N.M_RTT}{DD_SCOPE} by {{{TARGET},{PING}}}",
        ),
        f"SELECT sum({N.M_TIMEOUTS}) AS 'timeouts', max({N.M_RTT}) AS 'max RTT (s)' FROM Metric "
        f"FACET {ENV}, {TARGET}, {PING} TIMESERIES",
        {
            **_hq("SUM", N.M_TIMEOUTS, [ENV, TARGET, PING]),
            "calculations": [
                {"op": "SUM", "column": N.M_TIMEOUTS},
                {"op": "MAX", "column": N.M_RTT},
            ],
        },
        (
            (
                f"timeouts {{{{{PT}}}}} {{{{{PL}}}}}",
                f"sum by ({BY_T}, {PL}) (increase({prom(N.M_TIMEOUTS)}{{{PSEL}}}[5m]))",
            ),
            (
                f"late answers (> {TIMEOUT_S:g} s) {{{{{PT}}}}} {{{{{PL}}}}}",
                f'sum by ({BY_T}, {PL}) (increase({prom(N.M_RTT)}_bucket{{{PSEL}, le="+Inf"}}[5m])) '
                f"- sum by ({BY_T}, {PL}) (increase({prom(N.M_RTT)}_bucket{{{PSEL}, {le(TIMEOUT_S)}}}[5m]))",
            ),
        ),
    ),
    Panel(
        "jitter_ipdv",
        "Jitter: IPDV |RTT_k - RTT_k-1| (RFC 3393), p95",
        "Instantaneous packet delay variation between consecutive answered pings of one probe type.",
        "s",
        (f"p95:{N.M_JITTER}{DD_SCOPE} by {{{TARGET},{PING}}}",),
        f"SELECT percentile({N.M_JITTER}, 95) FROM Metric FACET {ENV}, {TARGET}, {PING} TIMESERIES",
        _hq("P95", N.M_JITTER, [ENV, TARGET, PING]),
        (
            (
                f"IPDV p95 {{{{{PT}}}}} {{{{{PL}}}}}",
                f"histogram_quantile(0.95, sum by (le, {BY_T}, {PL}) "
                f"(rate({prom(N.M_JITTER)}_bucket{{{PSEL}}}[5m])))",
            ),
        ),
    ),
    Panel(
        "jitter_rfc3550",
        "Jitter: RFC 3550 interarrival estimate J += (|D| - J)/16",
        "The smoothed jitter gauge (RFC 3550 A.8 estimator over the IPDV), per probe type.",
        "s",
        (f"max:{N.M_JITTER_SMOOTHED}{DD_SCOPE} by {{{TARGET},{PING}}}",),
        f"SELECT latest({N.M_JITTER_SMOOTHED}) FROM Metric FACET {ENV}, {TARGET}, {PING} TIMESERIES",
        _hq("MAX", N.M_JITTER_SMOOTHED, [ENV, TARGET, PING]),
        (
            (
                f"RFC 3550 jitter {{{{{PT}}}}} {{{{{PL}}}}}",
                f"max by ({BY_T}, {PL}) ({prom(N.M_JITTER_SMOOTHED)}{{{PSEL}}})",
            ),
        ),
    ),
    Panel(
        "stability",
        "Stability per probe type",
        "Share of probe slots answered in time over the monitor's sliding stability window (0..1).",
        "ratio",
        (f"min:{N.M_STABILITY}{DD_SCOPE} by {{{TARGET},{PING}}}",),
        f"SELECT min({N.M_STABILITY}) FROM Metric FACET {ENV}, {TARGET}, {PING} TIMESERIES",
        _hq("MIN", N.M_STABILITY, [ENV, TARGET, PING]),
        (
            (
                f"stability {{{{{PT}}}}} {{{{{PL}}}}}",
                f"min by ({BY_T}, {PL}) ({prom(N.M_STABILITY)}{{{PSEL}}})",
            ),
        ),
    ),
    Panel(
        "heartbeat_gap",
        "Heartbeat gap (max and p99)",
        "Time between two server heartbeats; a silence beyond the critical limit is recorded with "
        "its length.",
        "s",
        (
            f"max:{N.M_HEARTBEAT_GAP}{DD_SCOPE} by {{{TARGET}}}",
            f"p99:{N.M_HEARTBEAT_GAP}{DD_SCOPE} by {{{TARGET}}}",
        ),
        f"SELECT max({N.M_HEARTBEAT_GAP}), percentile({N.M_HEARTBEAT_GAP}, 99) FROM Metric "
        f"FACET {ENV}, {TARGET} TIMESERIES",
        {
            **_hq("MAX", N.M_HEARTBEAT_GAP, [ENV, TARGET]),
            "calculations": [
                {"op": "MAX", "column": N.M_HEARTBEAT_GAP},
                {"op": "P99", "column": N.M_HEARTBEAT_GAP},
            ],
        },
        (
            (
                f"heartbeat gap p99 {{{{{PT}}}}}",
                f"histogram_quantile(0.99, sum by (le, {BY_T}) "
                f"(rate({prom(N.M_HEARTBEAT_GAP)}_bucket{{{PSEL}}}[15m])))",
            ),
        ),
    ),
    Panel(
        "connection",
        "Connection state (1 connected, 0 not)",
        "The 1/0 connection gauge per target; min over each interval shows any disconnection in it.",
        "state",
        (f"min:{N.M_CONNECTION_STATE}{DD_SCOPE} by {{{TARGET}}}",),
        f"SELECT min({N.M_CONNECTION_STATE}) FROM Metric FACET {ENV}, {TARGET} TIMESERIES",
        _hq("MIN", N.M_CONNECTION_STATE, [ENV, TARGET]),
        (
            (
                f"connected {{{{{PT}}}}}",
                f"min by ({BY_T}) ({prom(N.M_CONNECTION_STATE)}{{{PSEL}}})",
            ),
        ),
    ),
    Panel(
        "reconnects",
        "Reconnects by reason",
        "Reconnection attempts per target, broken down by the monitor's reason.",
        "count",
        (f"sum:{N.M_RECONNECTS}{DD_SCOPE} by {{{TARGET},{REASON}}}.as_count()",),
        f"SELECT sum({N.M_RECONNECTS}) FROM Metric FACET {ENV}, {TARGET}, {REASON} TIMESERIES",
        _hq("SUM", N.M_RECONNECTS, [ENV, TARGET, REASON]),
        (
            (
                f"{{{{{PT}}}}} {{{{{lbl(REASON)}}}}}",
                f"sum by ({BY_T}, {lbl(REASON)}) (increase({prom(N.M_RECONNECTS)}{{{PSEL}}}[15m]))",
            ),
        ),
    ),
    Panel(
        "threshold",
        "Threshold state (0 ok, 1 warning, 2 critical)",
        "The monitor's own threshold machines (with hysteresis), per metric and probe type.",
        "state",
        (f"max:{N.M_THRESHOLD_STATE}{DD_SCOPE} by {{{TARGET},{METRIC},{PING}}}",),
        f"SELECT max({N.M_THRESHOLD_STATE}) FROM Metric FACET {ENV}, {TARGET}, {METRIC}, {PING} "
        "TIMESERIES",
        _hq("MAX", N.M_THRESHOLD_STATE, [ENV, TARGET, METRIC, PING]),
        (
            (
                f"{{{{{PT}}}}} {{{{{lbl(METRIC)}}}}} {{{{{PL}}}}}",
                f"max by ({BY_T}, {lbl(METRIC)}, {PL}) ({prom(N.M_THRESHOLD_STATE)}{{{PSEL}}})",
            ),
        ),
    ),
    Panel(
        "loop_lag",
        "Monitor loop lag (p99, max) and local stalls",
        f"How late the monitor's own event loop sent each probe (a busy host, not a slow network); "
        f"probes sent more than {STALL_S * 1000:g} ms late mark local stalls.",
        "s",
        (
            f"p99:{N.M_LOOP_LAG}{DD_SCOPE} by {{{TARGET}}}",
            f"max:{N.M_LOOP_LAG}{DD_SCOPE} by {{{TARGET}}}",
        ),
        f"SELECT percentile({N.M_LOOP_LAG}, 99), max({N.M_LOOP_LAG}) FROM Metric "
        f"FACET {ENV}, {TARGET} TIMESERIES",
        {
            **_hq("P99", N.M_LOOP_LAG, [ENV, TARGET]),
            "calculations": [
                {"op": "P99", "column": N.M_LOOP_LAG},
                {"op": "MAX", "column": N.M_LOOP_LAG},
            ],
        },
        (
            (
                f"loop lag p99 {{{{{PT}}}}}",
                f"histogram_quantile(0.99, sum by (le, {BY_T}) "
                f"(rate({prom(N.M_LOOP_LAG)}_bucket{{{PSEL}}}[5m])))",
            ),
            (
                f"probes sent > {STALL_S * 1000:g} ms late {{{{{PT}}}}}",
                f'sum by ({BY_T}) (increase({prom(N.M_LOOP_LAG)}_bucket{{{PSEL}, le="+Inf"}}[5m])) '
                f"- sum by ({BY_T}) (increase({prom(N.M_LOOP_LAG)}_bucket{{{PSEL}, {le(STALL_S)}}}[5m]))",
            ),
        ),
    ),
    Panel(
        "pings",
        "Pings sent per minute",
        "Probe volume per target and type: a flat zero line means the monitor stopped reporting.",
        "count",
        (f"sum:{N.M_PINGS}{DD_SCOPE} by {{{TARGET},{PING}}}.as_count()",),
        f"SELECT sum({N.M_PINGS}) FROM Metric FACET {ENV}, {TARGET}, {PING} TIMESERIES 1 minute",
        _hq("SUM", N.M_PINGS, [ENV, TARGET, PING]),
        (
            (
                f"pings/min {{{{{PT}}}}} {{{{{PL}}}}}",
                f"sum by ({BY_T}, {PL}) (rate({prom(N.M_PINGS)}{{{PSEL}}}[5m])) * 60",
            ),
        ),
    ),
)

# ---------------------------------------------------------------- Datadog


def datadog_dashboard() -> dict[str, Any]:
    widgets = []
    for p in PANELS:
        queries = [
            {"data_source": "metrics", "name": f"q{i}", "query": q} for i, q in enumerate(p.datadog)
        ]
        widgets.append(
            {
                "definition": {
                    "type": "timeseries",
                    "title": p.title,
                    "show_legend": True,
                    "requests": [
                        {
                            "response_format": "timeseries",
                            "queries": queries,
                            "formulas": [{"formula": q["name"]} for q in queries],
                            "display_type": "line",
                        }
                    ],
                    **(
                        {
                            "markers": [
                                {"value": f"y = {TIMEOUT_S:g}", "display_type": "error dashed"}
                            ]
                        }
                        if p.key == "timeouts"
                        else {}
                    ),
                }
            }
        )
    return {
        "title": "genesys-pulse: Genesys Cloud notifications WebSocket",
        "description": "RTT, timeouts, jitter, stability, heartbeats, connection, thresholds and the "
        "monitor's own loop lag, per target and environment. Generated by dashboards/generate.py.",
        "layout_type": "ordered",
        "template_variables": [
            {"name": "environment", "prefix": ENV, "available_values": [], "default": "*"},
            {"name": "target", "prefix": TARGET, "available_values": [], "default": "*"},
        ],
        "widgets": widgets,
    }


def _dd_monitor(
    name: str, query: str, message: str, options: dict[str, Any], tags: list[str]
) -> dict[str, Any]:
    return {
        "name": name,
        "type": "query alert",
        "query": query,
        "message": message,
        "tags": ["app:genesys-pulse", *tags],
        "priority": None,
        "options": {"include_tags": True, "require_full_window": False, **options},
    }


def datadog_monitors() -> list[dict[str, Any]]:
    group = f"{ENV},{TARGET}"
    return [
        _dd_monitor(
            "genesys-pulse: {{[genesys.threshold.metric].name}} threshold on "
            "{{[genesys.monitor.target].name}} ({{[genesys.ping.type].name}})",
            f"max(last_2m):max:{N.M_THRESHOLD_STATE}{{*}} by {{{group},{METRIC},{PING}}} >= 2",
            "The monitor's own threshold machine is at {{#is_alert}}critical{{/is_alert}}"
            "{{#is_warning}}warning{{/is_warning}} (value {{value}}: 0 ok, 1 warning, 2 critical). "
            "Mirrors genesys.websocket.threshold.state; it clears when the monitor clears it.",
            {"thresholds": {"critical": 2, "warning": 1}, "notify_no_data": False},
            ["alert:threshold"],
        ),
        _dd_monitor(
            "genesys-pulse: no data from {{[genesys.monitor.target].name}}",
            f"sum(last_{NO_DATA_MIN}m):sum:{N.M_PINGS}{{*}} by {{{group}}}.as_count() < 1",
            f"No pings reported for target {{{{[genesys.monitor.target].name}}}} for {NO_DATA_MIN} "
            "minutes: the monitor lost this target, or its data stopped on the way.",
            {
                "thresholds": {"critical": 1},
                "notify_no_data": True,
                "no_data_timeframe": NO_DATA_MIN,
            },
            ["alert:no-data-target"],
        ),
        _dd_monitor(
            "genesys-pulse: the monitor reports nothing",
            f"sum(last_{NO_DATA_MIN}m):sum:{N.M_PINGS}{{*}}.as_count() < 1",
            f"No pings from any target for {NO_DATA_MIN} minutes: the monitor (or its collector) "
            "is down. Absence of data is the alert here, not a quiet network.",
            {
                "thresholds": {"critical": 1},
                "notify_no_data": True,
                "no_data_timeframe": NO_DATA_MIN,
            },
            ["alert:no-data-monitor"],
        ),
        _dd_monitor(
            "genesys-pulse: {{[genesys.monitor.target].name}} disconnected",
            f"max(last_{DISCONNECTED_MIN}m):min:{N.M_CONNECTION_STATE}{{*}} by {{{group}}} < 1",
            f"Target {{{{[genesys.monitor.target].name}}}} has not been connected at any point in "
            f"the last {DISCONNECTED_MIN} minutes (genesys.websocket.connection.state stayed 0).",
            {"thresholds": {"critical": 1}, "notify_no_data": False},
            ["alert:disconnected"],
        ),
    ]


# ---------------------------------------------------------------- New Relic


def newrelic_dashboard() -> dict[str, Any]:
    widgets = []
    for i, p in enumerate(PANELS):
        widgets.append(
            {
                "title": p.title,
                "layout": {
                    "column": 1 + (i % 2) * 6,
                    "row": 1 + (i // 2) * 3,
                    "width": 6,
                    "height": 3,
                },
                "visualization": {"id": "viz.line"},
                "rawConfiguration": {
                    "nrqlQueries": [{"accountIds": [0], "query": p.nrql}],
                    "platformOptions": {"ignoreTimeRange": False},
                },
            }
        )
    return {
        "name": "genesys-pulse: Genesys Cloud notifications WebSocket",
        "description": "Generated by dashboards/generate.py. Replace accountIds 0 with your account id.",
        "permissions": "PUBLIC_READ_WRITE",
        "pages": [{"name": "WebSocket health", "description": None, "widgets": widgets}],
    }


def _nr_condition(
    name: str, query: str, terms: list[dict[str, Any]], *, expiration: int | None, description: str
) -> dict[str, Any]:
    return {
        "name": name,
        "description": description,
        "enabled": True,
        "nrql": {"query": query},
        "terms": terms,
        "signal": {
            "aggregationWindow": 60,
            "aggregationMethod": "EVENT_FLOW",
            "aggregationDelay": 120,
            "fillOption": "NONE",
        },
        "expiration": {
            "expirationDuration": expiration,
            "openViolationOnExpiration": expiration is not None,
            "closeViolationsOnExpiration": False,
        },
        "violationTimeLimitSeconds": 86400,
    }


def _term(priority: str, operator: str, threshold: float, seconds: int) -> dict[str, Any]:
    return {
        "priority": priority,
        "operator": operator,
        "threshold": threshold,
        "thresholdDuration": seconds,
        "thresholdOccurrences": "ALL",
    }


def newrelic_conditions() -> list[dict[str, Any]]:
    facet = f"FACET {ENV}, {TARGET}"
    return [
        _nr_condition(
            "genesys-pulse: threshold state",
            f"SELECT max({N.M_THRESHOLD_STATE}) FROM Metric {facet}, {METRIC}, {PING}",
            [
                _term("CRITICAL", "ABOVE_OR_EQUALS", 2, 60),
                _term("WARNING", "ABOVE_OR_EQUALS", 1, 60),
            ],
            expiration=None,
            description="Mirrors the monitor's threshold machines: 1 warning, 2 critical.",
        ),
        _nr_condition(
            "genesys-pulse: no data from a target",
            f"SELECT sum({N.M_PINGS}) FROM Metric {facet}",
            [_term("CRITICAL", "BELOW", 1, NO_DATA_MIN * 60)],
            expiration=NO_DATA_MIN * 60,
            description=f"A target sent no pings for {NO_DATA_MIN} minutes (loss of signal per "
            "facet opens a violation).",
        ),
        _nr_condition(
            "genesys-pulse: the monitor reports nothing",
            f"SELECT sum({N.M_PINGS}) FROM Metric",
            [_term("CRITICAL", "BELOW", 1, NO_DATA_MIN * 60)],
            expiration=NO_DATA_MIN * 60,
            description=f"No pings from any target for {NO_DATA_MIN} minutes: the monitor or its "
            "collector is down.",
        ),
        _nr_condition(
            "genesys-pulse: target disconnected",
            f"SELECT max({N.M_CONNECTION_STATE}) FROM Metric {facet}",
            [_term("CRITICAL", "BELOW", 1, DISCONNECTED_MIN * 60)],
            expiration=None,
            description=f"The connection gauge stayed 0 for {DISCONNECTED_MIN} minutes.",
        ),
    ]


# ---------------------------------------------------------------- Honeycomb

#: Derived column for the connection SLO (on the traces dataset).
HC_SLI_ALIAS = "sli_connect_ok"


def honeycomb_queries() -> dict[str, Any]:
    return {
        "dataset": "metrics dataset (x-honeycomb-dataset of the metrics pipeline)",
        "queries": {
            p.key: {"name": p.title, "description": p.definition, "query": p.honeycomb}
            for p in PANELS
        },
    }


def honeycomb_board() -> dict[str, Any]:
    return {
        "name": "genesys-pulse: Genesys Cloud notifications WebSocket",
        "description": "Generated by dashboards/generate.py; query ids come from creating "
        "queries.json (see README).",
        "type": "flexible",
        "panels": [
            {"type": "query", "query_panel": {"query_id": f"${{{p.key}}}", "query_style": "graph"}}
            for p in PANELS
        ],
    }


def honeycomb_slo() -> dict[str, Any]:
    return {
        "derived_column": {
            "alias": HC_SLI_ALIAS,
            "description": "1 for a successful genesys_pulse.connect span, 0 for a failed one "
            "(error.type set), null for other spans.",
            "expression": f'IF(EQUALS($name, "{N.S_CONNECT}"), NOT(EXISTS(${N.A_ERROR_TYPE})))',
        },
        "slo": {
            "name": "genesys-pulse: connection attempts succeed",
            "description": "99 % of genesys_pulse.connect attempts (login, channel, subscribe, "
            "handshake) succeed over 30 days.",
            "sli": {"alias": HC_SLI_ALIAS},
            "time_period_days": 30,
            "target_per_million": 990000,
        },
    }


def _hc_trigger(
    name: str, description: str, query: dict[str, Any], op: str, value: float, frequency: int
) -> dict[str, Any]:
    return {
        "name": name,
        "description": description,
        "disabled": False,
        "query": query,
        "threshold": {"op": op, "value": value, "exceeded_limit": 1},
        "frequency": frequency,
        "alert_type": "on_change",
        "recipients": [],
    }


def honeycomb_triggers() -> list[dict[str, Any]]:
    exists = [{"column": N.M_PINGS, "op": "exists"}]
    return [
        _hc_trigger(
            "genesys-pulse: threshold critical",
            "The monitor's threshold state reached 2 (critical) for a target/metric/probe type.",
            {**_hq("MAX", N.M_THRESHOLD_STATE, [TARGET, METRIC, PING]), "time_range": 300},
            ">=",
            2,
            60,
        ),
        _hc_trigger(
            "genesys-pulse: threshold warning",
            "The monitor's threshold state reached 1 (warning) for a target/metric/probe type.",
            {**_hq("MAX", N.M_THRESHOLD_STATE, [TARGET, METRIC, PING]), "time_range": 300},
            ">=",
            1,
            60,
        ),
        _hc_trigger(
            "genesys-pulse: a target sent no data",
            f"Fewer distinct targets reported pings in the last {NO_DATA_MIN} minutes than are "
            "configured: set the threshold value to your number of targets.",
            {
                **_hq("COUNT_DISTINCT", TARGET, [], exists),
                "time_range": NO_DATA_MIN * 60,
            },
            "<",
            1,
            300,
        ),
        _hc_trigger(
            "genesys-pulse: the monitor reports nothing",
            f"No ping data points from any target in the last {NO_DATA_MIN} minutes.",
            {**_hq("COUNT", None, [], exists), "time_range": NO_DATA_MIN * 60},
            "<",
            1,
            300,
        ),
        _hc_trigger(
            "genesys-pulse: target disconnected",
            f"The connection gauge stayed 0 for {DISCONNECTED_MIN} minutes.",
            {
                **_hq("MAX", N.M_CONNECTION_STATE, [TARGET]),
                "time_range": DISCONNECTED_MIN * 60,
            },
            "<",
            1,
            60,
        ),
    ]


# ---------------------------------------------------------------- Grafana

_GRAFANA_UNITS = {"s": "s", "ratio": "percentunit", "count": "short", "state": "short"}


def grafana_dashboard() -> dict[str, Any]:
    ds = {"type": "prometheus", "uid": "${datasource}"}
    panels = []
    for i, p in enumerate(PANELS):
        panels.append(
            {
                "id": i + 1,
                "type": "timeseries",
                "title": p.title,
                "description": p.definition,
                "datasource": ds,
                "gridPos": {"h": 8, "w": 12, "x": (i % 2) * 12, "y": (i // 2) * 8},
                "fieldConfig": {"defaults": {"unit": _GRAFANA_UNITS[p.unit]}, "overrides": []},
                "options": {
                    "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
                    "tooltip": {"mode": "multi", "sort": "desc"},
                },
                "targets": [
                    {
                        "datasource": ds,
                        "refId": chr(ord("A") + j),
                        "expr": expr,
                        "legendFormat": legend,
                    }
                    for j, (legend, expr) in enumerate(p.promql)
                ],
            }
        )

    def var(name: str, label: str, query: str) -> dict[str, Any]:
        return {
            "type": "query",
            "name": name,
            "label": label,
            "datasource": ds,
            "query": {"query": query, "refId": f"{name}-var"},
            "refresh": 2,
            "includeAll": True,
            "allValue": ".*",
            "multi": True,
            "current": {"text": ["All"], "value": ["$__all"]},
        }

    pings = prom(N.M_PINGS)
    return {
        "uid": "genesys-pulse",
        "title": "genesys-pulse: Genesys Cloud notifications WebSocket",
        "description": "Prometheus names as the collector's prometheus exporter writes them. "
        "Generated by dashboards/generate.py.",
        "tags": ["genesys-pulse", "websocket"],
        "timezone": "browser",
        "editable": True,
        "graphTooltip": 1,
        "schemaVersion": 39,
        "time": {"from": "now-6h", "to": "now"},
        "refresh": "1m",
        "templating": {
            "list": [
                {
                    "type": "datasource",
                    "name": "datasource",
                    "label": "Prometheus",
                    "query": "prometheus",
                },
                var("environment", "Environment", f"label_values({pings}, {PE})"),
                var("target", "Target", f'label_values({pings}{{{PE}=~"$environment"}}, {PT})'),
            ]
        },
        "annotations": {"list": []},
        "panels": panels,
    }


# ---------------------------------------------------------------- files

FILES: dict[str, Callable[[], Any]] = {
    "datadog/dashboard.json": datadog_dashboard,
    "datadog/monitors.json": datadog_monitors,
    "newrelic/dashboard.json": newrelic_dashboard,
    "newrelic/alert-conditions.json": newrelic_conditions,
    "honeycomb/queries.json": honeycomb_queries,
    "honeycomb/board.json": honeycomb_board,
    "honeycomb/slo.json": honeycomb_slo,
    "honeycomb/triggers.json": honeycomb_triggers,
    "grafana/genesys-pulse.json": grafana_dashboard,
}


def rendered() -> dict[Path, str]:
    return {HERE / rel: json.dumps(make(), indent=2) + "\n" for rel, make in FILES.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if a file is stale")
    args = parser.parse_args(argv)
    stale = []
    for path, text in rendered().items():
        current = path.read_text() if path.exists() else None
        if current == text:
            continue
        stale.append(path.relative_to(HERE))
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    if args.check and stale:
        print("stale (run dashboards/generate.py): " + ", ".join(map(str, stale)), file=sys.stderr)
        return 1
    for rel in stale:
        print(f"wrote dashboards/{rel}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
