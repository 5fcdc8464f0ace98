"""The naming rules of the telemetry contract (``_names.py``) hold for every name in it."""

from __future__ import annotations

import re

import pytest
from opentelemetry.semconv._incubating.attributes import error_attributes as error_incubating
from opentelemetry.semconv.attributes import error_attributes, server_attributes
from opentelemetry.semconv.schemas import Schemas

from genesys_pulse.core.config import parse_config
from genesys_pulse.telemetry import _names as N
from genesys_pulse.telemetry import target_attrs_for

SEMCONV_KEYS = {
    server_attributes.SERVER_ADDRESS,
    server_attributes.SERVER_PORT,
    error_attributes.ERROR_TYPE,
    error_incubating.ERROR_MESSAGE,
}
_GENESYS = re.compile(r"^genesys(\.[a-z][a-z0-9_]*)+$")


def attribute_keys() -> set[str]:
    return {getattr(N, k) for k in dir(N) if k.startswith("A_")}


def test_attribute_keys_are_semconv_or_namespaced() -> None:
    keys = attribute_keys()
    assert {N.A_SERVER_ADDRESS, N.A_SERVER_PORT, N.A_ERROR_TYPE, N.A_ERROR_MESSAGE} == SEMCONV_KEYS
    for key in keys - SEMCONV_KEYS:
        assert _GENESYS.match(key), key
    # the generic keys a reviewer found are gone
    assert not keys & {"reason", "metric", "monitor.target"}
    for spec in N.METRICS.values():
        for key in (*N.COMMON_METRIC_ATTRS, *spec.attributes):
            assert key in keys, (spec.name, key)


def test_span_event_names_are_namespaced() -> None:
    for monitor_event, name in N.SPAN_EVENT_NAMES.items():
        assert _GENESYS.match(name), (monitor_event, name)
    assert N.SPAN_EVENT_NAMES["timeout"] == N.E_PING_TIMEOUT == "genesys.ping.timeout"
    assert len(set(N.SPAN_EVENT_NAMES.values())) == len(N.SPAN_EVENT_NAMES)


def test_schema_url_is_a_semconv_schema_the_pinned_package_knows() -> None:
    """The schema URL is the newest the semantic-conventions package defines.

    The runtime does not depend on that package (the keys are plain strings), so
    with an older one installed -- the compatibility matrix's ``oldest`` session --
    the contract's schema is newer than any it knows: checked there only for shape.
    """
    known = [s.value for s in Schemas]

    def version(url: str) -> tuple[int, ...]:
        return tuple(int(x) for x in url.rsplit("/", 1)[1].split("."))

    assert re.fullmatch(r"https://opentelemetry\.io/schemas/\d+\.\d+\.\d+", N.SCHEMA_URL)
    if version(N.SCHEMA_URL) > max(version(k) for k in known):
        pytest.skip("the installed semantic-conventions package predates the contract's schema")
    assert N.SCHEMA_URL in known
    # the newest the package defines, i.e. the version of its attribute definitions
    assert N.SCHEMA_URL == known[-1]


def test_metric_specs_cover_every_metric() -> None:
    assert tuple(N.METRICS) == N.ALL_METRICS
    for spec in N.METRICS.values():
        assert spec.name.startswith("genesys."), spec.name
        if spec.instrument == "histogram":
            assert spec.unit == "s", spec.name


def test_target_attrs_carry_server_port_for_the_connect_span() -> None:
    config = parse_config(
        {
            "targets": [
                {"id": "env-target", "environment": "mypurecloud.ie"},
                {"id": "url-target", "api_url": "http://127.0.0.1:8123"},
                {"id": "ws-target-1", "url": "wss://echo.example.test/ws"},
            ]
        },
        env={"GENESYS_CLOUD_CLIENT_ID": "id", "GENESYS_CLOUD_CLIENT_SECRET": "s" * 12},
    )
    attrs = target_attrs_for(config)
    assert attrs["env-target"][N.A_SERVER_PORT] == "443"
    assert attrs["env-target"][N.A_SERVER_ADDRESS] == "streaming.mypurecloud.ie"
    assert attrs["url-target"][N.A_SERVER_PORT] == "8123"
    assert attrs["ws-target-1"][N.A_SERVER_PORT] == "443"


def test_docs_name_every_name_of_the_contract() -> None:
    """docs/telemetry.md and _names.py are updated together: every metric, span,
    span event, event and attribute name of the module appears in the document."""
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "telemetry.md").read_text()
    names = {
        getattr(N, k)
        for k in dir(N)
        if k.split("_", 1)[0] in ("M", "S", "E", "A") and isinstance(getattr(N, k), str)
    }
    names |= set(N.SPAN_EVENT_NAMES.values()) | set(N.CONNECT_PHASES)
    assert N.E_CONNECT_PHASE in names
    missing = sorted(n for n in names if f"`{n}`" not in doc)
    assert not missing, missing
