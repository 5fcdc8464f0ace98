"""``genesys-pulse validate``: check a configuration and print it, normalised and redacted.

Exit status: 0 when the configuration is valid (the normalised configuration
is printed to stdout as JSON, secrets as ``"***"``); 2 when it is not (each
problem is printed to stderr as ``field: value rule``, no traceback).
Warnings (e.g. a world-readable file holding credentials) and unset
credentials are reported on stderr and do not change the status unless
``--require-credentials`` is given.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings

from genesys_pulse.config_sources import load_config
from genesys_pulse.core.config import (
    CONFIG_ENV,
    ConfigError,
    ConfigErrors,
    missing_credentials,
    redacted,
)

__all__ = ["add_arguments", "main"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare ``validate``'s options on *parser*."""
    parser.add_argument(
        "--config",
        metavar="FILE",
        default=None,
        help=f"the TOML configuration file (default: ${CONFIG_ENV}, else the "
        "GENESYS_PULSE_* environment variables alone)",
    )
    parser.add_argument(
        "--require-credentials",
        action="store_true",
        help="also fail (exit 2) when a Genesys target's client id or secret is not set",
    )


def main(args: argparse.Namespace) -> int:
    """Run ``validate``; return the exit status."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            config = load_config(args.config, os.environ)
        except ConfigErrors as e:
            _print_errors(e.errors)
            return 2
        except ConfigError as e:  # pragma: no cover - the loader raises ConfigErrors
            _print_errors([e])
            return 2
    for w in caught:
        print(f"warning: {w.message}", file=sys.stderr)
    print(json.dumps(redacted(config), indent=2))
    missing = missing_credentials(config)
    if missing:
        print(
            "note: credentials are not set; before `genesys-pulse run` set "
            + ", ".join(missing)
            + " (or try `genesys-pulse run --emulator`)",
            file=sys.stderr,
        )
        if args.require_credentials:
            return 2
    return 0


def _print_errors(errors: list[ConfigError]) -> None:
    noun = "problem" if len(errors) == 1 else "problems"
    print(f"invalid configuration: {len(errors)} {noun}", file=sys.stderr)
    for e in errors:
        print(f"  {e}", file=sys.stderr)
