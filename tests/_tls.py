"""Throw-away certificates for the TLS tests, made with ``openssl`` in a temporary directory.

One place for every test that needs a certificate: :func:`self_signed` (a
self-signed server certificate, or a CA root) and :func:`make_pki` (a CA, a
server certificate it signed for 127.0.0.1, ::1 and localhost, and an
unrelated CA). Keys are 2048-bit RSA, valid for two days, never reused
between runs. Without ``openssl`` the tests skip locally and fail in CI
(``CI=true``), where a missing tool is a broken machine, not a reason to skip.
"""

from __future__ import annotations

import os
import shutil
import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

__all__ = ["PKI", "make_pki", "require_openssl", "self_signed", "server_context"]

_DAYS = "2"


def require_openssl() -> str:
    """The ``openssl`` executable (skip the test without it; fail in CI)."""
    exe = shutil.which("openssl")
    if exe is None:  # pragma: no cover - the image has it
        if os.environ.get("CI") == "true":
            pytest.fail("openssl is not installed (needed by the TLS tests)")
        pytest.skip("openssl is not installed")
    return exe


def _openssl(*args: str, cwd: Path) -> None:
    done = subprocess.run(
        [require_openssl(), *args], cwd=cwd, capture_output=True, text=True, timeout=60
    )
    if done.returncode != 0:
        pytest.fail(f"openssl {args[0]} failed: {done.stderr[-500:]}")


def self_signed(
    directory: Path,
    name: str = "server",
    *,
    subject: str = "/CN=localhost",
    san: str | None = "DNS:localhost,IP:127.0.0.1",
    ca: bool = False,
) -> tuple[Path, Path]:
    """A self-signed certificate and its key, ``<name>.pem`` and ``<name>.key`` in *directory*.

    ``ca=True`` makes it a CA root (``basicConstraints`` CA, ``keyCertSign``)
    instead of a server certificate with subject alternative names ``san``.
    """
    cert, key = directory / f"{name}.pem", directory / f"{name}.key"
    ext: list[str] = []
    if ca:
        ext += ["-addext", "basicConstraints=critical,CA:TRUE"]
        ext += ["-addext", "keyUsage=critical,keyCertSign,cRLSign"]
    elif san:
        ext += ["-addext", f"subjectAltName={san}"]
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", _DAYS,
        "-keyout", str(key), "-out", str(cert), "-subj", subject, *ext,
        cwd=directory,
    )  # fmt: skip
    return cert, key


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    """A server-side TLS context presenting *cert*."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    return ctx


@dataclass(frozen=True)
class PKI:
    """A throw-away CA, a server certificate it signed, and an unrelated CA."""

    ca_pem: Path
    other_ca_pem: Path
    server_pem: Path
    server_key: Path
    server_context: ssl.SSLContext


def make_pki(directory: Path) -> PKI:
    """A CA, a server certificate signed by it (SAN 127.0.0.1, ::1, localhost), another CA."""
    d = directory
    ca, ca_key = self_signed(d, "ca", subject="/CN=genesys-pulse test ca", ca=True)
    other, _ = self_signed(d, "other", subject="/CN=genesys-pulse test other", ca=True)
    _openssl(
        "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key",
        "-out", "server.csr", "-subj", "/CN=localhost",
        cwd=d,
    )  # fmt: skip
    (d / "ext.cnf").write_text(
        "subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost\n"
        "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
    )
    _openssl(
        "x509", "-req", "-in", "server.csr", "-CA", str(ca), "-CAkey", str(ca_key),
        "-CAcreateserial", "-out", "server.pem", "-days", _DAYS, "-extfile", "ext.cnf",
        cwd=d,
    )  # fmt: skip
    server, key = d / "server.pem", d / "server.key"
    return PKI(
        ca_pem=ca,
        other_ca_pem=other,
        server_pem=server,
        server_key=key,
        server_context=server_context(server, key),
    )
