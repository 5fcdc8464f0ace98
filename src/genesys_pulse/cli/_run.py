"""``genesys-pulse run``: probe the configured targets and report.

Exit status:

* ``0`` after ``--duration``, on Ctrl-C (SIGINT) or SIGTERM: sockets are
  closed (bounded) and the output flushed, with a final ``summary`` line in
  JSON-lines mode;
* ``1`` when stdout's reader went away (``| head``): the run stops, closes its
  sockets the same way and says so in one line on stderr (a monitor whose
  output nobody reads must not look like a run that completed);
* ``2`` for an invalid configuration (each problem names the field, the
  value and the rule; no traceback) or missing credentials (the message says
  which environment variables to set, or to try ``--emulator``);
* ``3`` when a target's OAuth client was refused (``invalid_client``).

``--emulator`` starts the Genesys Cloud emulator in this process on
loopback and points every Genesys target at it; without ``--config`` it
monitors one default target. ``--emulator-setting KEY=VALUE`` tunes the
emulator (e.g. ``heartbeat_period=2`` so heartbeat gaps appear quickly; the
default target's ``heartbeat_period`` follows it) and ``--fault SPEC``
injects a fault from the start (e.g. ``app-pong-delay=normal:40ms:5ms``).

Telemetry: when ``journal_path`` is set in the configuration, audit records are
appended to that journal. OpenTelemetry export is switched on by the standard
variables: any ``OTEL_EXPORTER_OTLP_*ENDPOINT`` or ``OTEL_{TRACES,METRICS,LOGS}_EXPORTER``
(``OTEL_SDK_DISABLED=true`` turns it off); without them nothing is exported, so
a plain ``run --emulator`` never complains about a missing collector. When every
signal's exporter is ``none``, nothing is built for OpenTelemetry at all (the
same process as without the variables: telemetry off is the floor); a single
signal set to ``none`` gets the API's no-op provider. Providers are flushed
within one second at exit.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import math
import os
import signal
import sys
import time
import warnings
from collections.abc import AsyncIterator
from typing import Any

import trio

from genesys_pulse.config_sources import load_config
from genesys_pulse.core.config import (
    CONFIG_ENV,
    ConfigError,
    ConfigErrors,
    MonitorConfig,
    missing_credentials,
    parse_config,
    parse_duration,
    with_credentials,
)

from ._telemetry import (
    _missing_telemetry_packages,
    _otel_env_problem,
    _redacting_log_handler,
    _telemetry_sinks,
)

__all__ = ["DEFAULT_TARGET_ID", "add_arguments", "main"]

DEFAULT_TARGET_ID = "emulated-target"
"""Id of the target monitored by ``run --emulator`` without ``--config``."""

EXIT_OK = 0
EXIT_OUTPUT_CLOSED = 1
EXIT_CONFIG = 2
EXIT_AUTH = 3


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare ``run``'s options on ``parser``."""
    parser.add_argument(
        "--config",
        metavar="FILE",
        default=None,
        help=f"the TOML configuration file (default: ${CONFIG_ENV}, else the "
        "GENESYS_PULSE_* environment variables alone)",
    )
    parser.add_argument(
        "--emulator",
        action="store_true",
        help="run the Genesys Cloud emulator in-process and point the Genesys targets at it",
    )
    parser.add_argument(
        "--scenario",
        metavar="NAME|FILE",
        default=None,
        help="emulator scenario (calm, congested, flaky, maintenance, or a file); needs --emulator",
    )
    parser.add_argument(
        "--emulator-setting",
        metavar="KEY=VALUE",
        action="append",
        default=[],
        help="an EmulatorSettings field, e.g. heartbeat_period=2 (repeatable; needs --emulator)",
    )
    parser.add_argument(
        "--fault",
        metavar="SPEC",
        action="append",
        default=[],
        help="inject an emulator fault from the start, e.g. app-pong-delay=normal:40ms:5ms "
        "(repeatable; needs --emulator)",
    )
    parser.add_argument(
        "--duration",
        metavar="DURATION",
        default=None,
        help="stop after this long, e.g. 30s, 5m (default: run until Ctrl-C or SIGTERM)",
    )
    parser.add_argument(
        "--output",
        choices=("live", "jsonl"),
        default=None,
        help="live dashboard (default on a terminal) or JSON lines (default otherwise)",
    )
    parser.add_argument(
        "--log-level",
        metavar="LEVEL",
        default="WARNING",
        help="level of diagnostic logs on stderr, secrets masked (default WARNING)",
    )
    parser.add_argument(
        "--shard",
        metavar="I/N",
        default=None,
        help="monitor only the targets of shard I of N (stable hash of the target id)",
    )
    from . import _service

    _service.add_arguments(parser)


def _err(message: str) -> None:
    with contextlib.suppress(OSError, ValueError):
        print(f"genesys-pulse run: {message}", file=sys.stderr)
        sys.stderr.flush()


def _print_config_errors(errors: list[ConfigError]) -> None:
    noun = "problem" if len(errors) == 1 else "problems"
    _err(f"invalid configuration: {len(errors)} {noun}")
    for e in errors:
        with contextlib.suppress(OSError, ValueError):
            print(f"  {e}", file=sys.stderr)


def _hint_if_unconfigured(args: argparse.Namespace) -> None:
    """Nothing was configured at all: say how to start."""
    if args.emulator or args.config is not None or os.environ.get(CONFIG_ENV):
        return
    from genesys_pulse.core.config import DEFAULT_CLIENT_ID_ENV, DEFAULT_CLIENT_SECRET_ENV

    _err(
        "to monitor Genesys Cloud: give --config FILE (or set GENESYS_PULSE_ENVIRONMENT, "
        f"e.g. mypurecloud.com) and set {DEFAULT_CLIENT_ID_ENV} and {DEFAULT_CLIENT_SECRET_ENV}; "
        "or try `genesys-pulse run --emulator`"
    )


def _parse_shard(text: str) -> tuple[int, int]:
    i_text, sep, n_text = text.partition("/")
    try:
        i, n = int(i_text), int(n_text)
    except ValueError:
        raise ConfigError("--shard", text, "must be I/N with integers, e.g. 0/4") from None
    if not sep or n < 1 or not 0 <= i < n:
        raise ConfigError("--shard", text, "must be I/N with 0 <= I < N, e.g. 0/4")
    return i, n


def _parse_settings(items: list[str]) -> dict[str, Any]:
    from genesys_pulse.emulator import EmulatorSettings

    known = set(EmulatorSettings.field_names())
    seconds = {f.name for f in dataclasses.fields(EmulatorSettings) if f.type == "float"}
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or key not in known:
            raise ConfigError(
                "--emulator-setting", item, f"must be KEY=VALUE with KEY one of {sorted(known)}"
            )
        value: Any
        low = raw.strip().lower()
        if low in ("true", "false"):
            value = low == "true"
        elif low in ("none", "null"):
            value = None
        else:
            try:
                value = int(raw)
            except ValueError:
                try:
                    value = float(raw)
                except ValueError:
                    value = raw
        if isinstance(value, str) and key in seconds:  # "5s", "2min": the config's grammar
            try:
                value = parse_duration(value)
            except ValueError as exc:
                raise ConfigError("--emulator-setting", item, f"({key}) {exc}") from None
        out[key] = value
    return out


def _default_config(heartbeat_period: float | None) -> MonitorConfig:
    target: dict[str, Any] = {
        "id": DEFAULT_TARGET_ID,
        "kind": "genesys",
        "environment": "mypurecloud.com",
    }
    if heartbeat_period is not None:
        target["heartbeat_period"] = heartbeat_period
    return parse_config({"targets": [target]}, {})


def main(args: argparse.Namespace) -> int:
    """Run ``run``; return the exit status."""
    try:
        duration = None if args.duration is None else parse_duration(args.duration)
        if duration is not None and (duration <= 0 or not math.isfinite(duration)):
            raise ValueError("must be positive")
    except ValueError as exc:
        _print_config_errors(
            [ConfigError("--duration", args.duration, f"is not a duration ({exc})")]
        )
        return EXIT_CONFIG
    try:
        shard = None if args.shard is None else _parse_shard(args.shard)
        settings = _parse_settings(args.emulator_setting) if args.emulator else {}
        if not args.emulator and (args.scenario or args.emulator_setting or args.fault):
            raise ConfigError("--scenario/--emulator-setting/--fault", "", "need --emulator")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            if args.emulator and args.config is None and not os.environ.get(CONFIG_ENV):
                hb = settings.get("heartbeat_period")
                config = _default_config(float(hb) if isinstance(hb, int | float) else None)
            else:
                config = load_config(args.config, os.environ)
        for w in caught:
            _err(f"warning: {w.message}")
    except ConfigErrors as exc:
        _print_config_errors(exc.errors)
        _hint_if_unconfigured(args)
        return EXIT_CONFIG
    except ConfigError as exc:
        _print_config_errors([exc])
        _hint_if_unconfigured(args)
        return EXIT_CONFIG
    if shard is not None:
        import dataclasses

        config = dataclasses.replace(config, shard=shard)
    try:
        from ._service import configure

        config = configure(args, config)  # --health-listen
    except ConfigError as exc:
        _print_config_errors([exc])
        return EXIT_CONFIG
    if not config.targets:
        _err(
            "no targets configured: give --config FILE (or set GENESYS_PULSE_* variables), "
            "or try `genesys-pulse run --emulator`"
        )
        return EXIT_CONFIG
    if not args.emulator:
        missing = missing_credentials(config)
        if missing:
            _err(
                "no Genesys Cloud credentials: set "
                + " and ".join(missing)
                + " (the client secret is read from the environment only), "
                "or try `genesys-pulse run --emulator`"
            )
            return EXIT_CONFIG
    if args.emulator:
        problems = _check_emulator_options(args, settings)
        if problems:
            _print_config_errors(problems)
            return EXIT_CONFIG
    otel_problem = _otel_env_problem(os.environ)
    if otel_problem:
        _err(otel_problem)
        return EXIT_CONFIG
    missing_sdk = _missing_telemetry_packages(os.environ)
    if missing_sdk:
        _err(missing_sdk)
        return EXIT_CONFIG
    output = args.output or ("live" if _isatty() else "jsonl")
    try:
        return trio.run(_amain, args, config, settings, duration, output)
    except KeyboardInterrupt:  # pragma: no cover - signals are handled in _amain
        return EXIT_OK


def _check_emulator_options(
    args: argparse.Namespace, settings: dict[str, Any]
) -> list[ConfigError]:
    """Validate --emulator-setting, --fault and --scenario before starting anything."""
    from genesys_pulse.core.config import MISSING
    from genesys_pulse.emulator import EmulatorSettings, load_scenario, parse_fault_spec

    problems: list[ConfigError] = []
    try:
        EmulatorSettings(**settings)
    except (TypeError, ValueError) as exc:
        problems.append(ConfigError("--emulator-setting", MISSING, str(exc)))
    for text in args.fault:
        try:
            parse_fault_spec(text)
        except ValueError as exc:
            problems.append(ConfigError("--fault", text, f"is invalid: {exc}"))
    if args.scenario is not None:
        try:
            load_scenario(args.scenario)
        except (ValueError, OSError) as exc:
            problems.append(ConfigError("--scenario", args.scenario, f"is invalid: {exc}"))
    return problems


def _isatty() -> bool:
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


@contextlib.asynccontextmanager
async def _maybe_emulator(args: argparse.Namespace, settings: dict[str, Any]) -> AsyncIterator[Any]:
    if not args.emulator:
        yield None
        return
    from genesys_pulse.emulator import EmulatorSettings, open_emulator, parse_fault_spec

    specs = [parse_fault_spec(text) for text in args.fault]
    emu_settings = EmulatorSettings(**settings) if settings else None
    async with open_emulator(scenario=args.scenario, settings=emu_settings) as emulator:
        for spec in specs:
            spec.apply(emulator.faults)
        yield emulator


async def _amain(
    args: argparse.Namespace,
    config: MonitorConfig,
    settings: dict[str, Any],
    duration: float | None,
    output: str,
) -> int:
    from genesys_pulse.monitor import Monitor, run_monitor

    from ._dashboard import Dashboard
    from ._output import JsonLines
    from ._service import Service, ServiceError

    try:
        service = await Service.open(config)  # health endpoint, systemd notifications
    except ServiceError as service_error:
        _err(str(service_error))
        return EXIT_CONFIG
    started = time.time()
    stop = trio.CancelScope()

    def on_closed() -> None:
        stop.cancel()

    sink: JsonLines | Dashboard
    sink = (
        JsonLines(sys.stdout, on_closed) if output == "jsonl" else Dashboard(sys.stdout, on_closed)
    )
    monitor: Monitor | None = None
    rc = EXIT_OK
    telemetry: list[Any] = []
    providers: Any = None
    try:
        async with _maybe_emulator(args, settings) as emulator:
            if emulator is not None:
                config = with_credentials(
                    config,
                    emulator.client_id,
                    emulator.client_secret,
                    emulator.login_url,
                    emulator.api_url,
                )
                # the emulator is in this process, on loopback: never via a proxy
                config = dataclasses.replace(config, proxy=None)
            redactor = _redacting_log_handler(config, args.log_level)
            telemetry, providers = _telemetry_sinks(config)
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_watch_signals, stop)
                await service.start(nursery)
                nursery.start_soon(sink.writer.run if isinstance(sink, JsonLines) else sink.run)
                with stop:
                    if duration is not None:
                        stop.deadline = trio.current_time() + duration
                    monitor = await nursery.start(
                        lambda task_status: run_monitor(
                            config,
                            sinks=[sink, *telemetry],
                            freeze_gc=True,  # a process of our own: see run_monitor
                            redactor=redactor,
                            task_status=task_status,
                        )
                    )
                    sink_monitor(sink, monitor)
                    service.ready(monitor)
                    await _until_all_stopped(monitor)
                service.stopping()
                nursery.cancel_scope.cancel()
    except* _auth_errors() as group:
        rc = EXIT_AUTH
        del group
    except* _monitor_error() as group:
        for exc in group.exceptions:
            _err(str(exc))
        rc = 1
    if monitor is not None and monitor.failed:
        rc = EXIT_AUTH
    if rc == EXIT_AUTH:
        reasons = monitor.failed.values() if monitor is not None and monitor.failed else ()
        detail = "; ".join(reasons) or "authentication refused"
        _err(
            f"{detail}. Check the client id and secret (and that the OAuth client belongs "
            "to this region: a client from another region is refused)."
        )
    with trio.CancelScope(shield=True), trio.move_on_after(1.0):
        if monitor is not None and not sink.writer.closed:
            sink.summary(_summary(monitor, started))
        await sink.writer.flush()
    if sink.writer.closed and rc == EXIT_OK:
        _err("stdout was closed by its reader; stopped monitoring")
        rc = EXIT_OUTPUT_CLOSED
    for extra in telemetry:
        with contextlib.suppress(Exception):
            extra.close()
    if providers is not None:
        providers.shutdown(timeout=1.0)
    return rc


def _monitor_error() -> type[Exception]:
    from genesys_pulse.monitor import MonitorError

    return MonitorError


def _auth_errors() -> type[Exception]:
    from genesys_pulse.monitor import AuthenticationRefused

    return AuthenticationRefused


def sink_monitor(sink: object, monitor: Any) -> None:
    """Give the dashboard the running monitor to read its statistics."""
    if hasattr(sink, "monitor"):
        sink.monitor = monitor


async def _until_all_stopped(monitor: Any) -> None:
    """Run until cancelled (the monitor task ends the nursery if every target stops)."""
    await trio.sleep_forever()


async def _watch_signals(stop: trio.CancelScope) -> None:
    import threading

    if threading.current_thread() is not threading.main_thread():
        return  # embedded (tests, hosts): signals belong to the main thread
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for _ in signals:
            stop.cancel()
            return


def _summary(monitor: Any, started: float) -> dict[str, Any]:
    targets: dict[str, Any] = {}
    for tid, probe in monitor.targets.items():
        entry: dict[str, Any] = probe.summary()
        entry["connection"] = probe.connection_state
        entry["levels"] = probe.levels()
        targets[tid] = entry
    stats = monitor.dispatcher.stats
    return {
        "at": _iso(time.time()),
        "duration_s": round(time.time() - started, 3),
        "targets": targets,
        "failed": dict(monitor.failed),
        "local_stalls": monitor.looplag.stall_count,
        "callbacks": {
            "sink_failures": stats.sink_failures,
            "dropped": stats.dropped,
        },
    }


def _iso(at: float) -> str:
    from ._output import iso

    return iso(at)
