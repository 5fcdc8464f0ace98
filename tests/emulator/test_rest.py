"""Notifications REST of the emulator (reference section 3)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import trio
import trio.testing

from genesys_pulse.emulator import Emulator

from .conftest import bearer, login

CHANNELS = "/api/v2/notifications/channels"
ID_RE = re.compile(r"^streaming-\d+-[a-z0-9]{26}$")
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
BAD_CREDENTIALS = {
    "message": "Invalid login credentials.",
    "code": "bad.credentials",
    "status": 401,
}


async def _channel(http: httpx.AsyncClient, token: str) -> dict[str, str]:
    response = await http.post(CHANNELS, headers=bearer(token))
    assert response.status_code == 200
    body: dict[str, str] = response.json()
    return body


async def test_create_channel_model(
    http: httpx.AsyncClient, emulator: Emulator, token: str
) -> None:
    response = await http.post(CHANNELS, headers=bearer(token))
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"connectUri", "id", "expires"}
    assert ID_RE.match(body["id"])
    assert body["connectUri"] == f"{emulator.ws_url}/channels/{body['id']}"
    assert body["connectUri"].startswith("ws://127.0.0.1:")
    expires = datetime.strptime(body["expires"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    assert abs(expires - (datetime.now(UTC) + timedelta(days=1))) < timedelta(minutes=5)
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", body["expires"])


async def test_channel_ids_unique(http: httpx.AsyncClient, token: str) -> None:
    ids = {(await _channel(http, token))["id"] for _ in range(10)}
    assert len(ids) == 10


async def test_list_channels_by_token_and_by_client(
    http: httpx.AsyncClient, emulator: Emulator, token: str
) -> None:
    mine = await _channel(http, token)
    other_token = await login(http, emulator)
    other = await _channel(http, other_token)

    default = (await http.get(CHANNELS, headers=bearer(token))).json()
    assert default == {"entities": [mine]}
    by_token = await http.get(CHANNELS, params={"includechannels": "token"}, headers=bearer(token))
    assert by_token.json() == {"entities": [mine]}
    by_client = await http.get(
        CHANNELS, params={"includechannels": "oauthclient"}, headers=bearer(token)
    )
    assert by_client.json() == {"entities": [mine, other]}
    bad = await http.get(CHANNELS, params={"includechannels": "everyone"}, headers=bearer(token))
    assert bad.status_code == 400


async def test_head_channel(http: httpx.AsyncClient, token: str) -> None:
    channel = await _channel(http, token)
    ok = await http.head(f"{CHANNELS}/{channel['id']}", headers=bearer(token))
    assert ok.status_code == 200
    assert ok.content == b""
    missing = await http.head(f"{CHANNELS}/streaming-0-{'a' * 26}", headers=bearer(token))
    assert missing.status_code == 404
    assert missing.content == b""


async def test_put_get_post_delete_subscriptions(
    http: httpx.AsyncClient, emulator: Emulator, token: str
) -> None:
    channel = await _channel(http, token)
    url = f"{CHANNELS}/{channel['id']}/subscriptions"
    self_uri = f"/api/v2/notifications/channels/{channel['id']}/subscriptions"

    empty = await http.get(url, headers=bearer(token))
    assert empty.json() == {"entities": []}

    put = await http.put(
        url,
        headers=bearer(token),
        json=[{"id": "v2.users.u1.presence"}, {"id": "v2.analytics.queues.q1.observations"}],
    )
    assert put.status_code == 200
    assert put.json() == {
        "entities": [
            {"id": "v2.users.u1.presence", "state": "Permitted", "selfUri": self_uri},
            {
                "id": "v2.analytics.queues.q1.observations",
                "state": "Permitted",
                "selfUri": self_uri,
            },
        ]
    }
    # PUT replaces
    put2 = await http.put(url, headers=bearer(token), json=[{"id": "v2.users.u2.presence"}])
    assert [t["id"] for t in put2.json()["entities"]] == ["v2.users.u2.presence"]
    # POST adds (duplicates are not repeated)
    post = await http.post(
        url,
        headers=bearer(token),
        json=[{"id": "v2.users.u3.presence"}, {"id": "v2.users.u2.presence"}],
    )
    assert [t["id"] for t in post.json()["entities"]] == [
        "v2.users.u2.presence",
        "v2.users.u3.presence",
    ]
    got = await http.get(url, headers=bearer(token))
    assert got.json() == post.json()
    assert emulator.state.channels[channel["id"]].topics.keys() == {
        "v2.users.u2.presence",
        "v2.users.u3.presence",
    }

    deleted = await http.delete(url, headers=bearer(token))
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert (await http.get(url, headers=bearer(token))).json() == {"entities": []}


async def test_forbidden_topic_is_403_for_the_whole_request(
    http: httpx.AsyncClient, token: str
) -> None:
    channel = await _channel(http, token)
    url = f"{CHANNELS}/{channel['id']}/subscriptions"
    topics = [
        {"id": "v2.users.u1.presence"},
        {"id": "v2.users.u1.workforcemanagement.adherence"},
    ]
    refused = await http.put(url, headers=bearer(token), json=topics)
    assert refused.status_code == 403
    body = refused.json()
    assert body["status"] == 403
    assert body["code"] == "missing.any.permissions"
    assert body["contextId"] == refused.headers["inin-correlation-id"]
    # nothing was subscribed
    assert (await http.get(url, headers=bearer(token))).json() == {"entities": []}


async def test_ignore_errors_reports_rejected_topics(http: httpx.AsyncClient, token: str) -> None:
    channel = await _channel(http, token)
    url = f"{CHANNELS}/{channel['id']}/subscriptions"
    topics = [
        {"id": "v2.users.u1.presence"},
        {"id": "v2.users.u1.workforcemanagement.adherence"},
    ]
    response = await http.put(
        url, params={"ignoreErrors": "true"}, headers=bearer(token), json=topics
    )
    assert response.status_code == 200
    permitted, rejected = response.json()["entities"]
    assert permitted["state"] == "Permitted"
    assert rejected["id"] == "v2.users.u1.workforcemanagement.adherence"
    assert rejected["state"] == "Rejected"
    assert rejected["rejectionReason"]
    assert rejected["missingPermissions"] == ["wfm:agentAdherence:view"]
    got = await http.get(url, headers=bearer(token))
    assert [t["id"] for t in got.json()["entities"]] == ["v2.users.u1.presence"]


async def test_topic_limits(http: httpx.AsyncClient, token: str) -> None:
    channel = await _channel(http, token)
    url = f"{CHANNELS}/{channel['id']}/subscriptions"
    thousand = [{"id": f"v2.users.u{i}.presence"} for i in range(1000)]
    ok = await http.put(url, headers=bearer(token), json=thousand)
    assert ok.status_code == 200
    assert len(ok.json()["entities"]) == 1000
    over = await http.post(url, headers=bearer(token), json=[{"id": "v2.users.extra.presence"}])
    assert over.status_code == 400
    assert over.json()["code"] == "bad.request"
    assert "1000" in over.json()["message"]
    too_many = await http.put(url, headers=bearer(token), json=[*thousand, {"id": "v2.x"}])
    assert too_many.status_code == 400
    long_name = await http.put(url, headers=bearer(token), json=[{"id": "v2." + "x" * 200}])
    assert long_name.status_code == 400
    assert len((await http.get(url, headers=bearer(token))).json()["entities"]) == 1000


@pytest.mark.parametrize(
    "body",
    [b'{"id":"v2.users.u.presence"}', b'[{"name":"x"}]', b"[1,2]", b'[{"id":5}]', b"null", b""],
)
async def test_wrong_shapes_are_400(http: httpx.AsyncClient, token: str, body: bytes) -> None:
    channel = await _channel(http, token)
    response = await http.put(
        f"{CHANNELS}/{channel['id']}/subscriptions",
        headers={**bearer(token), "Content-Type": "application/json"},
        content=body,
    )
    assert response.status_code == 400
    assert response.json()["code"] == "bad.request"


async def test_available_topics(http: httpx.AsyncClient, token: str) -> None:
    response = await http.get("/api/v2/notifications/availabletopics", headers=bearer(token))
    assert response.status_code == 200
    entities = response.json()["entities"]
    ids = {t["id"] for t in entities}
    assert "v2.analytics.queues.{id}.observations" in ids
    assert all(t["visibility"] in ("Public", "Preview") for t in entities)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", CHANNELS),
        ("GET", CHANNELS),
        ("HEAD", f"{CHANNELS}/streaming-0-aaaaaaaaaaaaaaaaaaaaaaaaaa"),
        ("GET", f"{CHANNELS}/streaming-0-aaaaaaaaaaaaaaaaaaaaaaaaaa/subscriptions"),
        ("GET", "/api/v2/notifications/availabletopics"),
    ],
)
@pytest.mark.parametrize("auth", [None, "Bearer nope", "Basic Zm9vOmJhcg==", "Bearer", "Token abc"])
async def test_missing_or_bad_bearer_is_401(
    http: httpx.AsyncClient, method: str, path: str, auth: str | None
) -> None:
    headers = {"Authorization": auth} if auth is not None else {}
    response = await http.request(method, path, headers=headers)
    assert response.status_code == 401
    if method != "HEAD":
        assert response.json() == BAD_CREDENTIALS


async def test_another_clients_channel_is_not_found(
    http: httpx.AsyncClient, emulator: Emulator, token: str
) -> None:
    channel = await _channel(http, token)
    emulator.state.add_client("someone-else", "their-secret")
    other = await http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=("someone-else", "their-secret"),
    )
    other_token = other.json()["access_token"]
    response = await http.get(
        f"{CHANNELS}/{channel['id']}/subscriptions", headers=bearer(other_token)
    )
    assert response.status_code == 404


async def test_unknown_channel_is_404_not_found(http: httpx.AsyncClient, token: str) -> None:
    for path in (
        f"{CHANNELS}/streaming-0-{'b' * 26}/subscriptions",
        f"{CHANNELS}/not-a-channel/subscriptions",
    ):
        response = await http.put(path, headers=bearer(token), json=[{"id": "v2.users.u.presence"}])
        assert response.status_code == 404
        body = response.json()
        assert body["code"] == "not.found"
        assert body["status"] == 404
        assert body["contextId"] == response.headers["inin-correlation-id"]


async def test_unknown_path_404_and_wrong_method_405(http: httpx.AsyncClient, token: str) -> None:
    unknown = await http.get("/api/v2/users/me", headers=bearer(token))
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "not.found"
    wrong = await http.delete(CHANNELS, headers=bearer(token))
    assert wrong.status_code == 405
    assert wrong.headers["allow"] == "GET, POST"
    wrong_head = await http.get(f"{CHANNELS}/streaming-0-{'a' * 26}", headers=bearer(token))
    assert wrong_head.status_code == 405


async def test_headers_on_every_response(http: httpx.AsyncClient, token: str) -> None:
    responses = [
        await http.post(CHANNELS, headers=bearer(token)),
        await http.get(CHANNELS, headers=bearer(token)),
        await http.get("/nowhere"),
        await http.get(CHANNELS),
        await http.post("/oauth/token", data={"grant_type": "password"}),
    ]
    ids = set()
    for response in responses:
        assert UUID_RE.match(response.headers["inin-correlation-id"])
        ids.add(response.headers["inin-correlation-id"])
        assert int(response.headers["inin-ratelimit-allowed"]) == 300
        assert int(response.headers["inin-ratelimit-count"]) >= 1
        assert 1 <= int(response.headers["inin-ratelimit-reset"]) <= 60
    assert len(ids) == len(responses)
    # the first two were counted against the token, in order
    assert responses[1].headers["inin-ratelimit-count"] == "2"


@pytest.mark.parametrize("status", [401, 500, 502, 503, 504])
async def test_api_fault_burst(
    http: httpx.AsyncClient, emulator: Emulator, token: str, status: int
) -> None:
    emulator.faults.fail_api(status, count=2)
    for _ in range(2):
        response = await http.post(CHANNELS, headers=bearer(token))
        assert response.status_code == status
        if status == 401:
            assert response.json() == BAD_CREDENTIALS
        else:
            assert response.json()["status"] == status
    assert (await http.post(CHANNELS, headers=bearer(token))).status_code == 200


async def test_api_fault_429_with_retry_after(
    http: httpx.AsyncClient, emulator: Emulator, token: str
) -> None:
    emulator.faults.fail_api(429, count=1, retry_after=7)
    response = await http.get(CHANNELS, headers=bearer(token))
    assert response.status_code == 429
    assert response.headers["retry-after"] == "7"
    assert response.json()["message"] == (
        "Rate limit exceeded the maximum. Retry the request in [7] seconds"
    )
    assert (await http.get(CHANNELS, headers=bearer(token))).status_code == 200


async def test_api_fault_on_path_prefix_only(
    http: httpx.AsyncClient, emulator: Emulator, token: str
) -> None:
    channel = await _channel(http, token)
    emulator.faults.fail_api(503, count=1, path_prefix=f"{CHANNELS}/{channel['id']}/subscriptions")
    assert (await http.get(CHANNELS, headers=bearer(token))).status_code == 200
    sub = await http.get(f"{CHANNELS}/{channel['id']}/subscriptions", headers=bearer(token))
    assert sub.status_code == 503
    again = await http.get(f"{CHANNELS}/{channel['id']}/subscriptions", headers=bearer(token))
    assert again.status_code == 200


async def test_keep_alive_connection_serves_many_requests(
    emulator: Emulator, autojump_clock: trio.testing.MockClock
) -> None:
    from .conftest import memory_client

    async with memory_client(emulator, keep_alive=True) as http:
        token = await login(http, emulator)
        for _ in range(20):
            assert (await http.get(CHANNELS, headers=bearer(token))).status_code == 200
    assert emulator.connector.opened == 1
    assert emulator.stats["requests"] == 21


async def test_connect_uri_without_upgrade_is_426(http: httpx.AsyncClient, token: str) -> None:
    channel = await _channel(http, token)
    path = channel["connectUri"].split("127.0.0.1", 1)[1].split("/", 1)[1]
    response = await http.get("/" + path)
    assert response.status_code == 426
    assert response.headers["upgrade"] == "websocket"
    assert response.json()["code"] == "upgrade.required"


async def test_handle_stream_serves_any_trio_stream(emulator: Emulator) -> None:
    client, server = trio.testing.lockstep_stream_pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(emulator.handle_stream, server)
        await client.send_all(
            b"GET /api/v2/notifications/availabletopics HTTP/1.1\r\nHost: x\r\n"
            b"Connection: close\r\n\r\n"
        )
        data = bytearray()
        with trio.fail_after(10):
            while chunk := await client.receive_some(4096):
                data += chunk
        await client.aclose()
    assert data.startswith(b"HTTP/1.1 401 ")
    assert b'"code":"bad.credentials"' in data
