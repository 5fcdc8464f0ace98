"""The health endpoint of ``genesys-pulse run``: ``GET /livez`` and ``GET /readyz``.

A tiny HTTP/1.1 server on trio + h11 (h11 is already a dependency; the
emulator speaks HTTP the same way). Why not an HTTP framework: two fixed
JSON answers do not justify an ASGI stack, and h11 keeps every limit in our
hands. It serves exactly two paths and nothing else:

* ``/livez``  -- 200 when the event loop answers and its lag stayed below the
  bound; 503 otherwise (:func:`genesys_pulse.core._health.liveness`);
* ``/readyz`` -- 200 when the configuration is loaded and every target is
  connected or in a reported back-off after having been connected; 503
  otherwise, with a JSON body per target and the reason
  (:func:`genesys_pulse.core._health.readiness`).

``GET`` and ``HEAD`` only (405 with ``Allow`` otherwise), any other path
404. Each connection carries one request (``Connection: close``), must send
its request head within :data:`MAX_REQUEST_BYTES` and finish within
:data:`REQUEST_DEADLINE` seconds, and at most :data:`MAX_CONNECTIONS` are
served at once (more are closed at once): a probe endpoint must never become
a way to hold the monitor's memory or tasks. The answers are computed on the
monitor's own event loop, so a blocked loop cannot answer at all -- which is
what an orchestrator's probe timeout detects.

It binds loopback unless told otherwise (``--health-listen``,
``health_listen``); a Kubernetes pod must listen on its pod address for the
kubelet's probes (the Helm chart sets ``0.0.0.0:9464``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

import h11
import trio

from genesys_pulse.core import HealthSnapshot, liveness, readiness

__all__ = [
    "MAX_CONNECTIONS",
    "MAX_REQUEST_BYTES",
    "REQUEST_DEADLINE",
    "open_health_listeners",
    "serve_health",
]

log = logging.getLogger("genesys_pulse.health")

MAX_REQUEST_BYTES = 8192
"""Largest request head (request line + headers) accepted."""

REQUEST_DEADLINE = 5.0
"""Seconds a connection may take from accept to the last byte of the answer."""

MAX_CONNECTIONS = 16
"""Connections served at once; more are closed without an answer."""

_PATHS = ("/livez", "/readyz")

SnapshotSource = Callable[[], HealthSnapshot | None]
"""Returns the monitor's current snapshot, or ``None`` before the monitor exists."""


async def open_health_listeners(host: str, port: int) -> list[trio.SocketListener]:
    """Bind the health endpoint (raises :class:`OSError`, e.g. address in use)."""
    return await trio.open_tcp_listeners(port, host=host)


async def serve_health(
    listeners: list[trio.SocketListener],
    snapshot: SnapshotSource,
    *,
    max_lag: float | None = None,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``/livez`` and ``/readyz`` on ``listeners`` until cancelled."""
    limiter = trio.Semaphore(MAX_CONNECTIONS)

    async def handler(stream: trio.SocketStream) -> None:
        try:
            limiter.acquire_nowait()
        except trio.WouldBlock:
            await stream.aclose()
            return
        try:
            with trio.move_on_after(REQUEST_DEADLINE):
                await _serve_one(stream, snapshot, max_lag)
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            pass  # the client went away
        except Exception as exc:  # never let one request take the monitor down
            log.warning("health endpoint: request failed: %s: %s", type(exc).__name__, exc)
        finally:
            limiter.release()
            await trio.aclose_forcefully(stream)

    async with trio.open_nursery() as nursery:
        await nursery.start(trio.serve_listeners, handler, listeners)
        task_status.started()


def _answer(snapshot: SnapshotSource, path: str, max_lag: float | None) -> tuple[int, Any]:
    snap = snapshot()
    if snap is None:
        body: dict[str, Any] = {
            "status": "starting",
            "reason": "the monitor is starting",
            "targets": {},
        }
        if path == "/livez":
            return 200, {"status": "alive", "detail": "the monitor is starting"}
        return 503, body
    if path == "/livez":
        ok, body = liveness(snap) if max_lag is None else liveness(snap, max_lag)
    else:
        ok, body = readiness(snap)
    return (200 if ok else 503), body


async def _serve_one(
    stream: trio.SocketStream, snapshot: SnapshotSource, max_lag: float | None
) -> None:
    conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_REQUEST_BYTES)
    while True:
        try:
            event = conn.next_event()
        except h11.RemoteProtocolError as exc:
            await _send_error(stream, conn, exc.error_status_hint or 400)
            return
        if event is h11.NEED_DATA:
            data = await stream.receive_some(4096)
            conn.receive_data(data)
            continue
        if isinstance(event, h11.Request):
            break
        return  # ConnectionClosed or a half-request: nothing to answer
    target = event.target.decode("ascii", "replace")
    path = target.split("?", 1)[0]
    method = event.method.decode("ascii", "replace")
    if path not in _PATHS:
        status, body = 404, {"status": "not_found", "paths": list(_PATHS)}
        headers: list[tuple[str, str]] = []
    elif method not in ("GET", "HEAD"):
        status, body = 405, {"status": "method_not_allowed", "allow": ["GET", "HEAD"]}
        headers = [("Allow", "GET, HEAD")]
    else:
        status, body = _answer(snapshot, path, max_lag)
        headers = [("Cache-Control", "no-store")]
    payload = json.dumps(body, separators=(",", ":"), sort_keys=True).encode() + b"\n"
    headers += [
        ("Content-Type", "application/json"),
        ("Content-Length", str(len(payload))),
        ("Connection", "close"),
    ]
    out = conn.send(
        h11.Response(status_code=status, headers=headers, reason=HTTPStatus(status).phrase)
    )
    if method != "HEAD":
        out = (out or b"") + (conn.send(h11.Data(data=payload)) or b"")
    out = (out or b"") + (conn.send(h11.EndOfMessage()) or b"")
    await stream.send_all(out)


async def _send_error(stream: trio.SocketStream, conn: h11.Connection, status: int) -> None:
    payload = json.dumps({"status": "bad_request"}).encode() + b"\n"
    try:
        head = conn.send(
            h11.Response(
                status_code=status,
                reason=HTTPStatus(status).phrase,
                headers=[
                    ("Content-Type", "application/json"),
                    ("Content-Length", str(len(payload))),
                    ("Connection", "close"),
                ],
            )
        )
    except h11.LocalProtocolError:
        return
    await stream.send_all((head or b"") + payload)
