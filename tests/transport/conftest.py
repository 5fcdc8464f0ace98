"""Fixtures: a throw-away CA and a server certificate for 127.0.0.1/localhost (``tests/_tls.py``)."""

from __future__ import annotations

import pytest

from _tls import PKI, make_pki

__all__ = ["PKI", "pki"]


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    """A CA, a server cert signed by it (SAN 127.0.0.1, ::1, localhost), and an unrelated CA."""
    return make_pki(tmp_path_factory.mktemp("pki"))
