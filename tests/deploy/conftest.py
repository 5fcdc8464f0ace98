"""The chart's fleet test runs the locally built collector: reuse its fixture."""

from collector.conftest import collector_binary

__all__ = ["collector_binary"]
