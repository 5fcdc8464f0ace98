"""OAuth 2 client credentials against ``login.{env}/oauth/token``.

Token lifetime policy
---------------------
A token is used until a refresh point drawn, per token, uniformly between
80 % and 90 % of its ``expires_in`` (``refresh_margin=(0.10, 0.20)`` is the
share of the lifetime left at that point; the spread keeps many monitors
from refreshing in lock-step). From then on :meth:`OAuthClient.token` fetches a
new one; while the old one is still valid a failed refresh is reported
(``token.failed``) and the old token is returned, so probing is never
interrupted by a refresh. Only when no valid token is left does ``token()``
raise. While one task is refreshing, the others get the old (valid) token at
once. :meth:`OAuthClient.invalidate` (after a REST ``401``) forces a fetch.

Back-off after failures
-----------------------
One core :class:`~genesys_pulse.core.Backoff` per client (decorrelated
jitter from 1 s, so no delay is shorter than 1 s; reset by the next token
issued) spaces the attempts while the login service fails, so an outage
never meets a retry storm and a fleet of monitors does not retry in step:

* after a failed refresh the old token is handed out without a new attempt
  for the next delay, at most 30 s and at most a tenth of the token's
  remaining life (but 1 s at least), so several attempts fit before it
  expires and callers are not each held up by the outage;
* :meth:`OAuthClient.keep_fresh` (the monitor's token keeper) waits out that
  hold, and while no valid token is left it waits the next delay (at most
  60 s; a ``Retry-After`` is a floor) before asking again.

Each fetch also retries inside its own budget (:mod:`._retry`).

Client-credentials responses carry no refresh token: "refreshing" means a
new client-credentials grant.
"""

from __future__ import annotations

import base64
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx
import trio

from genesys_pulse.core import Backoff
from genesys_pulse.core.config import Secret

from ._errors import ApiError, AuthRefused, InvalidResponse
from ._retry import EventHook, RetryPolicy, send_with_retry

__all__ = ["AccessToken", "OAuthClient", "SecretRegistry"]


class SecretRegistry(Protocol):
    """Where the client registers values to mask in logs.

    :class:`genesys_pulse.core._redact.RedactingFilter` is one: attach it to
    your logging *handlers* and pass it as ``redactor``.
    """

    def add_secret(self, secret: str | Secret) -> None:
        """Mask ``secret`` from now on."""

    def discard_secret(self, secret: str | Secret) -> None:
        """Stop masking ``secret``."""


_DEFAULT_EXPIRES_IN = 300.0
"""Assumed lifetime when a response has no ``expires_in`` (Genesys' minimum: be conservative)."""

RETRY_MIN = 1.0
"""Shortest wait before another token attempt after a failure, seconds."""
HOLD_MAX = 30.0
"""Longest hold of a still-valid token after a failed refresh, seconds."""
RETRY_MAX = 60.0
"""Longest wait of :meth:`OAuthClient.keep_fresh` while no valid token is left, seconds."""


@dataclass(frozen=True, slots=True)
class AccessToken:
    """A bearer token and its lifetime on the monotonic clock.

    Attributes:
      value: The token (prints as ``***``).
      expires_at: ``trio.current_time()`` at which it expires (measured from
        when the request was *sent*, so it errs early).
      issued_at: ``trio.current_time()`` when the token request was sent.
      refresh_at: When :class:`OAuthClient` starts fetching a successor.
    """

    value: Secret
    expires_at: float
    issued_at: float
    refresh_at: float = field(default=math.inf)

    @property
    def lifetime(self) -> float:
        """``expires_in`` as granted, seconds."""
        return self.expires_at - self.issued_at

    def valid(self, now: float) -> bool:
        """Whether the token is still usable at ``now``."""
        return now < self.expires_at

    def authorization(self) -> str:
        """The ``Authorization`` header value. Never log it."""
        return "Bearer " + self.value.reveal()


class OAuthClient:
    """Fetches, caches and refreshes a client-credentials access token.

    Args:
      http: The client to use (e.g. over :func:`genesys_pulse.transport.httpx_transport`).
      login_url: The login base, e.g. ``https://login.mypurecloud.com`` (the
        token endpoint is ``{login_url}/oauth/token``).
      client_id: The OAuth client id.
      client_secret: The client secret.
      rng: Source of jitter (refresh point, backoff).
      refresh_margin: ``(low, high)`` share of the lifetime left when the
        refresh starts, drawn uniformly per token; default 10-20 %.
      policy: Retry policy of one token fetch.
      on_event: Audit hook ``(name, attrs)``: ``token.issued``,
        ``token.refresh``, ``token.failed`` and ``http.retry``. Attributes
        never hold secrets.
      redactor: Optional :class:`SecretRegistry` (e.g. a ``RedactingFilter``
        on the application's log handlers): the client secret, its Basic
        credential and every token are registered as they appear; tokens
        are discarded once expired. Nothing is installed into logging here.

    Concurrent callers share one in-flight request.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        login_url: str,
        client_id: str,
        client_secret: Secret,
        *,
        rng: random.Random,
        refresh_margin: tuple[float, float] = (0.10, 0.20),
        policy: RetryPolicy | None = None,
        on_event: EventHook | None = None,
        redactor: SecretRegistry | None = None,
    ) -> None:
        low, high = refresh_margin
        if not (0.0 <= low <= high < 1.0):
            raise ValueError("refresh_margin must be (low, high) with 0 <= low <= high < 1")
        if not isinstance(client_secret, Secret):
            raise TypeError("client_secret must be a Secret")
        self._http = http
        self.token_url = login_url.rstrip("/") + "/oauth/token"
        self.client_id = client_id
        self._secret = client_secret
        self._rng = rng
        self._margin = (low, high)
        self._policy = policy or RetryPolicy()
        self._on_event = on_event
        self._redactor = redactor
        self._registered: list[AccessToken] = []
        if redactor is not None:
            redactor.add_secret(client_secret)
            redactor.add_secret(self._basic_credential())
        self._token: AccessToken | None = None
        self._hold_until = -math.inf
        """After a failed refresh, keep using the valid token without retrying until then."""
        self._backoff = Backoff(rng, initial=RETRY_MIN, cap=RETRY_MAX, jitter="decorrelated")
        """Spaces the attempts after failures (the module docstring); reset by a new token."""
        self._failures = 0
        """Fetches that failed so far (callers queued behind a failure share it)."""
        self._last_error: ApiError | None = None
        self._lock = trio.Lock()
        self.fetches = 0
        """Token requests that returned a token (for tests and metrics)."""

    def __repr__(self) -> str:
        return f"OAuthClient(token_url={self.token_url!r}, client_id={self.client_id!r})"

    @property
    def current(self) -> AccessToken | None:
        """The cached token, if any (may be expired)."""
        return self._token

    def invalidate(self, stale: AccessToken | None = None) -> None:
        """Forget the cached token so the next :meth:`token` fetches a new one.

        Pass the token that was refused (``stale``): if a newer one has been
        fetched since, nothing happens, so a burst of 401s causes one fetch.
        """
        if stale is None or self._token is stale:
            self._token = None

    async def token(self) -> AccessToken:
        """Return a valid token, fetching one if needed.

        Raises:
          AuthRefused: the credentials were refused (never retried).
          ApiError: no token could be obtained within the retry budget and
            no valid cached token is left.
        """
        tok = self._token
        now = trio.current_time()
        if tok is not None and (
            now < tok.refresh_at
            or (tok.valid(now) and (self._lock.locked() or now < self._hold_until))
        ):
            # Fresh; or still valid while another task refreshes it, or while
            # we wait to retry a failed refresh.
            return tok
        # Queued behind a running fetch? Then its failure is ours too.
        failures_seen = self._failures if self._lock.locked() else None
        async with self._lock:
            tok = self._token
            now = trio.current_time()
            if tok is not None and now < tok.refresh_at:
                return tok  # another caller refreshed it while we waited
            failed = self._last_error
            if (
                failed is not None
                and failures_seen is not None
                and self._failures > failures_seen
                and not _usable(tok)
            ):
                # The fetch we queued behind just failed after its own retries:
                # share its outcome instead of starting a second retry sequence.
                raise failed
            if tok is None:
                reason = "invalidated" if self.fetches else "initial"
            else:
                reason = "ahead_of_expiry" if tok.valid(now) else "expired"
            self._emit("token.refresh", {"reason": reason})
            try:
                new = await self._fetch(tok)
            except AuthRefused as exc:
                self._emit("token.failed", {"reason": exc.error or "refused", "status": exc.status})
                raise
            except ApiError as exc:
                self._emit(
                    "token.failed",
                    {"reason": exc.code, "status": exc.status, "kept_old": _usable(tok)},
                )
                now = trio.current_time()
                self._failures += 1
                self._last_error = exc
                if tok is not None and tok.valid(now):
                    # Retry later: the next back-off delay, at most 30 s and a
                    # tenth of the remaining life (at least 1 s).
                    bound = min(HOLD_MAX, max(RETRY_MIN, (tok.expires_at - now) / 10))
                    self._hold_until = now + min(self._backoff.next_delay(), bound)
                    return tok
                raise
            self._token = new
            self._last_error = None
            self._hold_until = -math.inf
            self._backoff.reset()
            return new

    async def keep_fresh(self, on_new_token: Callable[[AccessToken], None]) -> None:
        """Keep a token fresh ahead of expiry, forever (run it in a nursery; cancel to stop).

        Asks for the token whenever it is due for refresh and calls
        ``on_new_token`` for every token after the first (a monitor rotates
        its channel then, as a channel may end with its token). Failures back
        off as the module docstring says: a failed refresh that kept the old
        token is retried when its hold ends; while no valid token is left,
        after the next delay of the client's back-off (1 s ... 60 s, jittered;
        ``Retry-After`` a floor). Errors other than :class:`AuthRefused` are
        not raised here: whoever needs the token meets (and reports) them.

        Raises:
          AuthRefused: the credentials were refused.
        """
        prev: AccessToken | None = None
        while True:
            try:
                tok = await self.token()
            except AuthRefused:
                raise
            except Exception as exc:
                retry_after = getattr(exc, "retry_after", None)
                floor = retry_after if isinstance(retry_after, int | float) else None
                await trio.sleep(self._backoff.next_delay(floor))
                continue
            now = trio.current_time()
            if prev is not None and tok is not prev:
                on_new_token(tok)
            elif prev is not None and now >= tok.refresh_at:
                # the refresh failed and the old token was kept: try again when the hold ends
                await trio.sleep_until(max(self._hold_until, now + RETRY_MIN))
                continue
            prev = tok
            due = tok.refresh_at if tok.refresh_at < math.inf else tok.expires_at
            await trio.sleep_until(max(due, now + RETRY_MIN))

    async def _fetch(self, old: AccessToken | None) -> AccessToken:
        policy = self._policy
        if old is not None and old.valid(trio.current_time()):
            # Refreshing ahead of expiry: do not spend longer than the old token lives.
            remaining = old.expires_at - trio.current_time()
            policy = _shrink(policy, remaining)
        headers = {
            "Authorization": "Basic " + self._basic_credential(),
            "Accept": "application/json",
        }
        issued_at = 0.0

        async def send() -> httpx.Response:
            nonlocal issued_at
            issued_at = trio.current_time()
            return await self._http.post(
                self.token_url,
                data={"grant_type": "client_credentials"},
                headers=headers,
                timeout=policy.attempt_timeout,
            )

        resp = await send_with_retry(
            send,
            policy=policy,
            rng=self._rng,
            endpoint="oauth.token",
            on_event=self._on_event,
            server_address=httpx.URL(self.token_url).host,
        )
        if resp.status_code in (400, 401, 403):
            error, description = _oauth_error(resp)
            raise AuthRefused(resp.status_code, error, description)
        if resp.status_code != 200:
            error, description = _oauth_error(resp)
            raise ApiError(resp.status_code, error or "http.error", description)
        tok = self._parse(resp, issued_at)
        self.fetches += 1
        self._register(tok)
        self._emit(
            "token.issued",
            {
                "expires_in_s": tok.lifetime,
                "refresh_in_s": tok.refresh_at - issued_at,
                "duration_s": round(trio.current_time() - issued_at, 6),
            },
        )
        return tok

    def _parse(self, resp: httpx.Response, issued_at: float) -> AccessToken:
        try:
            body = resp.json()
        except ValueError:
            raise InvalidResponse(resp.status_code, "<body>", "not JSON") from None
        if not isinstance(body, dict):
            raise InvalidResponse(resp.status_code, "<body>", "not a JSON object")
        value = body.get("access_token")
        if not isinstance(value, str) or not value:
            raise InvalidResponse(resp.status_code, "access_token", "missing or not a string")
        token_type = body.get("token_type", "bearer")
        if not isinstance(token_type, str) or token_type.lower() != "bearer":
            raise InvalidResponse(resp.status_code, "token_type", "not 'bearer'")
        expires_in = body.get("expires_in", _DEFAULT_EXPIRES_IN)
        if (
            isinstance(expires_in, bool)
            or not isinstance(expires_in, int | float)
            or not math.isfinite(expires_in)
            or expires_in <= 0
        ):
            raise InvalidResponse(resp.status_code, "expires_in", "not a positive number")
        low, high = self._margin
        left = self._rng.uniform(low, high)
        return AccessToken(
            value=Secret(value),
            expires_at=issued_at + float(expires_in),
            issued_at=issued_at,
            refresh_at=issued_at + float(expires_in) * (1.0 - left),
        )

    def _basic_credential(self) -> str:
        raw = f"{self.client_id}:{self._secret.reveal()}".encode()
        return base64.b64encode(raw).decode("ascii")

    def _register(self, tok: AccessToken) -> None:
        redactor = self._redactor
        if redactor is None:
            return
        redactor.add_secret(tok.value)
        now = trio.current_time()
        keep = []
        for old in self._registered:
            if old.valid(now):
                keep.append(old)
            else:
                redactor.discard_secret(old.value)
        keep.append(tok)
        self._registered = keep

    def _emit(self, name: str, attrs: dict[str, Any]) -> None:
        if self._on_event is not None:
            self._on_event(name, attrs)


def _usable(tok: AccessToken | None) -> bool:
    return tok is not None and tok.valid(trio.current_time())


def _shrink(policy: RetryPolicy, budget: float) -> RetryPolicy:
    from dataclasses import replace

    budget = max(budget, 0.001)
    return replace(
        policy,
        total_timeout=min(policy.total_timeout, budget),
        attempt_timeout=min(policy.attempt_timeout, budget),
    )


def _oauth_error(resp: httpx.Response) -> tuple[str, str]:
    try:
        body = resp.json()
    except ValueError:
        return "", ""
    if not isinstance(body, dict):
        return "", ""
    error = body.get("error") or body.get("code") or ""
    description = (
        body.get("error_description") or body.get("description") or body.get("message") or ""
    )
    return str(error)[:100], str(description)[:300]
