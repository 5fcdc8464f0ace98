"""The official Genesys Python SDK (PureCloudPlatformClientV2) against the emulator.

The SDK is synchronous (urllib3), so the emulator runs in a background thread
with its own ``trio.run`` and is stopped through its trio token.
"""

from __future__ import annotations

import queue
import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import trio

from genesys_pulse.emulator import Emulator, EmulatorSettings, open_emulator

pc = pytest.importorskip("PureCloudPlatformClientV2")
from PureCloudPlatformClientV2.rest import ApiException  # noqa: E402

ID_RE = re.compile(r"^streaming-\d+-[a-z0-9]{26}$")


class ThreadedEmulator:
    """An emulator served by ``trio.run`` in a daemon thread."""

    def __init__(self, settings: EmulatorSettings) -> None:
        self._settings = settings
        self._ready: queue.Queue[Emulator | BaseException] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="emulator", daemon=True)
        self._token: trio.lowlevel.TrioToken | None = None
        self._scope: trio.CancelScope | None = None
        self.emulator: Emulator

    def _run(self) -> None:
        try:
            trio.run(self._main)
        except BaseException as exc:  # reported to the test thread
            self._ready.put(exc)

    async def _main(self) -> None:
        async with open_emulator(settings=self._settings) as emulator:
            with trio.CancelScope() as scope:
                self._scope = scope
                self._token = trio.lowlevel.current_trio_token()
                self._ready.put(emulator)
                await trio.sleep_forever()

    def __enter__(self) -> Emulator:
        self._thread.start()
        got = self._ready.get(timeout=10)
        if isinstance(got, BaseException):
            raise got
        self.emulator = got
        return got

    def __exit__(self, *exc: object) -> None:
        assert self._token is not None and self._scope is not None
        trio.from_thread.run_sync(self._scope.cancel, trio_token=self._token)
        self._thread.join(timeout=10)
        assert not self._thread.is_alive()
        assert self._ready.empty(), self._ready.get()


@pytest.fixture(scope="module")
def threaded() -> Iterator[Emulator]:
    with ThreadedEmulator(EmulatorSettings(seed=42)) as emulator:
        yield emulator


def _topic(topic_id: str) -> Any:
    topic = pc.ChannelTopic()
    topic.id = topic_id
    return topic


def _api_client(emulator: Emulator, *, gateway: bool) -> Any:
    if gateway:
        client = pc.api_client.ApiClient()
        client.set_gateway("127.0.0.1", "http", emulator.port, "", "")
    else:
        # host = base URL: the SDK's '//api.' -> '//login.' rewrite does nothing
        # for 127.0.0.1, so the token request goes to BASE/oauth/token.
        client = pc.api_client.ApiClient(host=emulator.base_url)
    assert client.get_conf_url("login", client.host) == emulator.login_url
    assert client.get_conf_url("api", client.host) == emulator.api_url
    return client


@pytest.mark.parametrize("gateway", [False, True], ids=["host", "set_gateway"])
def test_sdk_full_notifications_flow(threaded: Emulator, gateway: bool) -> None:
    client = _api_client(threaded, gateway=gateway)
    client.get_client_credentials_token(threaded.client_id, threaded.client_secret)
    assert client.access_token
    api = pc.NotificationsApi(client)

    channel = api.post_notifications_channels()
    assert isinstance(channel, pc.Channel)
    assert ID_RE.match(channel.id)
    assert channel.connect_uri == f"ws://127.0.0.1:{threaded.port}/channels/{channel.id}"
    assert isinstance(channel.expires, datetime)
    expected = datetime.now(UTC) + timedelta(days=1)
    assert abs(channel.expires - expected) < timedelta(minutes=5)

    topics = [
        _topic("v2.analytics.queues.q1.observations"),
        _topic("v2.users.u1.presence"),
    ]
    replaced = api.put_notifications_channel_subscriptions(channel.id, topics)
    assert isinstance(replaced, pc.ChannelTopicEntityListing)
    assert [t.id for t in replaced.entities] == [t.id for t in topics]
    for topic in replaced.entities:
        assert isinstance(topic, pc.ChannelTopic)
        assert topic.state == "Permitted"
        assert topic.self_uri == f"/api/v2/notifications/channels/{channel.id}/subscriptions"
        assert topic.rejection_reason is None

    read = api.get_notifications_channel_subscriptions(channel.id)
    assert [t.to_dict() for t in read.entities] == [t.to_dict() for t in replaced.entities]

    added = api.post_notifications_channel_subscriptions(
        channel.id, [_topic("v2.users.u2.routingStatus")]
    )
    assert len(added.entities) == 3

    assert api.head_notifications_channel(channel.id) is None  # 200, no body
    with pytest.raises(ApiException) as missing:
        api.head_notifications_channel("streaming-0-" + "z" * 26)
    assert missing.value.status == 404

    listing = api.get_notifications_channels()
    assert isinstance(listing, pc.ChannelEntityListing)
    assert channel.id in [c.id for c in listing.entities]
    listed = next(c for c in listing.entities if c.id == channel.id)
    assert listed.connect_uri == channel.connect_uri
    by_client = api.get_notifications_channels(includechannels="oauthclient")
    assert channel.id in [c.id for c in by_client.entities]

    api.delete_notifications_channel_subscriptions(channel.id)
    assert api.get_notifications_channel_subscriptions(channel.id).entities == []


def test_sdk_rejected_topics_and_403(threaded: Emulator) -> None:
    client = _api_client(threaded, gateway=False)
    client.get_client_credentials_token(threaded.client_id, threaded.client_secret)
    api = pc.NotificationsApi(client)
    channel = api.post_notifications_channels()
    body = [
        _topic("v2.users.u1.presence"),
        _topic("v2.users.u1.workforcemanagement.adherence"),
    ]
    with pytest.raises(ApiException) as refused:
        api.put_notifications_channel_subscriptions(channel.id, body)
    assert refused.value.status == 403
    result = api.put_notifications_channel_subscriptions(channel.id, body, ignore_errors=True)
    rejected = result.entities[1]
    assert rejected.state == "Rejected"
    assert rejected.rejection_reason
    assert rejected.missing_permissions == ["wfm:agentAdherence:view"]


def test_sdk_available_topics(threaded: Emulator) -> None:
    client = _api_client(threaded, gateway=False)
    client.get_client_credentials_token(threaded.client_id, threaded.client_secret)
    listing = pc.NotificationsApi(client).get_notifications_availabletopics()
    ids = [t.id for t in listing.entities]
    assert "v2.analytics.queues.{id}.observations" in ids
    assert all(t.visibility == "Public" for t in listing.entities)


def test_sdk_wrong_credentials_and_bad_token(threaded: Emulator) -> None:
    client = _api_client(threaded, gateway=False)
    with pytest.raises(ApiException) as bad_login:
        client.get_client_credentials_token(threaded.client_id, "wrong")
    assert bad_login.value.status == 401
    assert '"error":"invalid_client"' in bad_login.value.body
    client.access_token = "not-a-token"
    with pytest.raises(ApiException) as bad_token:
        pc.NotificationsApi(client).post_notifications_channels()
    assert bad_token.value.status == 401
    assert '"code":"bad.credentials"' in bad_token.value.body
