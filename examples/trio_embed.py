"""Embed the genesys-pulse monitor in your own trio program.

The monitor runs in your nursery next to your own tasks; your callbacks get
every sample and event (they run off the probing path, so a slow callback
never delays a probe), and the same samples and events go to OpenTelemetry
through :func:`genesys_pulse.telemetry.otel_sinks_for`.

This example starts the Genesys Cloud emulator in-process, so it needs no
credentials; it builds SDK providers, so it needs ``pip install 'genesys-pulse[cli]'``::

    python examples/trio_embed.py --duration 10
    OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318 OTEL_TRACES_EXPORTER=otlp \\
        OTEL_METRICS_EXPORTER=otlp OTEL_LOGS_EXPORTER=otlp python examples/trio_embed.py

Without ``OTEL_*`` variables the log records (audit events) are printed to
stderr and traces/metrics are not exported.
"""

from __future__ import annotations

import argparse
import os
from collections import Counter
from functools import partial

import trio

from genesys_pulse import Event, ProbeKind, Sample
from genesys_pulse.core.config import parse_config, with_credentials
from genesys_pulse.emulator import open_emulator
from genesys_pulse.monitor import run_monitor
from genesys_pulse.telemetry import otel_sinks_for
from genesys_pulse.telemetry.sdk_setup import configure_from_env


class Tally:
    """Our application's own use of the data: count and print a little."""

    def __init__(self) -> None:
        self.samples: Counter[str] = Counter()
        self.worst_rtt = 0.0

    def on_sample(self, sample: Sample) -> None:
        if sample.late:
            # the late answer of a slot already seen as a timeout: its true RTT, not a new slot
            self.worst_rtt = max(self.worst_rtt, sample.late_rtt_s or 0.0)
            return
        self.samples[sample.probe.value] += 1
        if sample.probe is not ProbeKind.HEARTBEAT and sample.rtt_s is not None:
            self.worst_rtt = max(self.worst_rtt, sample.rtt_s)

    async def on_event(self, event: Event) -> None:  # async callbacks work too
        if event.name != "window":
            print(f"event: {event.name} {dict(event.attributes)}"[:160])


async def main(duration: float) -> None:
    env = {
        "OTEL_TRACES_EXPORTER": "none",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "console",
        "OTEL_SERVICE_NAME": "trio-embed-example",
        **os.environ,
    }
    providers = configure_from_env(env)
    tally = Tally()
    async with open_emulator() as emu:
        # A real deployment sets environment = "mypurecloud.ie" (or loads a file
        # with genesys_pulse.config_sources.load_config) and the credentials come
        # from the environment.
        target = {"kind": "genesys", "id": "embedded-demo", "environment": "mypurecloud.ie"}
        config = parse_config({"window": 5, "targets": [{**target, "interval": 0.5}]}, env={})
        config = with_credentials(
            config, emu.client_id, emu.client_secret, emu.login_url, emu.api_url
        )
        sinks = otel_sinks_for(
            config,
            meter_provider=providers.meter_provider,
            tracer_provider=providers.tracer_provider,
            logger_provider=providers.logger_provider,
        )
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(
                    partial(
                        run_monitor,
                        config,
                        sinks=sinks,
                        on_sample=tally.on_sample,
                        on_event=tally.on_event,
                    )
                )
                # ... your own tasks run here ...
                await trio.sleep(duration)
                nursery.cancel_scope.cancel()
        finally:
            for sink in sinks:
                sink.close()
    providers.shutdown(timeout=5.0)
    print(f"samples: {dict(tally.samples)}; worst RTT {tally.worst_rtt * 1000:.2f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Embed genesys-pulse in a trio program.")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds to run")
    trio.run(main, parser.parse_args().duration)
