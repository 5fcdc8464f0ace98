"""Child process for the kill -9 test with the real monitor.

Runs ``run_monitor`` against an in-process emulator that closes the socket
every 0.3 s (so audit records keep coming: connection.lost, reconnect,
connection.restored, ...), with OTel exporting over OTLP/HTTP to a dead port
and the audit journal at ``argv[1]``. Prints ``wrote <seq>`` after each
journal write returned. Runs until killed (at most 60 s).
"""

from __future__ import annotations

import dataclasses
import sys
from typing import Any

import trio

from genesys_pulse.core.config import parse_config, with_credentials
from genesys_pulse.emulator import open_emulator
from genesys_pulse.monitor import run_monitor
from genesys_pulse.telemetry import AuditJournal, otel_sinks_for
from genesys_pulse.telemetry.sdk_setup import configure_from_env


class PrintingJournal(AuditJournal):
    def write(self, *args: Any, **kwargs: Any) -> int:
        seq = super().write(*args, **kwargs)
        print(f"wrote {seq}", flush=True)
        return seq


async def main(path: str, dead_port: str) -> None:
    providers = configure_from_env(
        {
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{dead_port}",
            "OTEL_BSP_SCHEDULE_DELAY": "100",
            "OTEL_METRIC_EXPORT_INTERVAL": "200",
        }
    )
    async with open_emulator() as emu:
        target = {"kind": "genesys", "id": "kill-9-target", "environment": "mypurecloud.ie"}
        config = parse_config({"window": 1, "targets": [{**target, "interval": 0.1}]}, env={})
        config = with_credentials(
            config, emu.client_id, emu.client_secret, emu.login_url, emu.api_url
        )
        sinks = otel_sinks_for(
            dataclasses.replace(config, journal_path=None),
            meter_provider=providers.meter_provider,
            tracer_provider=providers.tracer_provider,
            logger_provider=providers.logger_provider,
        )
        sinks.append(PrintingJournal(path, max_bytes=8192, backups=100))
        async with trio.open_nursery() as nursery:
            nursery.start_soon(lambda: run_monitor(config, sinks=sinks))

            async def closer() -> None:
                while True:
                    await trio.sleep(0.3)
                    emu.faults.close(1011, "kill test")

            nursery.start_soon(closer)
            await trio.sleep(60)
            nursery.cancel_scope.cancel()


if __name__ == "__main__":
    trio.run(main, sys.argv[1], sys.argv[2])
