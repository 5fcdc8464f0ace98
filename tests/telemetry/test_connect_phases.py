"""A real connection attempt shows its four phases, in order, on the connect span."""

from __future__ import annotations

import itertools

import trio

from genesys_pulse.core.config import parse_config, with_credentials
from genesys_pulse.emulator import open_emulator
from genesys_pulse.monitor import run_monitor
from genesys_pulse.telemetry import otel_sinks_for

from ._helpers import pipeline


async def test_connect_span_has_login_channel_subscribe_handshake_phases(
    autojump_clock: trio.testing.MockClock,
) -> None:
    p = pipeline()
    async with open_emulator() as emu:
        base = parse_config(
            {
                "targets": [
                    {
                        "id": "phases-target",
                        "environment": "mypurecloud.com",
                        "topics": ["v2.analytics.queues.q-1.observations"],
                    }
                ]
            },
            {},
        )
        config = with_credentials(
            base, emu.client_id, emu.client_secret, emu.login_url, emu.api_url
        )
        sinks = otel_sinks_for(
            config,
            meter_provider=p.meter_provider,
            tracer_provider=p.tracer_provider,
            logger_provider=p.logger_provider,
        )
        with trio.move_on_after(5):
            await run_monitor(config, sinks=sinks, connector=emu.connector)
        for s in sinks:
            s.close()
    spans = p.spans.get_finished_spans()
    connect = [s for s in spans if s.name == "genesys_pulse.connect"]
    assert connect, [s.name for s in spans]
    first = connect[0]
    phases = sorted(
        (s for s in spans if s.parent is not None and s.parent.span_id == first.context.span_id),
        key=lambda s: s.start_time,
    )
    names = [s.name.rsplit(".", 1)[-1] for s in phases]
    assert names == ["login", "channel", "subscribe", "handshake"]
    # Phases follow one another and lie within the attempt.
    for a, b in itertools.pairwise(phases):
        assert a.end_time <= b.start_time + 1_000  # 1 µs of float rounding
    assert first.start_time <= phases[0].start_time
    assert phases[-1].end_time <= first.end_time
    assert first.status.is_ok
    # The audit trail has the connection, as a log record with its event name.
    names = {r.log_record.event_name for r in p.logs.get_finished_logs()}
    assert "genesys_pulse.connection.established" in names
