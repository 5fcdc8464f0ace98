"""``genesys-pulse emulator``: serve the Genesys Cloud emulator until interrupted.

On start it prints ONE JSON line to stdout and flushes it::

    {"login_url": "http://127.0.0.1:PORT", "api_url": "http://127.0.0.1:PORT",
     "client_id": "...", "client_secret": "...", "base_url": "http://127.0.0.1:PORT"}

so a script can read the first line and point a client at it. The secret is
printed on purpose (it is the emulator's own, throw-away credential) and is
never logged. SIGINT or SIGTERM stops the emulator; the exit status is 0.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import signal
import sys
from typing import Any

__all__ = ["add_arguments", "main"]

_SECRET_ENV = "GENESYS_PULSE_EMULATOR_CLIENT_SECRET"
# Faults applied once at start-up act on live sockets; with none connected yet
# they would do nothing, so they are refused here (a scenario can time them).
_ACTION_FAULTS = frozenset({"stall", "reset", "close", "malformed", "oversized"})


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 0..65535, got {value}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options of ``genesys-pulse emulator``."""
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
    )
    parser.add_argument(
        "--port", type=_port, default=0, help="TCP port; 0 picks a free one (default 0)"
    )
    parser.add_argument(
        "--scenario", metavar="NAME|FILE", help="run a built-in scenario or a scenario file"
    )
    parser.add_argument(
        "--heartbeat-period",
        type=_seconds,
        metavar="S",
        help="seconds between WebSocket heartbeats (default 30)",
    )
    parser.add_argument(
        "--token-ttl",
        type=_positive_int,
        metavar="S",
        help="access token lifetime in seconds (default 86400)",
    )
    parser.add_argument(
        "--channel-ttl",
        type=_seconds,
        metavar="S",
        help="channel lifetime after the last (re)subscription, seconds (default 86400)",
    )
    parser.add_argument(
        "--rate-limit",
        type=_positive_int,
        metavar="N",
        help="REST requests per token per minute before 429 (default 300)",
    )
    parser.add_argument("--seed", type=int, help="seed of the emulator's random generator")
    parser.add_argument(
        "--client-id",
        help=f"the accepted client id (default: random); the secret comes from ${_SECRET_ENV} "
        "or is random",
    )
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="SPEC",
        help="inject a fault from the start, e.g. app-pong-delay=normal:20ms:5ms:floor=1ms, "
        "login-fail=429:3:retry-after=2 (repeatable)",
    )
    parser.add_argument(
        "--log-level", default="WARNING", help="log level on stderr (default WARNING)"
    )


def _settings_overrides(args: argparse.Namespace) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    for option, field in (
        ("heartbeat_period", "heartbeat_period"),
        ("token_ttl", "token_ttl"),
        ("channel_ttl", "channel_ttl"),
        ("rate_limit", "rate_limit_per_minute"),
        ("seed", "seed"),
    ):
        value = getattr(args, option, None)
        if value is not None:
            overrides[field] = value
    return overrides


def main(args: argparse.Namespace) -> int:
    """Run the emulator until SIGINT/SIGTERM; return the exit status."""
    import trio

    from genesys_pulse.emulator import EmulatorSettings, open_emulator
    from genesys_pulse.emulator._faults import FaultSpec, FaultSpecError, parse_fault_spec

    logging.basicConfig(
        level=getattr(logging, str(args.log_level).upper(), logging.WARNING),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    specs: list[FaultSpec] = []
    for text in args.fault:
        try:
            spec = parse_fault_spec(text)
        except FaultSpecError as exc:
            print(f"genesys-pulse emulator: --fault {text!r}: {exc}", file=sys.stderr)
            return 2
        if spec.name in _ACTION_FAULTS:
            print(
                f"genesys-pulse emulator: --fault {spec.name} acts on live sockets; "
                "use a scenario to time it",
                file=sys.stderr,
            )
            return 2
        specs.append(spec)
    try:
        settings = EmulatorSettings(**_settings_overrides(args))
    except (TypeError, ValueError) as exc:
        print(f"genesys-pulse emulator: {exc}", file=sys.stderr)
        return 2
    secret = os.environ.get(_SECRET_ENV) or None

    async def serve() -> None:
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async with open_emulator(
                host=args.host,
                port=args.port,
                scenario=args.scenario,
                settings=settings,
                client_id=args.client_id,
                client_secret=secret,
            ) as emulator:
                for spec in specs:
                    spec.apply(emulator.faults)
                sys.stdout.write(json.dumps(emulator.describe()) + "\n")
                sys.stdout.flush()
                async for signum in signals:
                    logging.getLogger("genesys_pulse.emulator").info(
                        "emulator: stopping on signal %s", signum
                    )
                    break

    try:
        trio.run(serve)
    except KeyboardInterrupt:  # a signal that arrived before the receiver was set up
        return 0
    except FileNotFoundError as exc:
        print(f"genesys-pulse emulator: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:  # a scenario that does not load
        print(f"genesys-pulse emulator: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(
            f"genesys-pulse emulator: cannot listen on {args.host}:{args.port}: {exc}",
            file=sys.stderr,
        )
        return 1
    return 0
