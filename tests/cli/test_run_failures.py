"""``genesys-pulse run`` against a host whose name cannot be resolved.

The command runs in a network namespace of its own (``unshare -rn``: only a
loopback interface, no route to any DNS server), so the resolver fails for
real and nothing leaves the machine. At the default log level the cause is
named once on stderr, while every retry carries it in its event attributes.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

LOGIN_HOST = "login.pulse-test.invalid"


def test_dns_failure_is_named_once_at_default_level() -> None:
    if shutil.which("unshare") is None and os.environ.get("CI") != "true":
        pytest.skip("unshare (util-linux) is not installed")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GENESYS_", "OTEL_"))}
    env.update(
        {
            "GENESYS_PULSE_KIND": "genesys",
            "GENESYS_PULSE_LOGIN_URL": f"https://{LOGIN_HOST}",
            "GENESYS_PULSE_API_URL": "https://api.pulse-test.invalid",
            "GENESYS_CLOUD_CLIENT_ID": "client-id-for-dns-test",
            "GENESYS_CLOUD_CLIENT_SECRET": "client-secret-for-dns-test",
        }
    )
    cmd = [
        sys.executable,
        "-m",
        "genesys_pulse.cli",
        "run",
        "--duration",
        "6s",
        "--output",
        "jsonl",
    ]
    res = subprocess.run(
        ["unshare", "-rn", *cmd], capture_output=True, text=True, timeout=60, env=env
    )
    assert res.returncode == 0, res.stderr
    events = [json.loads(line) for line in res.stdout.splitlines() if line.strip()]
    retries = [
        e["attributes"]
        for e in events
        if e.get("type") == "event" and e["name"] in ("http.retry", "reconnect")
    ]
    assert len(retries) >= 2, events  # it kept trying...
    for attrs in retries:
        assert attrs["error.type"] == "name_resolution", attrs
        assert attrs["server.address"] == LOGIN_HOST
        assert attrs["error.message"]  # the resolver's own words
    lines = [line for line in res.stderr.splitlines() if "cannot connect" in line]
    assert len(lines) == 1, res.stderr  # ...but said so once
    assert LOGIN_HOST in lines[0] and "name_resolution" in lines[0]
    assert retries[0]["error.message"] in lines[0]
