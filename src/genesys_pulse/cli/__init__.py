"""The ``genesys-pulse`` command line.

Subcommands live in private modules and are imported only when used, so
``genesys-pulse emulator`` does not pay for OpenTelemetry start-up.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Sequence

from genesys_pulse._version import __version__

# name -> (module, help). Each module defines ``add_arguments(parser)`` and
# ``main(args) -> int``.
_COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("genesys_pulse.cli._run", "probe the configured targets and report"),
    "validate": ("genesys_pulse.cli._validate", "check a config file and print it, redacted"),
    "emulator": ("genesys_pulse.cli._emulator", "serve the Genesys Cloud emulator"),
    "report": (
        "genesys_pulse.cli._report",
        "turn a JSON-lines run or the audit journal into one self-contained HTML page",
    ),
}


def build_parser() -> argparse.ArgumentParser:
    import importlib

    parser = argparse.ArgumentParser(
        prog="genesys-pulse",
        description="Continuous health monitoring of Genesys Cloud notification WebSockets.",
    )
    parser.add_argument("--version", action="version", version=f"genesys-pulse {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in _COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        mod = importlib.import_module(module)
        mod.add_arguments(p)
        p.set_defaults(_module=mod)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        rc: int = args._module.main(args)
    except BrokenPipeError:
        # Output piped into a reader that went away (`... | head`): not an error
        # worth a traceback. Point stdout at devnull so the interpreter's final
        # flush does not raise again.
        import os

        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        return 130
    return rc


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
