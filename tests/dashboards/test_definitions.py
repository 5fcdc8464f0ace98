"""The dashboards and alerts under dashboards/ stay true to the telemetry contract.

* every metric, attribute, span, span-event and log-event name any definition
  references is a name of the contract (``_names.py``), in the form the
  backend stores it (``_backends.py``): a rename in the contract fails here;
* the generated files are current (``dashboards/generate.py --check``);
* Datadog definitions load into ``datadog-api-client`` models with nothing
  left unparsed; the Grafana dashboard round-trips through
  ``grafana-foundation-sdk``'s generated models without losing a field;
  New Relic and Honeycomb bodies have the fields and values their APIs take;
* the Prometheus rules pass ``promtool check rules`` and ``promtool test
  rules`` (the real binary), and the tests cover every alert firing and
  staying quiet.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from genesys_pulse.telemetry import _names as N
from genesys_pulse.telemetry._audit import AUDIT_KINDS
from genesys_pulse.telemetry._backends import (
    otel_names,
    prometheus_label,
    prometheus_metric,
    prometheus_names,
    prometheus_series,
)

ROOT = Path(__file__).resolve().parents[2]
DASH = ROOT / "dashboards"
PROM = DASH / "prometheus"
PROMTOOL = Path(os.environ.get("GENESYS_PULSE_PROMTOOL", str(PROM / "_build" / "promtool")))

OTEL_BACKEND_FILES = sorted(
    p for d in ("datadog", "newrelic", "honeycomb") for p in (DASH / d).glob("*.json")
)
PROM_FILES = [
    PROM / "rules.yaml",
    PROM / "rules.test.yaml",
    DASH / "grafana" / "genesys-pulse.json",
]

# An OTel-style name: genesys.*, genesys_pulse.*, or a semconv key we use.
_OTEL_TOKEN = re.compile(
    r"(?<![A-Za-z0-9_.])((?:genesys|genesys_pulse)\.[A-Za-z0-9_.]*[A-Za-z0-9_]|"
    r"(?:server|error)\.[a-z_]+)"
)
# A Prometheus-style name: genesys_* up to a non-name character (':' splits
# recording-rule names into level, metric and operation).
_PROM_TOKEN = re.compile(r"(?<![A-Za-z0-9_.])(genesys_[a-z0-9_]+)(?![A-Za-z0-9_.])")


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def otel_allowed() -> frozenset[str]:
    return otel_names() | {kind.event_name for kind in AUDIT_KINDS.values()}


def prom_allowed() -> frozenset[str]:
    # recording rules name the metric without _total (Prometheus convention)
    counters = {
        prometheus_metric(s).removesuffix("_total")
        for s in N.METRICS.values()
        if s.instrument == "counter"
    }
    # the exporter's otel_scope_name label carries the instrumentation scope
    return prometheus_names() | counters | {N.INSTRUMENTATION_SCOPE}


def strings(node: Any) -> Iterator[str]:
    """Every string (keys and values) in a JSON/YAML document."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for k, v in node.items():
            yield str(k)
            yield from strings(v)
    elif isinstance(node, list):
        for v in node:
            yield from strings(v)


def load(path: Path) -> Any:
    text = path.read_text()
    return json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)


def unknown_otel_names(doc: Any, allowed: frozenset[str]) -> set[str]:
    return {
        m.group(1)
        for s in strings(doc)
        for m in _OTEL_TOKEN.finditer(s)
        if m.group(1) not in allowed
    }


def unknown_prom_names(doc: Any, allowed: frozenset[str]) -> set[str]:
    return {
        m.group(1)
        for s in strings(doc)
        for m in _PROM_TOKEN.finditer(s)
        if m.group(1) not in allowed
    }


def referenced_metrics(doc: Any) -> set[str]:
    found = {m.group(1) for s in strings(doc) for m in _OTEL_TOKEN.finditer(s)}
    return found & set(N.METRICS)


# ------------------------------------------------------------------ contract


@pytest.mark.parametrize("path", OTEL_BACKEND_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_otel_backend_names_are_in_the_contract(path: Path) -> None:
    doc = load(path)
    assert not unknown_otel_names(doc, otel_allowed()), path
    # nor Prometheus-style spellings of them
    assert not {m.group(1) for s in strings(doc) for m in _PROM_TOKEN.finditer(s)}, path


@pytest.mark.parametrize("path", PROM_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_prometheus_names_are_the_contract_translated(path: Path) -> None:
    doc = load(path)
    assert not unknown_prom_names(doc, prom_allowed()), path
    # OTel names in prose (annotations, descriptions) must be real too
    assert not unknown_otel_names(doc, otel_allowed()), path


def test_a_renamed_metric_fails_the_name_check() -> None:
    """The check above is not vacuous: drop a name from the contract and the
    definitions that use it are reported."""
    renamed = otel_allowed() - {N.M_RTT}
    doc = load(DASH / "datadog" / "dashboard.json")
    assert unknown_otel_names(doc, renamed) == {N.M_RTT}
    rtt = prometheus_metric(N.METRICS[N.M_RTT])
    prom_renamed = prom_allowed() - {rtt, *prometheus_series(N.METRICS[N.M_RTT])}
    rules = load(PROM / "rules.yaml")
    assert unknown_prom_names(rules, prom_renamed) == {rtt, rtt + "_bucket"}


@pytest.mark.parametrize(
    "path",
    [
        DASH / "datadog" / "dashboard.json",
        DASH / "newrelic" / "dashboard.json",
        DASH / "honeycomb" / "queries.json",
    ],
    ids=lambda p: p.parent.name,
)
def test_each_dashboard_shows_every_metric(path: Path) -> None:
    assert referenced_metrics(load(path)) == set(N.METRICS)


def test_grafana_dashboard_shows_every_metric() -> None:
    doc = load(DASH / "grafana" / "genesys-pulse.json")
    exprs = " ".join(t["expr"] for p in doc["panels"] for t in p["targets"])
    for spec in N.METRICS.values():
        assert prometheus_metric(spec) in exprs, spec.name


@pytest.mark.parametrize(
    ("path", "metrics"),
    [
        (DASH / "datadog" / "monitors.json", None),
        (DASH / "newrelic" / "alert-conditions.json", None),
        (DASH / "honeycomb" / "triggers.json", None),
        (PROM / "rules.yaml", "prom"),
    ],
    ids=lambda v: v.parent.name if isinstance(v, Path) else "",
)
def test_every_backend_alerts_on_levels_no_data_and_disconnection(
    path: Path, metrics: str | None
) -> None:
    doc = load(path)
    if metrics == "prom":
        text = json.dumps(doc)
        for m in (N.M_THRESHOLD_STATE, N.M_PINGS, N.M_CONNECTION_STATE):
            assert prometheus_metric(N.METRICS[m]) in text, m
    else:
        assert {N.M_THRESHOLD_STATE, N.M_PINGS, N.M_CONNECTION_STATE} <= referenced_metrics(doc)


def test_prometheus_translation_matches_the_exporter_rules() -> None:
    """Spot checks of the translation against the otlptranslator rules
    (``_seconds`` for s, ``_total`` for counters, ``_ratio`` for gauges of unit 1,
    annotations in braces dropped, dots to underscores)."""
    m = N.METRICS
    assert prometheus_series(m[N.M_RTT]) == (
        "genesys_websocket_ping_rtt_seconds_bucket",
        "genesys_websocket_ping_rtt_seconds_sum",
        "genesys_websocket_ping_rtt_seconds_count",
    )
    assert prometheus_metric(m[N.M_PINGS]) == "genesys_websocket_pings_total"
    assert prometheus_metric(m[N.M_TIMEOUTS]) == "genesys_websocket_ping_timeouts_total"
    assert (
        prometheus_metric(m[N.M_JITTER_SMOOTHED])
        == "genesys_websocket_ping_jitter_smoothed_seconds"
    )
    assert prometheus_metric(m[N.M_CONNECTION_STATE]) == "genesys_websocket_connection_state_ratio"
    assert prometheus_metric(m[N.M_LOOP_LAG]) == "genesys_monitor_loop_lag_seconds"
    assert prometheus_label(N.A_TARGET) == "genesys_monitor_target"
    assert prometheus_label(N.A_SERVER_ADDRESS) == "server_address"
    unit_in_name = N.MetricSpec("x.wait.seconds", "histogram", "s")
    assert prometheus_metric(unit_in_name) == "x_wait_seconds"
    total_in_name = N.MetricSpec("x.total", "counter", "1")
    assert prometheus_metric(total_in_name) == "x_total"


# ------------------------------------------------------------------ generated


def test_generated_files_are_current() -> None:
    spec = importlib.util.spec_from_file_location("dashboards_generate", DASH / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    assert module.main(["--check"]) == 0, "run: .venv/bin/python dashboards/generate.py"


def test_every_backend_folder_has_a_readme_on_importing() -> None:
    for name, words in {
        "datadog": ("api/v1/dashboard", "api/v1/monitor", "datadog_dashboard_json"),
        "newrelic": (
            "dashboardCreate",
            "alertsNrqlConditionStaticCreate",
            "newrelic_one_dashboard_json",
        ),
        "honeycomb": ("/1/boards", "/1/triggers/", "/1/slos/", "/1/derived_columns/"),
        "prometheus": ("rule_files", "promtool test rules"),
        "grafana": ("/api/dashboards/db", "grafana_dashboard"),
    }.items():
        readme = (DASH / name / "README.md").read_text()
        for word in words:
            assert word in readme, (name, word)


# ------------------------------------------------------------------ Datadog


def _unparsed(node: Any, path: str = "$") -> list[str]:
    from datadog_api_client.model_utils import OpenApiModel, UnparsedObject

    if isinstance(node, UnparsedObject):
        return [path]
    out: list[str] = []
    if isinstance(node, OpenApiModel):
        if node._unparsed:
            out.append(path)
        for key, value in node._data_store.items():
            out += _unparsed(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out += _unparsed(value, f"{path}[{i}]")
    return out


def _dd_client() -> Any:
    from datadog_api_client import ApiClient, Configuration

    return ApiClient(Configuration())


def test_datadog_dashboard_loads_into_the_api_client_models() -> None:
    from datadog_api_client.v1.model.dashboard import Dashboard

    text = (DASH / "datadog" / "dashboard.json").read_text()
    dashboard = _dd_client().deserialize(text, (Dashboard,), True)
    assert isinstance(dashboard, Dashboard)
    assert _unparsed(dashboard) == []
    assert dashboard.to_dict() == json.loads(text)  # nothing dropped or coerced
    # the check is not vacuous: a misspelt widget type is left unparsed
    bad = json.loads(text)
    bad["widgets"][0]["definition"]["type"] = "timeserie"
    assert _unparsed(_dd_client().deserialize(json.dumps(bad), (Dashboard,), True))


def test_datadog_monitors_load_into_the_api_client_models() -> None:
    from datadog_api_client.v1.model.monitor import Monitor
    from datadog_api_client.v1.model.monitor_type import MonitorType

    monitors = load(DASH / "datadog" / "monitors.json")
    assert len(monitors) == 4
    for body in monitors:
        monitor = _dd_client().deserialize(json.dumps(body), (Monitor,), True)
        assert isinstance(monitor, Monitor)
        assert _unparsed(monitor) == []
        assert monitor.type == MonitorType.QUERY_ALERT
        assert monitor.to_dict() == body
        # a metric monitor query: <time aggr>(<window>):<space aggr>:<metric>{...} <cmp> <n>
        assert re.fullmatch(
            r"(max|min|avg|sum)\(last_\d+m\):(max|min|avg|sum):[a-z.]+\{[^}]*\}"
            r"( by \{[a-z._,]+\})?(\.as_count\(\))? (>=|<=|>|<) \d+",
            body["query"],
        ), body["query"]
        critical = body["options"]["thresholds"]["critical"]
        assert body["query"].endswith(f" {critical}")


# ------------------------------------------------------------------ Grafana


def _diff(a: Any, b: Any, path: str = "$") -> list[str]:
    """What of *a* is missing or different in *b* (keys *b* adds are defaults)."""
    if isinstance(a, dict) and isinstance(b, dict):
        out: list[str] = []
        for key, value in a.items():
            if key not in b:
                out.append(f"{path}.{key} dropped")
            else:
                out += _diff(value, b[key], f"{path}.{key}")
        return out
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{path}: {len(a)} items became {len(b)}"]
        return [
            d
            for i, (x, y) in enumerate(zip(a, b, strict=True))
            for d in _diff(x, y, f"{path}[{i}]")
        ]
    return [] if a == b else [f"{path}: {a!r} became {b!r}"]


def _grafana_round_trip(doc: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    from grafana_foundation_sdk.cog import plugins
    from grafana_foundation_sdk.cog.encoder import JSONEncoder
    from grafana_foundation_sdk.models.dashboard import Dashboard

    plugins.register_default_plugins()
    model = Dashboard.from_json(doc)
    return model, json.loads(json.dumps(model, cls=JSONEncoder))


def test_grafana_dashboard_round_trips_through_the_foundation_sdk_models() -> None:
    from grafana_foundation_sdk.models import prometheus, timeseries

    doc = load(DASH / "grafana" / "genesys-pulse.json")
    model, out = _grafana_round_trip(doc)
    assert _diff(doc, out) == []
    # panels and queries decoded into their typed models, not left generic
    for panel in model.panels:
        assert isinstance(panel.options, timeseries.Options)
        for target in panel.targets:
            assert isinstance(target, prometheus.Dataquery)
    # the check is not vacuous: a misspelt key is dropped by the models
    bad = json.loads(json.dumps(doc))
    bad["panels"][0]["gridpos"] = bad["panels"][0].pop("gridPos")
    assert "$.panels[0].gridpos dropped" in _diff(bad, _grafana_round_trip(bad)[1])


def test_grafana_variables_filter_every_query() -> None:
    doc = load(DASH / "grafana" / "genesys-pulse.json")
    names = [v["name"] for v in doc["templating"]["list"]]
    assert names == ["datasource", "environment", "target"]
    for panel in doc["panels"]:
        for target in panel["targets"]:
            assert '=~"$environment"' in target["expr"] and '=~"$target"' in target["expr"]


# ------------------------------------------------------------------ New Relic

_NR_VIZ = {"viz.line", "viz.area", "viz.billboard", "viz.table", "viz.bar", "viz.pie"}


def test_newrelic_dashboard_is_a_nerdgraph_dashboard_input() -> None:
    doc = load(DASH / "newrelic" / "dashboard.json")
    assert set(doc) == {"name", "description", "permissions", "pages"}
    assert doc["permissions"] in {"PUBLIC_READ_WRITE", "PUBLIC_READ_ONLY", "PRIVATE"}
    for page in doc["pages"]:
        for w in page["widgets"]:
            assert set(w) == {"title", "layout", "visualization", "rawConfiguration"}
            layout = w["layout"]
            assert 1 <= layout["column"] <= 12 and layout["column"] + layout["width"] - 1 <= 12
            assert w["visualization"]["id"] in _NR_VIZ
            (q,) = w["rawConfiguration"]["nrqlQueries"]
            assert q["accountIds"] == [0]
            assert re.match(r"SELECT .+ FROM Metric( |$)", q["query"]), q["query"]
            assert q["query"].count("(") == q["query"].count(")")


def test_newrelic_conditions_are_static_nrql_condition_inputs() -> None:
    conditions = load(DASH / "newrelic" / "alert-conditions.json")
    assert len(conditions) == 4
    for c in conditions:
        assert re.match(r"SELECT \w+\(", c["nrql"]["query"])
        window = c["signal"]["aggregationWindow"]
        assert c["signal"]["aggregationMethod"] in {"EVENT_FLOW", "EVENT_TIMER", "CADENCE"}
        assert c["signal"]["fillOption"] in {"NONE", "LAST_VALUE", "STATIC"}
        for term in c["terms"]:
            assert term["priority"] in {"CRITICAL", "WARNING"}
            assert term["operator"] in {
                "ABOVE",
                "ABOVE_OR_EQUALS",
                "BELOW",
                "BELOW_OR_EQUALS",
                "EQUALS",
                "NOT_EQUALS",
            }
            assert term["thresholdOccurrences"] in {"ALL", "AT_LEAST_ONCE"}
            assert term["thresholdDuration"] % window == 0
        exp = c["expiration"]
        assert exp["openViolationOnExpiration"] == (exp["expirationDuration"] is not None)
    loss = [c for c in conditions if c["expiration"]["openViolationOnExpiration"]]
    assert {c["name"] for c in loss} == {
        "genesys-pulse: no data from a target",
        "genesys-pulse: the monitor reports nothing",
    }


# ------------------------------------------------------------------ Honeycomb

_HC_OPS = {
    "COUNT", "COUNT_DISTINCT", "SUM", "AVG", "MAX", "MIN", "HEATMAP",
    "P001", "P01", "P05", "P10", "P20", "P25", "P50", "P75", "P80", "P90", "P95", "P99", "P999",
}  # fmt: skip
_HC_FILTER_OPS = {"=", "!=", ">", ">=", "<", "<=", "exists", "does-not-exist", "in", "not-in"}


def _check_query_spec(q: dict[str, Any]) -> None:
    assert set(q) <= {
        "calculations",
        "breakdowns",
        "filters",
        "time_range",
        "granularity",
        "orders",
        "limit",
    }
    for calc in q["calculations"]:
        assert calc["op"] in _HC_OPS
        assert ("column" in calc) == (calc["op"] != "COUNT")
    for f in q.get("filters", []):
        assert f["op"] in _HC_FILTER_OPS


def test_honeycomb_board_queries_triggers_and_slo() -> None:
    queries = load(DASH / "honeycomb" / "queries.json")["queries"]
    for q in queries.values():
        _check_query_spec(q["query"])
    board = load(DASH / "honeycomb" / "board.json")
    assert board["type"] == "flexible"
    placeholders = [p["query_panel"]["query_id"] for p in board["panels"]]
    assert placeholders == [f"${{{key}}}" for key in queries]
    triggers = load(DASH / "honeycomb" / "triggers.json")
    for t in triggers:
        _check_query_spec(t["query"])
        assert len(t["query"]["calculations"]) == 1  # triggers take one calculation
        assert t["query"]["calculations"][0]["op"] != "HEATMAP"
        assert t["threshold"]["op"] in {">", ">=", "<", "<="}
        assert t["alert_type"] in {"on_change", "on_true"}
        assert 60 <= t["frequency"] <= 86400 and t["frequency"] % 60 == 0
        assert t["query"]["time_range"] <= 4 * t["frequency"] or t["query"]["time_range"] <= 3600
    slo = load(DASH / "honeycomb" / "slo.json")
    assert slo["slo"]["sli"]["alias"] == slo["derived_column"]["alias"]
    assert 0 < slo["slo"]["target_per_million"] < 1_000_000
    assert 1 <= slo["slo"]["time_period_days"] <= 90
    expr = slo["derived_column"]["expression"]
    columns = _parse_derived_column(expr)
    assert columns == {"name", N.A_ERROR_TYPE}
    assert f'"{N.S_CONNECT}"' in expr
    with pytest.raises(AssertionError):
        _parse_derived_column('IF(EQUALS($name, "x"), NOT(EXISTS($error.type))')  # unclosed


# Honeycomb's derived-column grammar: expr = fun | column | literal;
# fun = NAME "(" [expr ("," expr)*] [","] ")"; column = "$" [letters digits _ . / : = + ? -]+.
_HC_TOKEN = re.compile(
    r'\s*(?:(?P<col>\$[\w./:=+?-]+)|(?P<str>"(?:[^"\\]|\\.)*")|(?P<num>-?\d+(?:\.\d+)?)'
    r"|(?P<name>[A-Za-z][A-Za-z0-9_]+)|(?P<p>[(),]))"
)
_HC_FUNCS = {"IF", "EQUALS", "NOT", "EXISTS", "AND", "OR", "LT", "LTE", "GT", "GTE", "COALESCE"}


def _parse_derived_column(expr: str) -> set[str]:
    """Parse *expr* by the grammar above; return the columns it reads."""
    tokens: list[tuple[str, str]] = []
    pos = 0
    while pos < len(expr.rstrip()):
        m = _HC_TOKEN.match(expr, pos)
        assert m is not None, f"bad token at {expr[pos:]!r}"
        kind = m.lastgroup
        assert kind is not None
        tokens.append((kind, m.group(kind)))
        pos = m.end()
    columns: set[str] = set()

    def parse(i: int) -> int:
        kind, text = tokens[i]
        if kind == "col":
            columns.add(text[1:])
            return i + 1
        if kind in ("str", "num"):
            return i + 1
        assert kind == "name" and text in _HC_FUNCS, text
        assert tokens[i + 1] == ("p", "("), text
        i += 2
        while tokens[i] != ("p", ")"):
            i = parse(i)
            if tokens[i] == ("p", ","):
                i += 1
        return i + 1

    try:
        end = parse(0)
    except IndexError:
        raise AssertionError(f"unbalanced expression {expr!r}") from None
    assert end == len(tokens), f"trailing input in {expr!r}"
    return columns


# ------------------------------------------------------------------ Prometheus


@pytest.fixture(scope="module")
def promtool() -> Path:
    if PROMTOOL.is_file() and os.access(PROMTOOL, os.X_OK):
        return PROMTOOL
    reason = (
        f"promtool not found at {PROMTOOL}: build it with "
        "`bash dashboards/prometheus/build-promtool.sh` (or `make promtool`)"
    )
    if in_ci():
        pytest.fail(f"CI=true but {reason}", pytrace=False)
    pytest.skip(reason)


def _run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args], cwd=PROM, capture_output=True, text=True, timeout=120, check=False
    )


def test_promtool_checks_the_rules(promtool: Path) -> None:
    done = _run(promtool, "check", "rules", "rules.yaml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout + done.stderr


def test_promtool_unit_tests_pass(promtool: Path) -> None:
    done = _run(promtool, "test", "rules", "rules.test.yaml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout + done.stderr


def test_promtool_fails_a_wrong_expectation(promtool: Path, tmp_path: Path) -> None:
    """The unit tests can fail: the same series with an alert expected quiet."""
    tests = load(PROM / "rules.test.yaml")
    first = tests["tests"][0]["alert_rule_test"]
    firing = next(t for t in first if t["exp_alerts"])
    firing["exp_alerts"] = []
    (tmp_path / "rules.yaml").write_text((PROM / "rules.yaml").read_text())
    (tmp_path / "bad.test.yaml").write_text(yaml.safe_dump(tests))
    done = subprocess.run(
        [str(promtool), "test", "rules", "bad.test.yaml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode != 0, done.stdout


def test_unit_tests_cover_every_alert_firing_and_quiet() -> None:
    alerts = {
        r["alert"] for g in load(PROM / "rules.yaml")["groups"] for r in g["rules"] if "alert" in r
    }
    assert len(alerts) == 5
    fired: set[str] = set()
    quiet: set[str] = set()
    for test in load(PROM / "rules.test.yaml")["tests"]:
        for case in test.get("alert_rule_test", []):
            (fired if case["exp_alerts"] else quiet).add(case["alertname"])
    assert fired == alerts and quiet == alerts


def test_docs_table_of_prometheus_names_is_the_translation() -> None:
    doc = (ROOT / "docs" / "telemetry.md").read_text()
    for spec in N.METRICS.values():
        family = prometheus_metric(spec)
        shown = family + "_bucket" if spec.instrument == "histogram" else family
        assert f"| `{spec.name}` | {spec.instrument}, `{spec.unit}` | `{shown}`" in doc, spec.name


def test_python_translation_agrees_with_the_exporters_go_library() -> None:
    """``_backends`` against ``github.com/prometheus/otlptranslator`` v1.0.0, the
    library and settings the collector's prometheus exporter (v0.159.0) uses,
    run from dashboards/prometheus/otlpnames with the whole contract."""
    import shutil

    go = shutil.which("go")
    if go is None:
        if in_ci():
            pytest.fail("CI=true but Go is not installed (needed for otlpnames)", pytrace=False)
        pytest.skip("Go not found: cannot run dashboards/prometheus/otlpnames")
    request = {
        "metrics": [
            {"name": s.name, "unit": s.unit, "type": s.instrument} for s in N.METRICS.values()
        ],
        "labels": sorted(
            {k for s in N.METRICS.values() for k in (*N.COMMON_METRIC_ATTRS, *s.attributes)}
        ),
    }
    done = subprocess.run(
        [go, "run", "."],
        cwd=PROM / "otlpnames",
        input=json.dumps(request),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["metrics"] == {s.name: prometheus_metric(s) for s in N.METRICS.values()}
    assert answer["labels"] == {k: prometheus_label(k) for k in request["labels"]}


_SERIES = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)\{(.*)\}$")
_SERIES_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def test_promtool_series_are_shaped_like_the_monitors() -> None:
    """Each input series of the rule tests carries exactly the labels the
    translated contract gives its metric (plus the exporter's job/instance/
    otel_scope_name, and le on buckets), with values the monitor can emit."""
    by_series = {series: spec for spec in N.METRICS.values() for series in prometheus_series(spec)}
    values = {
        prometheus_label(N.A_PING_TYPE): set(N.PING_TYPES),
        prometheus_label(N.A_METRIC): {
            m for ms in N.THRESHOLD_METRICS_BY_KIND.values() for m in ms
        },
    }
    seen = 0
    for test in load(PROM / "rules.test.yaml")["tests"]:
        for item in test["input_series"]:
            m = _SERIES.match(item["series"])
            assert m, item["series"]
            spec = by_series.get(m.group(1))
            if spec is None:
                continue  # e.g. another job's `up`
            seen += 1
            labels = dict(_SERIES_LABEL.findall(m.group(2)))
            ours = {k for k in labels if k.startswith(("genesys_", "server_"))}
            keys = (*N.COMMON_METRIC_ATTRS, *spec.attributes)
            assert ours == {prometheus_label(k) for k in keys}, item["series"]
            assert labels["otel_scope_name"] == N.INSTRUMENTATION_SCOPE
            assert ("le" in labels) == m.group(1).endswith("_bucket")
            for key, allowed in values.items():
                if key in labels:
                    assert labels[key] in allowed, (key, labels[key])
    assert seen >= 10


def test_grafana_queries_are_valid_promql(promtool: Path, tmp_path: Path) -> None:
    """Every Grafana panel query parses: promtool checks them as recording rules
    (with the dashboard variables replaced by match-all values)."""
    doc = load(DASH / "grafana" / "genesys-pulse.json")
    rules = []
    for panel in doc["panels"]:
        for target in panel["targets"]:
            expr = target["expr"].replace("$environment", ".*").replace("$target", ".*")
            assert "$" not in expr, expr
            rules.append({"record": f"grafana:panel{panel['id']}:{target['refId']}", "expr": expr})
    assert len(rules) >= len(doc["panels"])
    path = tmp_path / "grafana-queries.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "grafana", "rules": rules}]}))
    done = _run(promtool, "check", "rules", path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(rules)} rules found" in done.stdout + done.stderr
    # not vacuous: a broken query is rejected
    rules[0]["expr"] = rules[0]["expr"] + ")"
    path.write_text(yaml.safe_dump({"groups": [{"name": "grafana", "rules": rules}]}))
    assert _run(promtool, "check", "rules", path).returncode != 0
