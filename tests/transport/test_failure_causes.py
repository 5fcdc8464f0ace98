"""Network failures name their cause: ``error.type``, the host and the OS message.

Each fault is real: a closed loopback port, a TLS server whose CA is not
trusted, a listener that never answers, and (in ``tests/cli``) a name that
cannot be resolved inside a network namespace.
"""

from __future__ import annotations

import random

import httpx
import pytest
import trio
import trio.testing

from genesys_pulse.genesys import ApiError
from genesys_pulse.genesys._retry import RetryPolicy, send_with_retry
from genesys_pulse.transport import NetConnector, failure_cause, httpx_transport

from ._servers import tcp_server, tls_server
from .conftest import PKI

ONE_TRY = RetryPolicy(attempt_timeout=2.0, total_timeout=5.0, max_attempts=1)


async def _fail(url: str, connector: NetConnector, host: str) -> ApiError:
    async with httpx.AsyncClient(transport=httpx_transport(connector)) as client:
        with pytest.raises(ApiError) as info:
            await send_with_retry(
                lambda: client.get(url),
                policy=ONE_TRY,
                rng=random.Random(1),
                endpoint="test",
                server_address=host,
            )
    return info.value


async def _idle(stream: trio.abc.Stream) -> None:
    await trio.sleep_forever()


async def _reader(stream: trio.abc.Stream) -> None:
    """Reads (which drives a TLS server's handshake) until the client goes away."""
    try:
        while await stream.receive_some(65536):
            pass
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        pass


async def test_connection_refused_is_named() -> None:
    async with tcp_server(_idle) as port:
        pass  # closed again: nothing listens on the port now
    err = await _fail(f"http://127.0.0.1:{port}/", NetConnector(), "127.0.0.1")
    assert err.status == 0 and err.code == "network.error"
    assert err.cause is not None
    assert err.cause.error_type == "connection_refused"
    assert err.cause.server_address == "127.0.0.1"
    assert "refused" in err.cause.message.lower()  # the OS's own words


async def test_untrusted_certificate_is_tls(pki: PKI) -> None:
    async with tls_server(_reader, pki.server_context) as port:
        err = await _fail(f"https://localhost:{port}/", NetConnector(), "localhost")
    assert err.cause is not None
    assert err.cause.error_type == "tls"
    assert err.cause.server_address == "localhost"
    assert "certificate" in err.cause.message.lower()


async def test_no_answer_is_timeout() -> None:
    async with tcp_server(_idle) as port:
        err = await _fail(f"http://127.0.0.1:{port}/", NetConnector(), "127.0.0.1")
    assert err.code == "timeout"
    assert err.cause is not None and err.cause.error_type == "timeout"
    assert err.cause.attributes()["server.address"] == "127.0.0.1"


def test_unknown_exception_is_other_with_its_message() -> None:
    cause = failure_cause(RuntimeError("odd"), "api.example")
    assert (cause.error_type, cause.server_address, cause.message) == (
        "_OTHER",
        "api.example",
        "odd",
    )
