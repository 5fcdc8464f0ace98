"""OAuthClient against the emulator (in-memory streams, MockClock)."""

from __future__ import annotations

import itertools
import logging

import pytest
import trio
import trio.testing

from genesys_pulse.emulator import EmulatorSettings
from genesys_pulse.genesys import ApiError, AuthRefused, RetryPolicy
from genesys_pulse.transport import ConnectError

from .conftest import rig

TOKEN = "/oauth/token"


async def test_token_is_fetched_once_and_cached(autojump_clock: trio.testing.MockClock) -> None:
    async with rig() as r:
        t1 = await r.oauth.token()
        await trio.sleep(60)
        t2 = await r.oauth.token()
        assert t1 is t2
        assert len(r.times(TOKEN)) == 1
        assert t1.lifetime == 86400
        assert 0.80 * 86400 <= t1.refresh_at - t1.issued_at <= 0.90 * 86400
        assert r.event_names() == ["token.refresh", "token.issued"]
        assert t1.value.reveal() not in repr(t1)
        assert r.emulator.state.check_token(t1.value.reveal(), trio.current_time())


async def test_concurrent_callers_share_one_request(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with rig() as r:
        got = []

        async def get() -> None:
            got.append(await r.oauth.token())

        async with trio.open_nursery() as nursery:
            for _ in range(10):
                nursery.start_soon(get)
        assert len(got) == 10
        assert all(t is got[0] for t in got)
        assert len(r.times(TOKEN)) == 1


async def test_429_on_login_honours_retry_after(autojump_clock: trio.testing.MockClock) -> None:
    async with rig() as r:
        r.emulator.faults.fail_login(429, 1, retry_after=7)
        tok = await r.oauth.token()
        times = r.times(TOKEN)
        assert len(times) == 2
        assert times[1] - times[0] >= 7.0
        assert times[1] - times[0] <= 8.0  # jitter is at most 10 % of Retry-After (<= 1 s)
        retries = [a for n, a in r.events if n == "http.retry"]
        assert [a["status"] for a in retries] == [429]
        assert retries[0]["retry_after_s"] == 7
        assert tok.value.reveal()


async def test_5xx_burst_is_retried_with_growing_backoff(
    autojump_clock: trio.testing.MockClock,
) -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=30.0, total_timeout=120.0)
    async with rig(policy=policy) as r:
        r.emulator.faults.fail_login(503, 4)
        await r.oauth.token()
        times = r.times(TOKEN)
        assert len(times) == 5
        gaps = [b - a for a, b in itertools.pairwise(times)]
        delays = [a["delay_s"] for n, a in r.events if n == "http.retry"]
        for n, (gap, delay) in enumerate(zip(gaps, delays, strict=True), start=1):
            ceiling = min(30.0, 1.0 * 2 ** (n - 1))  # full jitter below a doubling ceiling
            assert 0 < delay <= ceiling, (n, delays)
            assert gap == pytest.approx(delay, abs=1e-6)  # slept exactly the chosen delay
        assert [a["status"] for n, a in r.events if n == "http.retry"] == [503] * 4


async def test_5xx_forever_gives_up_within_budget(autojump_clock: trio.testing.MockClock) -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=4.0, total_timeout=20.0, max_attempts=100)
    async with rig(policy=policy) as r:
        r.emulator.faults.fail_login(500, 1000)
        start = trio.current_time()
        with pytest.raises(ApiError) as info:
            await r.oauth.token()
        assert info.value.status == 500
        assert trio.current_time() - start <= 20.0
        assert 4 <= len(r.times(TOKEN)) <= 20
        assert r.event_names()[-1] == "token.failed"


async def test_callers_queued_behind_a_failing_fetch_share_its_failure(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Two callers while the login service is down make one retry sequence, not two."""
    policy = RetryPolicy(base_delay=1.0, max_delay=4.0, total_timeout=20.0, max_attempts=100)
    async with rig(policy=policy) as r:
        r.emulator.faults.fail_login(500, 1000)
        errors: list[ApiError] = []

        async def get() -> None:
            with pytest.raises(ApiError) as info:
                await r.oauth.token()
            errors.append(info.value)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(get)
            nursery.start_soon(get)
        assert len(errors) == 2
        assert errors[0] is errors[1]
        one_sequence = len(r.times(TOKEN))
        # A later caller (not queued behind that fetch) tries again, once more.
        with pytest.raises(ApiError):
            await r.oauth.token()
        assert len(r.times(TOKEN)) == 2 * one_sequence


async def test_retry_after_beyond_budget_fails_without_retrying_early(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with rig(policy=RetryPolicy(total_timeout=30.0)) as r:
        r.emulator.faults.fail_login(429, 1, retry_after=60)
        start = trio.current_time()
        with pytest.raises(ApiError) as info:
            await r.oauth.token()
        assert info.value.status == 429
        assert info.value.retry_after == 60
        assert len(r.times(TOKEN)) == 1
        assert trio.current_time() - start < 1


async def test_invalid_client_is_refused_after_exactly_one_request(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with rig(secret="wrong-secret-value") as r:
        with pytest.raises(AuthRefused) as info:
            await r.oauth.token()
        assert info.value.error == "invalid_client"
        assert info.value.status in (400, 401)
        assert len(r.times(TOKEN)) == 1
        assert "wrong-secret-value" not in str(info.value)
        assert "invalid_client" in str(info.value)
        # A second call asks again (once), it does not loop.
        with pytest.raises(AuthRefused):
            await r.oauth.token()
        assert len(r.times(TOKEN)) == 2


async def test_token_refreshed_ahead_of_expiry(autojump_clock: trio.testing.MockClock) -> None:
    async with rig(settings=EmulatorSettings(token_ttl=300)) as r:
        t1 = await r.oauth.token()
        assert 240 <= t1.refresh_at - t1.issued_at <= 270
        await trio.sleep_until(t1.refresh_at - 0.01)
        assert await r.oauth.token() is t1
        await trio.sleep_until(t1.refresh_at + 0.01)
        t2 = await r.oauth.token()
        assert t2 is not t1
        assert t1.valid(trio.current_time())  # refreshed before the old one expired
        assert len(r.times(TOKEN)) == 2
        refreshes = [a["reason"] for n, a in r.events if n == "token.refresh"]
        assert refreshes == ["initial", "ahead_of_expiry"]


async def test_failed_refresh_keeps_the_still_valid_token(
    autojump_clock: trio.testing.MockClock,
) -> None:
    policy = RetryPolicy(total_timeout=10.0, base_delay=1.0)
    async with rig(settings=EmulatorSettings(token_ttl=300), policy=policy) as r:
        t1 = await r.oauth.token()
        await trio.sleep_until(t1.refresh_at + 1)
        r.emulator.faults.fail_login(503, 1000)
        assert await r.oauth.token() is t1
        failed = [a for n, a in r.events if n == "token.failed"]
        assert failed and failed[-1]["kept_old"] is True
        # No new attempt right away: the next callers get the valid token at once.
        logins = len(r.times(TOKEN))
        start = trio.current_time()
        assert await r.oauth.token() is t1
        assert trio.current_time() == start
        assert len(r.times(TOKEN)) == logins
        # ... and later it tries again: the hold is a tenth of the remaining
        # life (here < 50 s left, so < 5 s).
        assert t1.expires_at - trio.current_time() < 50
        await trio.sleep(5.01)
        assert await r.oauth.token() is t1
        assert len(r.times(TOKEN)) > logins
        await trio.sleep_until(t1.expires_at)
        with pytest.raises(ApiError):
            await r.oauth.token()


async def test_invalidate_forces_a_new_token_once(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with rig() as r:
        t1 = await r.oauth.token()
        r.oauth.invalidate(t1)
        t2 = await r.oauth.token()
        r.oauth.invalidate(t1)  # stale: a newer token exists, nothing happens
        assert await r.oauth.token() is t2
        assert t2 is not t1
        assert len(r.times(TOKEN)) == 2


async def test_network_errors_are_retried(autojump_clock: trio.testing.MockClock) -> None:
    class Flaky:
        def __init__(self, inner: object, failures: int) -> None:
            self.inner = inner
            self.failures = failures

        async def open_stream(
            self,
            host: str,
            port: int,
            *,
            tls: bool,
            timeout: float,  # noqa: ASYNC109
        ) -> trio.abc.Stream:
            if self.failures:
                self.failures -= 1
                await trio.lowlevel.checkpoint()
                raise ConnectError(host, port, "refused", ConnectionRefusedError(111, "refused"))
            return await self.inner.open_stream(host, port, tls=tls, timeout=timeout)  # type: ignore[attr-defined,no-any-return]

    flaky: list[Flaky] = []

    def make(emulator: object) -> Flaky:
        flaky.append(Flaky(emulator.connector, 2))  # type: ignore[attr-defined]
        return flaky[0]

    async with rig(connector=make) as r:
        await r.oauth.token()
        retries = [a for n, a in r.events if n == "http.retry"]
        assert [a["code"] for a in retries] == ["network.error"] * 2
        assert flaky[0].failures == 0


async def test_unanswered_login_times_out_per_attempt(
    autojump_clock: trio.testing.MockClock,
) -> None:
    class Silent:
        async def open_stream(
            self,
            host: str,
            port: int,
            *,
            tls: bool,
            timeout: float,  # noqa: ASYNC109
        ) -> trio.abc.Stream:
            client, server = trio.testing.memory_stream_pair()
            self.keep = server  # never read, never answered
            await trio.lowlevel.checkpoint()
            return client

    policy = RetryPolicy(attempt_timeout=5.0, total_timeout=22.0, base_delay=1.0, max_delay=2.0)
    async with rig(connector=lambda e: Silent(), policy=policy) as r:
        start = trio.current_time()
        with pytest.raises(ApiError) as info:
            await r.oauth.token()
        elapsed = trio.current_time() - start
        assert info.value.status == 0
        assert info.value.code == "timeout"
        assert elapsed <= 22.0
        assert len(r.times(TOKEN)) >= 3


async def test_secrets_never_in_logs_or_errors(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with rig() as r:
        r.emulator.faults.fail_login(429, 1, retry_after=1)
        tok = await r.oauth.token()
        await r.notifications.create_channel()
        r.emulator.state.tokens.clear()
        await r.notifications.create_channel()
        secret = r.emulator.client_secret
        values = [tok.value.reveal(), secret]
        current = r.oauth.current
        assert current is not None
        values.append(current.value.reveal())
        texts = [rec.getMessage() for rec in caplog.records]
        texts += [repr(r.oauth), repr(tok), repr(r.notifications), str(r.events)]
        assert caplog.records, "expected httpx/httpcore debug records to inspect"
        for v in values:
            for text in texts:
                assert v not in text


async def test_redactor_learns_secret_and_tokens_and_masks_debug_logs(
    autojump_clock: trio.testing.MockClock,
) -> None:
    import io
    import random

    import httpx

    from genesys_pulse.core import RedactingFilter
    from genesys_pulse.core.config import Secret
    from genesys_pulse.emulator import open_emulator
    from genesys_pulse.genesys import OAuthClient
    from genesys_pulse.transport import httpx_transport

    redactor = RedactingFilter()
    buf = io.StringIO()
    handler = logging.StreamHandler(buf)
    handler.addFilter(redactor)
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        async with open_emulator(settings=EmulatorSettings(token_ttl=300)) as emulator:
            async with httpx.AsyncClient(transport=httpx_transport(emulator.connector)) as http:
                oauth = OAuthClient(
                    http,
                    emulator.login_url,
                    emulator.client_id,
                    Secret(emulator.client_secret),
                    rng=random.Random(5),
                    redactor=redactor,
                )
                t1 = await oauth.token()
                await trio.sleep_until(t1.expires_at + 1)
                t2 = await oauth.token()
                # Whatever a careless caller logs is masked by the handler's filter.
                logging.getLogger("careless").debug(
                    "token %s secret %s", t2.value.reveal(), emulator.client_secret
                )
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    out = buf.getvalue()
    assert t2.value.reveal() not in out
    assert emulator.client_secret not in out
    assert "token *** secret ***" in out
    # the expired token was dropped from the registry, the live one kept
    assert redactor.redact(t1.value.reveal()) == t1.value.reveal()
    assert redactor.redact(t2.value.reveal()) == "***"


async def test_plain_http_login_to_non_loopback_is_refused_without_retry(
    autojump_clock: trio.testing.MockClock,
) -> None:
    import random

    import httpx

    from genesys_pulse.core.config import Secret
    from genesys_pulse.genesys import OAuthClient
    from genesys_pulse.transport import httpx_transport

    opened: list[str] = []

    class Recording:
        async def open_stream(
            self,
            host: str,
            port: int,
            *,
            tls: bool,
            timeout: float,  # noqa: ASYNC109
        ) -> trio.abc.Stream:
            opened.append(host)
            raise AssertionError("must not connect")

    async with httpx.AsyncClient(transport=httpx_transport(Recording())) as http:
        oauth = OAuthClient(
            http, "http://login.mypurecloud.com", "id", Secret("s3cret!"), rng=random.Random(1)
        )
        with pytest.raises(httpx.UnsupportedProtocol, match="non-loopback"):
            await oauth.token()
    assert opened == []


# -- the token keeper (keep_fresh): one core Backoff spaces attempts after failures ----------


async def test_keeper_backs_off_failed_refreshes_within_1_and_30_s_and_resets(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A refresh failing while the old token lives: holds of 1 ... 30 s, jittered, growing;
    a new token is handed to the keeper's callback and resets the back-off."""
    policy = RetryPolicy(max_attempts=1)  # one login request per attempt: the gaps are the holds
    async with rig(settings=EmulatorSettings(token_ttl=3000), policy=policy) as r:
        t1 = await r.oauth.token()
        r.emulator.faults.fail_login(503, 12)
        issued: list[object] = []
        async with trio.open_nursery() as nursery:
            nursery.start_soon(r.oauth.keep_fresh, issued.append)
            await trio.sleep_until(t1.expires_at - 1)
            refreshed = r.times(TOKEN)[1:]
            assert len(issued) == 1 and issued[0] is r.oauth.current
            t2 = r.oauth.current
            assert t2 is not None and t2 is not t1
            # the back-off starts again from 1 s at the next failed refresh
            r.emulator.faults.fail_login(503, 2)
            await trio.sleep_until(t2.refresh_at + 60)
            again = [t for t in r.times(TOKEN) if t >= t2.refresh_at]
            nursery.cancel_scope.cancel()
    assert len(refreshed) == 13  # 12 refused, then the new token
    gaps = [b - a for a, b in itertools.pairwise(refreshed)]
    assert all(1.0 <= g <= 30.0 + 1e-9 for g in gaps), gaps
    assert len({round(g, 6) for g in gaps[1:]}) == len(gaps) - 1  # jittered: no two alike
    assert max(gaps) > 10.0 and gaps[0] == pytest.approx(1.0)  # grows from 1 s
    assert gaps[-1] > gaps[0]
    assert again[1] - again[0] == pytest.approx(1.0)  # reset by the token issued


async def test_keeper_without_a_valid_token_waits_at_most_60_s(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Once the old token expired, attempts keep backing off (up to 60 s, never below 1 s)."""
    policy = RetryPolicy(max_attempts=1)
    async with rig(settings=EmulatorSettings(token_ttl=300), policy=policy) as r:
        t1 = await r.oauth.token()
        r.emulator.faults.fail_login(503, 40)
        issued: list[object] = []
        got = trio.Event()

        def on_new(tok: object) -> None:
            issued.append(tok)
            got.set()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(r.oauth.keep_fresh, on_new)
            with trio.fail_after(3600):
                await got.wait()
            nursery.cancel_scope.cancel()
    assert len(issued) == 1
    attempts = r.times(TOKEN)[1:]
    assert len(attempts) == 41
    after_expiry = [b - a for a, b in itertools.pairwise(attempts) if a >= t1.expires_at]
    assert after_expiry, "the outage outlived the token"
    assert all(1.0 <= g <= 60.0 + 1e-9 for g in after_expiry), after_expiry
    assert max(after_expiry) > 30.0  # beyond the hold's cap: the no-token back-off
    failed = [a for n, a in r.events if n == "token.failed"]
    assert len(failed) == 40 and failed[-1]["kept_old"] is False
