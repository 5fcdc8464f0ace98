"""Bounded retries for HTTP calls: per-attempt deadline, total budget, jittered backoff.

Retried: network errors and timeouts, ``408``, ``429`` and ``5xx``, after a
delay from :class:`genesys_pulse.core.Backoff` (capped exponential, full
jitter). A ``Retry-After`` header (seconds, or an HTTP date) is a floor: the
next attempt is never earlier than it says; if it points beyond the remaining
budget the call fails at once instead of retrying early. Everything else is
returned to the caller to interpret.
"""

from __future__ import annotations

import email.utils
import math
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import trio

from genesys_pulse.core import Backoff
from genesys_pulse.transport import FailureCause, failure_cause

from ._errors import ApiError

__all__ = ["EventHook", "RetryPolicy", "parse_retry_after", "send_with_retry"]

EventHook = Callable[[str, dict[str, Any]], None]
"""``on_event(name, attrs)``: audit hook; must be cheap and must not raise."""

RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard to try one logical HTTP call.

    Attributes:
      attempt_timeout: Deadline of one attempt (connect, send, read), seconds.
      total_timeout: Budget of the whole call including waits, seconds: no
        attempt starts (and no wait is begun) that would end after it.
      max_attempts: At most this many attempts.
      base_delay: Ceiling of the first backoff delay, seconds (doubles
        each retry; the delay is uniform below the ceiling).
      max_delay: Cap of one backoff delay, seconds.
    """

    attempt_timeout: float = 10.0
    total_timeout: float = 120.0
    max_attempts: int = 8
    base_delay: float = 0.5
    max_delay: float = 30.0

    def __post_init__(self) -> None:
        if not (self.attempt_timeout > 0 and self.total_timeout > 0):
            raise ValueError("timeouts must be positive")
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if not (0 < self.base_delay <= self.max_delay):
            raise ValueError("need 0 < base_delay <= max_delay")


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """``Retry-After`` in seconds (delta-seconds or HTTP date), or ``None`` if absent/invalid."""
    raw = headers.get("retry-after")
    if raw is None:
        return None
    raw = raw.strip()
    try:
        value = float(raw)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError, IndexError):
            return None
        # Wall clock only to turn a date into a duration.
        value = when.timestamp() - time.time()
    if not math.isfinite(value):
        return None
    return max(0.0, value)


def _error_from_response(resp: httpx.Response, retry_after: float | None) -> ApiError:
    code, message = "", ""
    try:
        body = resp.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        code = str(body.get("code") or body.get("error") or "")
        message = str(
            body.get("message") or body.get("error_description") or body.get("description") or ""
        )
    if not code:
        code = resp.reason_phrase.lower().replace(" ", ".") or "http.error"
    return ApiError(resp.status_code, code, message[:300], retry_after=retry_after)


async def send_with_retry(
    send: Callable[[], Awaitable[httpx.Response]],
    *,
    policy: RetryPolicy,
    rng: random.Random,
    endpoint: str,
    on_event: EventHook | None = None,
    server_address: str = "",
) -> httpx.Response:
    """Call ``send()`` until it gives a non-retryable response or the budget runs out.

    Returns:
      The first response whose status is not retryable (2xx, 3xx, and 4xx
      other than 408/429), for the caller to interpret.

    Raises:
      ApiError: the last failure once attempts or budget are exhausted, or
        a ``Retry-After`` beyond the budget (``status`` 0 with ``code``
        ``"network.error"``/``"timeout"`` when nothing was received; then
        ``cause`` says why: ``error.type``, the host and the OS message).
      httpx.UnsupportedProtocol: for a URL the transport refuses (not retried).
    """
    deadline = trio.current_time() + policy.total_timeout
    backoff = Backoff(rng, initial=policy.base_delay, cap=policy.max_delay)
    attempt = 0
    while True:
        attempt += 1
        retry_after: float | None = None
        now = trio.current_time()
        try:
            with trio.fail_after(max(0.0, min(policy.attempt_timeout, deadline - now))):
                resp = await send()
        except httpx.UnsupportedProtocol:
            raise
        except trio.TooSlowError:
            error = ApiError(
                0, "timeout", f"no response within {policy.attempt_timeout:g} s from {endpoint}"
            )
            error.cause = FailureCause("timeout", server_address, error.message)
        except httpx.TransportError as exc:
            error = ApiError(0, "network.error", f"{type(exc).__name__}: {exc}"[:300])
            error.cause = failure_cause(exc, server_address)
        else:
            if resp.status_code not in RETRYABLE_STATUS:
                return resp
            retry_after = parse_retry_after(resp.headers)
            error = _error_from_response(resp, retry_after)
        delay = backoff.next_delay(retry_after)
        now = trio.current_time()
        if attempt >= policy.max_attempts or now + delay >= deadline:
            raise error
        if on_event is not None:
            on_event(
                "http.retry",
                {
                    "endpoint": endpoint,
                    "status": error.status,
                    "code": error.code,
                    "attempt": attempt,
                    "delay_s": delay,
                    "retry_after_s": -1.0 if retry_after is None else retry_after,
                    **(error.cause.attributes() if error.cause is not None else {}),
                },
            )
        await trio.sleep(delay)
