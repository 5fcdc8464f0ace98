"""The libraries this instrumentor instruments: none (it patches nothing; it runs
the monitor in a background thread). Mirrors ``[project.optional-dependencies]
instruments = []`` in ``pyproject.toml``."""

from __future__ import annotations

_instruments: tuple[str, ...] = ()
