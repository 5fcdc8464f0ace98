"""End to end over real loopback: a plain ``websockets`` client against ``open_emulator``.

The client side uses only httpx and the ``websockets`` library (sync API, run in
a worker thread), never project code. Real time is needed here, so periods are
short and every wait is bounded.
"""

from __future__ import annotations

import itertools
import json
import statistics
import sys
import time
from typing import Any

import httpx
import pytest
import trio
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from genesys_pulse.emulator import Emulator, EmulatorSettings, open_emulator
from genesys_pulse.emulator._faults import Delay

PING = json.dumps({"message": "ping"})


async def create_channel(emulator: Emulator) -> tuple[str, str]:
    """Log in and create a channel over REST; return (id, connectUri)."""
    async with httpx.AsyncClient(base_url=emulator.base_url, timeout=5.0) as http:
        response = await http.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(emulator.client_id, emulator.client_secret),
        )
        assert response.status_code == 200, response.text
        token = response.json()["access_token"]
        response = await http.post(
            "/api/v2/notifications/channels", headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 200, response.text
        body = response.json()
        return body["id"], body["connectUri"]


def open_ws(uri: str) -> ClientConnection:
    return connect(uri, open_timeout=5, close_timeout=2, ping_interval=None, max_size=2**21)


def recv_json(ws: ClientConnection, timeout: float = 5.0) -> Any:
    return json.loads(ws.recv(timeout=timeout))


def recv_until(ws: ClientConnection, predicate: Any, timeout: float = 5.0) -> tuple[Any, float]:
    """Receive until ``predicate(message)``; return it with its perf_counter time."""
    deadline = time.monotonic() + timeout
    while True:
        msg = recv_json(ws, max(0.01, deadline - time.monotonic()))
        at = time.perf_counter()
        if predicate(msg):
            return msg, at


def is_heartbeat(msg: Any) -> bool:
    return (
        isinstance(msg, dict) and msg.get("eventBody", {}).get("message") == "WebSocket Heartbeat"
    )


def is_pong(msg: Any) -> bool:
    return isinstance(msg, dict) and msg.get("eventBody", {}).get("message") == "pong"


async def test_plain_client_heartbeats_pongs_and_socket_closing() -> None:
    settings = EmulatorSettings(heartbeat_period=0.2, socket_closing_lead=0.4, seed=7)
    async with open_emulator(settings=settings) as emulator:
        channel_id, uri = await create_channel(emulator)

        def client() -> dict[str, Any]:
            out: dict[str, Any] = {}
            with open_ws(uri) as ws:
                beats = []
                while len(beats) < 4:
                    _, at = recv_until(ws, is_heartbeat, timeout=2.0)
                    beats.append(at)
                out["beat_gaps"] = [b - a for a, b in itertools.pairwise(beats)]
                ws.send(PING)
                out["pong"], _ = recv_until(ws, is_pong, timeout=2.0)
                out["control_pong"] = ws.ping(b"control-1").wait(2.0)
                out["ready"] = time.perf_counter()
                warning, warned_at = recv_until(
                    ws, lambda m: m.get("topicName") == "v2.system.socket_closing", timeout=5.0
                )
                out["warning"] = warning
                try:
                    while True:
                        ws.recv(timeout=5.0)
                except ConnectionClosed as exc:
                    out["closed_after_warning"] = time.perf_counter() - warned_at
                    out["close"] = (exc.rcvd.code, exc.rcvd.reason) if exc.rcvd else None
            return out

        async def schedule_when_ready() -> None:
            # the client needs ~0.9 s for its heartbeats and pings; close at 2.5 s
            while not emulator.faults.sessions(channel_id):  # noqa: ASYNC110
                await trio.sleep(0.01)
            emulator.faults.schedule_close(2.5, code=1001, reason="maintenance")

        with trio.fail_after(20):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(schedule_when_ready)
                out = await trio.to_thread.run_sync(client)
    assert len(out["beat_gaps"]) == 3
    # absolute schedule: the mean gap is the period; single gaps carry host jitter
    assert statistics.mean(out["beat_gaps"]) == pytest.approx(0.2, abs=0.03)
    assert all(0.1 < gap < 0.3 for gap in out["beat_gaps"])
    assert out["pong"] == {"topicName": "channel.metadata", "eventBody": {"message": "pong"}}
    assert out["control_pong"] is True
    assert out["warning"]["eventBody"] == {"message": "Socket closing"}
    assert out["warning"]["metadata"]["CorrelationId"]
    assert out["close"] == (1001, "maintenance")
    assert out["closed_after_warning"] == pytest.approx(0.4, abs=0.15)


async def test_subscribe_over_socket_and_receive_queue_observations() -> None:
    settings = EmulatorSettings(heartbeat_period=30.0, event_rate=10.0, seed=7)
    topic = "v2.analytics.queues.6a3f0e7c-1111-2222-3333-444455556666.observations"
    async with open_emulator(settings=settings) as emulator:
        _, uri = await create_channel(emulator)

        def client() -> list[Any]:
            with open_ws(uri) as ws:
                ws.send(
                    json.dumps({"message": "subscribe", "topics": [topic], "correlationId": "k"})
                )
                ack, _ = recv_until(ws, lambda m: "result" in m)
                events = [ack]
                for _ in range(3):
                    event, _ = recv_until(ws, lambda m: m.get("topicName") == topic)
                    events.append(event)
                return events

        with trio.fail_after(20):
            ack, *events = await trio.to_thread.run_sync(client)
    assert ack == {"result": "200", "status": "subscribed", "correlationId": "k"}
    for event in events:
        assert event["version"] == "2"
        assert event["eventBody"]["group"]["queueId"] == "6a3f0e7c-1111-2222-3333-444455556666"
        assert event["metadata"]["CorrelationId"]


# The accuracy client runs in its own process (so the emulator's GIL never touches
# its timestamps) on the single-threaded asyncio API of ``websockets``. It
# alternates between two sockets: one whose pongs are delayed, and a baseline
# one without delay that measures the loopback RTT under the same load.
_ACCURACY_CLIENT = r"""
import asyncio, json, sys, time
from websockets.asyncio.client import connect

async def rtt(ws):
    t0 = time.perf_counter()
    await ws.send('{"message":"ping"}')
    while True:
        msg = json.loads(await asyncio.wait_for(ws.recv(), 5))
        if msg.get("eventBody", {}).get("message") == "pong":
            return time.perf_counter() - t0

async def main(delayed_uri, baseline_uri, count):
    delayed, baseline = [], []
    async with connect(delayed_uri, ping_interval=None) as a, connect(
        baseline_uri, ping_interval=None
    ) as b:
        for _ in range(count):
            delayed.append(await rtt(a))
            baseline.append(await rtt(b))
            await asyncio.sleep(0.002)
    print(json.dumps({"delayed": delayed, "baseline": baseline}))

asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
"""


async def _measure_once(count: int) -> dict[str, float]:
    """One accuracy run: ``count`` pings on a delayed and a baseline socket."""
    settings = EmulatorSettings(heartbeat_period=3600.0, event_rate=0.0, seed=11)
    async with open_emulator(settings=settings) as emulator:
        channel_id, uri = await create_channel(emulator)
        base_id, base_uri = await create_channel(emulator)
        emulator.faults.set_pong_delay(
            "app", Delay.normal(0.020, 0.005, floor=0.001), channel=channel_id
        )
        with trio.fail_after(60):
            result = await trio.run_process(
                [sys.executable, "-c", _ACCURACY_CLIENT, uri, base_uri, str(count)],
                capture_stdout=True,
            )
        measured = json.loads(result.stdout)
        records = emulator.faults.records_for(channel_id, "app")
        assert all(r.delay == 0.0 for r in emulator.faults.records_for(base_id, "app"))
    rtts = measured["delayed"]
    assert len(rtts) == len(records) == count
    drawn = [r.drawn for r in records if r.drawn is not None]
    assert statistics.mean(drawn) == pytest.approx(0.020, abs=0.002)
    assert statistics.stdev(drawn) == pytest.approx(0.005, abs=0.0015)
    # per ping: what the client measured minus what the emulator injected
    errors = [rtt - r.delay for rtt, r in zip(rtts, records, strict=True) if r.delay is not None]
    lateness = [r.sent_at - r.received_at - r.delay for r in records if r.sent_at and r.delay]
    return {
        "median_error": statistics.median(errors),
        "baseline": statistics.median(measured["baseline"]),
        "p90_abs_error": sorted(abs(e) for e in errors)[int(0.9 * len(errors))],
        "write_lateness": statistics.median(lateness),
        "min_error": min(errors),
    }


@pytest.mark.slow
async def test_injected_pong_delay_is_what_a_plain_client_measures() -> None:
    """Acceptance (c): 20 ms +/- 5 ms injected, median error < 1 ms net of loopback RTT.

    Real-time measurement on a shared machine: up to three runs of 150 pings;
    the test passes on the first run that meets the bound (a loaded host can
    make any single run late, never early).
    """
    runs = []
    for _ in range(3):
        run = await _measure_once(150)
        runs.append(run)
        print(
            "\npong delay accuracy, 150 pings at 20 ms +/- 5 ms (normal) injected: "
            f"median(RTT - injected) {run['median_error'] * 1e3:.3f} ms, "
            f"loopback baseline RTT {run['baseline'] * 1e3:.3f} ms, "
            f"net of baseline {(run['median_error'] - run['baseline']) * 1e3:.3f} ms, "
            f"p90 |RTT - injected| {run['p90_abs_error'] * 1e3:.3f} ms, "
            f"median emulator write lateness {run['write_lateness'] * 1e6:.0f} us"
        )
        assert run["min_error"] > 0  # a pong never comes back before its delay
        if abs(run["median_error"] - run["baseline"]) < 0.001:
            break
    assert abs(runs[-1]["median_error"] - runs[-1]["baseline"]) < 0.001, runs
