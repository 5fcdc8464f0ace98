"""Everything the monitor emits, searched for the client secret and every access token.

A ``genesys-pulse run`` subprocess (``--log-level DEBUG``, plus an unfiltered
root log handler as a host application would have; OTLP
http/protobuf export of traces, metrics and logs to an in-test OTLP receiver
*and* the console exporters on stderr, the audit journal on) monitors two
targets on an emulator subprocess that keeps breaking things: TCP resets,
1011 closes, revoked tokens (REST 401 and re-login), 429 on login, evicted
channels, 3 s token lifetimes (refreshes). One target's OAuth client is
refused (``invalid_client``) with a distinctive wrong secret.

Collected: stdout, stderr, the journal files, and every exported span, metric
and log record (decoded protobuf as text, and the raw serialized bytes).
Searched for: both client secrets, their HTTP Basic credentials, and every
token the emulator issued (recorded at issue time).

Also: configuration refuses ``ws://`` and ``http://`` to non-loopback hosts,
and TLS verification cannot be turned off (no option, no variable, a
self-signed server is refused).
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import json
import os
import ssl
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import trio
from opentelemetry.test._otlp_test_server import OtlpProtoTestServer

from _emulator import emulator_process
from _tls import self_signed, server_context
from genesys_pulse.core.config import ConfigError, MonitorConfig, TargetConfig, parse_config
from genesys_pulse.transport import ConnectError, NetConnector

HERE = Path(__file__).resolve().parent
SECRET = "gp-SECRET-4f1c9e7a-do-not-leak-7d2b"
BAD_SECRET = "gp-WRONG-SECRET-91aa0c-never-print"
CLIENT_ID = "0d7c5a2e-5b8e-4c1e-9a55-security-scan"
BAD_ID = "refused-client-security-scan"
RUN_SECONDS = 10


def _drain(server: OtlpProtoTestServer, getter: str) -> list[Any]:
    out: list[Any] = []
    queue = getattr(server, getter)
    while not queue.empty():
        out.append(queue.get_nowait())
    return out


def test_no_secret_or_token_in_anything_emitted(tmp_path: Path) -> None:
    with emulator_process(
        "--client-id",
        CLIENT_ID,
        "--client-secret",
        SECRET,
        "--token-ttl",
        "3",
        "--heartbeat",
        "1",
        "--seed",
        "3",
        "--chaos-every",
        "1",
    ) as emu:
        base = emu.base_url
        journal = tmp_path / "audit" / "journal.jsonl"
        config = tmp_path / "pulse.toml"
        config.write_text(
            f"""
journal_path = "{journal}"
window = 2.0

[[targets]]
id = "secure-target-a"
kind = "genesys"
login_url = "{base}"
api_url = "{base}"
client_id = "{CLIENT_ID}"
interval = 0.2
timeout = 0.2

[[targets]]
id = "refused-target-b"
kind = "genesys"
login_url = "{base}"
api_url = "{base}"
client_id = "{BAD_ID}"
client_secret_env = "GP_SECURITY_BAD_SECRET"
interval = 0.2
timeout = 0.2
"""
        )
        with OtlpProtoTestServer() as otlp:
            env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "GENESYS_"))}
            env.update(
                {
                    "GENESYS_CLOUD_CLIENT_SECRET": SECRET,
                    "GP_SECURITY_BAD_SECRET": BAD_SECRET,
                    "OTEL_TRACES_EXPORTER": "otlp,console",
                    "OTEL_METRICS_EXPORTER": "otlp,console",
                    "OTEL_LOGS_EXPORTER": "otlp,console",
                    "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
                    "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{otlp.port}",
                    "OTEL_METRIC_EXPORT_INTERVAL": "500",
                    "OTEL_BSP_SCHEDULE_DELAY": "200",
                    "OTEL_BLRP_SCHEDULE_DELAY": "200",
                    "PYTHONUNBUFFERED": "1",
                }
            )
            # The CLI's own log handler masks secrets; a host's handler would not.
            # An extra *unfiltered* root handler (lines prefixed RAW) shows what the
            # libraries really log, before any redaction.
            code = (
                "import logging, sys\n"
                "h = logging.StreamHandler(sys.stderr)\n"
                "h.setFormatter(logging.Formatter('RAW %(levelname)s %(name)s: %(message)s'))\n"
                "logging.getLogger().addHandler(h)\n"
                "from genesys_pulse.cli import main\n"
                "sys.exit(main(sys.argv[1:]))\n"
            )
            run = subprocess.run(
                [
                    sys.executable,
                    "-c",
                    code,
                    "run",
                    "--log-level",
                    "DEBUG",
                    "--config",
                    str(config),
                    "--duration",
                    f"{RUN_SECONDS}s",
                    "--output",
                    "jsonl",
                ],
                env=env,
                capture_output=True,
                timeout=RUN_SECONDS + 60,
            )
            time.sleep(0.5)
            spans = _drain(otlp, "_spans_queue")
            metrics = _drain(otlp, "_metrics_queue")
            logs = _drain(otlp, "_logs_queue")
    tokens = emu.tokens  # every token it issued, collected as it exited

    stdout = run.stdout.decode("utf-8", "replace")
    stderr = run.stderr.decode("utf-8", "replace")
    journal_text = "".join(
        p.read_text("utf-8", "replace") for p in sorted((tmp_path / "audit").glob("journal.jsonl*"))
    )
    exported: list[tuple[str, bytes]] = []
    for rec in [*spans, *metrics, *logs]:
        for part in dataclasses.fields(rec):
            msg = getattr(rec, part.name)
            exported.append((str(msg), msg.SerializeToString()))

    # the run really exercised what it should
    assert run.returncode == 3, (run.returncode, stderr[-2000:])  # one target refused
    assert '"type":"sample"' in stdout.replace(" ", "") and "summary" in stdout
    events = [json.loads(line) for line in stdout.splitlines() if '"event"' in line]
    names = {e.get("name") for e in events}
    assert {"connection.lost", "reconnect", "token.failed"} <= names, names
    assert "invalid_client" in journal_text
    assert "connection.lost" in journal_text and "token.refresh" in journal_text
    assert len(tokens) >= 3, f"only {len(tokens)} tokens issued"
    assert spans and metrics and logs, (len(spans), len(metrics), len(logs))
    assert "genesys-pulse DEBUG" in stderr  # the CLI's (masking) handler at DEBUG
    assert "RAW DEBUG" in stderr  # and the unfiltered one

    needles: dict[str, str] = {"client secret": SECRET, "refused client secret": BAD_SECRET}
    for who, secret in ((CLIENT_ID, SECRET), (BAD_ID, BAD_SECRET)):
        basic = base64.b64encode(f"{who}:{secret}".encode()).decode()
        needles[f"basic credential of {who}"] = basic
    for i, tok in enumerate(tokens):
        needles[f"token #{i}"] = tok
    haystacks: dict[str, str | bytes] = {
        "stdout": stdout,
        "stderr": stderr,
        "journal": journal_text,
    }
    for i, (text, raw) in enumerate(exported):
        haystacks[f"otlp #{i} (text)"] = text
        haystacks[f"otlp #{i} (bytes)"] = raw
    found = []
    for hname, hay in haystacks.items():
        for nname, needle in needles.items():
            n: str | bytes = needle.encode() if isinstance(hay, bytes) else needle
            if n in hay:  # type: ignore[operator]
                found.append(f"{nname} in {hname}")
    print(
        f"\nsecret scan: {len(needles)} needles ({len(tokens)} tokens) in stdout "
        f"{len(stdout)} B, stderr {len(stderr)} B, journal {len(journal_text)} B, "
        f"{len(spans)} spans, {len(metrics)} metrics, {len(logs)} log records: "
        f"{len(found)} found",
        file=sys.stderr,
    )
    assert not found, found[:10]


# -- plain-text transports and TLS verification ------------------------------------------


def _genesys(**kw: Any) -> dict[str, Any]:
    return {"targets": [{"id": "secure-target-a", "kind": "genesys", "client_id": "x", **kw}]}


@pytest.mark.parametrize(
    "url",
    ["http://login.mypurecloud.com", "http://10.0.0.5:8080", "http://example.invalid"],
)
def test_http_login_or_api_to_a_non_loopback_host_is_refused(url: str) -> None:
    for key in ("login_url", "api_url"):
        other = "api_url" if key == "login_url" else "login_url"
        with pytest.raises(ConfigError) as info:
            parse_config(_genesys(**{key: url, other: "https://api.mypurecloud.com"}), {})
        assert "http://" in str(info.value) or "loopback" in str(info.value), str(info.value)


@pytest.mark.parametrize("url", ["ws://streaming.mypurecloud.com/x", "ws://192.0.2.7:9000/"])
def test_ws_to_a_non_loopback_host_is_refused(url: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config({"targets": [{"id": "plain-ws-target", "kind": "websocket", "url": url}]}, {})
    assert "ws://" in str(info.value) or "loopback" in str(info.value), str(info.value)


def test_loopback_plain_text_is_allowed() -> None:
    parse_config(_genesys(login_url="http://127.0.0.1:8080", api_url="http://[::1]:8080"), {})
    parse_config(
        {"targets": [{"id": "plain-ws-target", "kind": "websocket", "url": "ws://localhost:1/"}]},
        {},
    )


@pytest.mark.parametrize(
    "key", ["verify", "tls_verify", "verify_tls", "insecure", "ssl_verify", "skip_tls_verify"]
)
def test_no_option_turns_tls_verification_off(key: str) -> None:
    with pytest.raises(ConfigError):
        parse_config(_genesys(environment="mypurecloud.com", **{key: False}), {})
    with pytest.raises(ConfigError):
        parse_config({key: False, **_genesys(environment="mypurecloud.com")}, {})


def test_no_config_field_or_connector_argument_about_verification() -> None:
    for cls in (MonitorConfig, TargetConfig):
        for f in dataclasses.fields(cls):
            assert not any(w in f.name.lower() for w in ("verify", "insecure", "tls", "ssl"))
    import inspect

    params = set(inspect.signature(NetConnector.__init__).parameters) - {"self"}
    assert params == {"ca_bundle", "proxy"}, params  # a proxy is a route, not a TLS option
    ctx = NetConnector()._ssl_context
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname


async def test_a_self_signed_server_is_refused_and_trusted_only_with_its_ca(
    tmp_path: Path,
) -> None:
    cert, key = self_signed(tmp_path, subject="/CN=localhost", san="DNS:localhost,IP:127.0.0.1")
    server_ctx = server_context(cert, key)

    async def handler(stream: trio.SocketStream) -> None:
        tls = trio.SSLStream(stream, server_ctx, server_side=True)
        try:
            await tls.do_handshake()
            await tls.send_all(b"hello")
            await tls.aclose()
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass

    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(
            functools.partial(trio.serve_tcp, host="127.0.0.1"), handler, 0
        )
        port = listeners[0].socket.getsockname()[1]
        with pytest.raises(ConnectError) as info:
            await NetConnector().open_stream("127.0.0.1", port, tls=True, timeout=5)
        assert info.value.kind == "tls", info.value
        stream = await NetConnector(ca_bundle=str(cert)).open_stream(
            "127.0.0.1", port, tls=True, timeout=5
        )
        assert await stream.receive_some(5) == b"hello"
        await stream.aclose()
        nursery.cancel_scope.cancel()
