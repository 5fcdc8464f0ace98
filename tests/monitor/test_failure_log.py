"""Connect failures are logged once per change of cause, not per retry."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest

from genesys_pulse.monitor._supervisor import _Base
from genesys_pulse.transport import FailureCause

DNS = FailureCause("name_resolution", "login.example", "[Errno -2] Name or service not known")
REFUSED = FailureCause("connection_refused", "login.example", "[Errno 111] Connection refused")


def test_one_warning_per_change_of_cause(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="genesys_pulse.monitor")
    sup = SimpleNamespace(_failing=None, cfg=SimpleNamespace(id="target-01"))
    for cause in (DNS, DNS, DNS, REFUSED, REFUSED, DNS):
        _Base._report_failure(sup, cause)  # type: ignore[arg-type]
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 3, lines  # DNS, then refused, then DNS again
    assert "name_resolution" in lines[0] and "Name or service not known" in lines[0]
    assert "connection_refused" in lines[1] and "login.example" in lines[1]
    assert "name_resolution" in lines[2]
    assert all("target-01" in line for line in lines)
