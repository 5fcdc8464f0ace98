"""OAuth client-credentials login of the emulator (reference section 1)."""

from __future__ import annotations

import base64

import httpx
import pytest
import trio

from genesys_pulse.emulator import Emulator, EmulatorSettings

from .conftest import login

INVALID_CLIENT = {
    "error": "invalid_client",
    "description": "authentication failed",
    "error_description": "authentication failed",
}


async def test_client_credentials_token(http: httpx.AsyncClient, emulator: Emulator) -> None:
    response = await http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(emulator.client_id, emulator.client_secret),
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 86400
    assert len(body["access_token"]) >= 40
    assert emulator.client_secret not in response.text


async def test_tokens_are_opaque_and_distinct(http: httpx.AsyncClient, emulator: Emulator) -> None:
    tokens = {await login(http, emulator) for _ in range(3)}
    assert len(tokens) == 3
    for token in tokens:
        assert emulator.client_id not in token


@pytest.mark.parametrize(
    ("client_id", "secret"),
    [("nobody", "x"), (None, "wrong-secret"), ("", "")],
)
async def test_wrong_credentials_401_exact_body(
    http: httpx.AsyncClient, emulator: Emulator, client_id: str | None, secret: str
) -> None:
    response = await http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client_id if client_id is not None else emulator.client_id, secret),
    )
    assert response.status_code == 401
    assert response.json() == INVALID_CLIENT


async def test_missing_basic_auth_is_invalid_client(http: httpx.AsyncClient) -> None:
    response = await http.post("/oauth/token", data={"grant_type": "client_credentials"})
    assert response.status_code == 401
    assert response.json() == INVALID_CLIENT


async def test_undecodable_basic_auth_is_invalid_client(http: httpx.AsyncClient) -> None:
    response = await http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": "Basic %%%not-base64"},
    )
    assert response.status_code == 401
    assert response.json() == INVALID_CLIENT


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({"grant_type": "password"}, "unsupported_grant_type"),
        ({"grant_type": "authorization_code"}, "unsupported_grant_type"),
        ({}, "invalid_request"),
        ({"grant_type": ""}, "invalid_request"),
    ],
)
async def test_other_or_missing_grant_is_400(
    http: httpx.AsyncClient, emulator: Emulator, form: dict[str, str], error: str
) -> None:
    response = await http.post(
        "/oauth/token", data=form, auth=(emulator.client_id, emulator.client_secret)
    )
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == error
    assert body["error_description"] == body["description"]


async def test_json_body_is_invalid_request(http: httpx.AsyncClient, emulator: Emulator) -> None:
    response = await http.post(
        "/oauth/token",
        json={"grant_type": "client_credentials"},
        auth=(emulator.client_id, emulator.client_secret),
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


async def test_get_on_token_endpoint_is_405(http: httpx.AsyncClient) -> None:
    response = await http.get("/oauth/token")
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.json()["code"] == "method.not.allowed"


async def test_credentials_in_form_body_also_accepted(
    http: httpx.AsyncClient, emulator: Emulator
) -> None:
    response = await http.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": emulator.client_id,
            "client_secret": emulator.client_secret,
        },
    )
    assert response.status_code == 200


async def test_raw_basic_header_as_the_sdk_builds_it(
    http: httpx.AsyncClient, emulator: Emulator
) -> None:
    auth = base64.b64encode(f"{emulator.client_id}:{emulator.client_secret}".encode()).decode()
    response = await http.post(
        "/oauth/token",
        content=b"grant_type=client_credentials",
        headers={
            "Authorization": "Basic " + auth,
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    assert response.status_code == 200


async def test_login_fault_burst_429_then_recovers(
    http: httpx.AsyncClient, emulator: Emulator
) -> None:
    emulator.faults.fail_login(429, count=2, retry_after=3)
    for _ in range(2):
        response = await http.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(emulator.client_id, emulator.client_secret),
        )
        assert response.status_code == 429
        assert response.headers["retry-after"] == "3"
        body = response.json()
        assert body["code"] == "too.many.requests.retry.after"
        assert body["message"] == (
            "Rate limit exceeded the maximum. Retry the request in [3] seconds"
        )
        assert body["contextId"] == response.headers["inin-correlation-id"]
    assert await login(http, emulator)


@pytest.mark.parametrize("status", [401, 500, 502, 503, 504])
async def test_login_fault_statuses(
    http: httpx.AsyncClient, emulator: Emulator, status: int
) -> None:
    emulator.faults.fail_login(status, count=1)
    response = await http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(emulator.client_id, emulator.client_secret),
    )
    assert response.status_code == status
    if status == 401:
        assert response.json() == INVALID_CLIENT
    else:
        assert response.json()["status"] == status
    assert await login(http, emulator)


async def test_login_rate_limit_when_configured(autojump_clock: trio.testing.MockClock) -> None:
    from genesys_pulse.emulator import open_emulator

    from .conftest import memory_client

    async with (
        open_emulator(settings=EmulatorSettings(login_rate_limit_per_minute=2)) as emu,
        memory_client(emu) as http,
    ):
        await login(http, emu)
        await login(http, emu)
        refused = await http.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(emu.client_id, emu.client_secret),
        )
        assert refused.status_code == 429
        retry = int(refused.headers["retry-after"])
        assert 1 <= retry <= 60
        await trio.sleep(retry)
        assert await login(http, emu)
