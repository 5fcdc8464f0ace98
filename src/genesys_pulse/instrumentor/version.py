"""The instrumentor's version: the package's."""

from genesys_pulse._version import __version__

__all__ = ["__version__"]
