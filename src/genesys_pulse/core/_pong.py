"""Matching pongs to pings, so that a late pong is never credited to a later ping.

Two kinds of ping are measured on one connection:

* **Control pings** (RFC 6455 ping frames) carry a payload that the pong
  echoes. Payloads are unique (:func:`control_payload` of the slot index),
  so :class:`ControlPongMatcher` is exact: a pong answers exactly the ping
  whose payload it echoes, and earlier unanswered pings stay pending until
  their own deadline; a pong for a timed-out ping is that ping's *late*
  answer, whatever was sent since.

* **Application pings** (Genesys ``{"message":"ping"}`` answered by a
  ``channel.metadata`` "pong") carry no correlation id.
  :class:`AppPongMatcher` attributes them by **stop-and-wait**.

Vocabulary:

pending
    sent, not answered, deadline (``sent + timeout``, decided by the caller's
    :meth:`on_deadline`) not yet passed.
owed
    timed out (already reported as a timeout) and sent less than ``horizon``
    ago: its pong may still arrive late. Past the horizon (or when the
    connection is replaced, which discards the matcher) it is declared
    *lost*.
late answer
    a pong credited to an owed ping: the ping stays a timeout, and the pong's
    true RTT (arrival - send) is reported beside it as a *late* RTT.

The application rule (stop-and-wait). Assumption: the server answers pings
in order on one connection (one TCP stream, one server loop), possibly losing
some pongs.

1. At most one application ping is outstanding (pending or owed). A prober
   asks :meth:`AppPongMatcher.may_send` before each slot; while a ping is
   owed it sends *no* application ping and records the slot as a timeout
   with the reason "previous ping unanswered" (:data:`PREVIOUS_UNANSWERED`).
2. A pong answers the one outstanding ping: in time if it is still pending,
   late (true RTT) if it is owed. With nothing outstanding it is a *stray*.
3. An owed ping is declared lost once ``horizon`` has passed since it was
   sent (default :data:`LOSS_HORIZON_FACTOR` ``x timeout``); only then may
   the next application ping be sent.

Why this shape: with at most one ping outstanding, "which ping does this pong
answer" has exactly one candidate, so no in-order delay -- shorter or longer
than the interval, constant or varying -- can make a pong be credited to a
ping other than its own. The alternatives were studied: crediting the oldest
pending ping once an owed ping's deadline passed (the previous rule here) is
fooled by any sustained delay longer than the interval (every pong is
credited to the next ping, RTT short by one interval), and dithered send
times with consistency scoring only make the wrong pairing *unlikely*, not
impossible. Genesys's own client never has more than one ping outstanding
either.

Why 10 x timeout for the horizon: with timeout <= interval (the config rule),
a pong 10 timeouts late is far beyond any RTT the thresholds care about, and
the horizon bounds what a lost pong costs; a horizon as long as the heartbeat
period (30 s) would hold the application probe for 30 slots per lost pong at
the default interval, with no gain in exactness for delays the monitor can
still call "late" rather than "lost".

The price (the one remaining limit): a pong that never comes blocks the
application probe until the horizon, so one dropped pong costs
``ceil(horizon / interval)`` timed-out slots when the horizon exceeds the
interval (one slot when ``10 x timeout <= interval``); and a pong that
arrives *after* the horizon *and* after the next ping was sent is credited to
that next ping. That case is visible: the next ping's own pong then arrives
with nothing outstanding and is counted as a stray
(:attr:`AppPongMatcher.strays`).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "LOSS_HORIZON_FACTOR",
    "PREVIOUS_UNANSWERED",
    "AppPongMatcher",
    "ControlPongMatcher",
    "Resolution",
    "control_payload",
]


LOSS_HORIZON_FACTOR = 10.0
"""An owed ping is declared lost ``LOSS_HORIZON_FACTOR x timeout`` after it was sent."""

PREVIOUS_UNANSWERED = "previous_ping_unanswered"
"""Timeout reason of an application slot that sent nothing: the previous ping was still owed."""


@dataclass(frozen=True, slots=True)
class Resolution:
    """What became of one ping.

    Exactly one of: answered in time (``rtt`` set, ``timed_out`` False,
    ``late`` False); timed out (``rtt`` None, ``timed_out`` True); the late
    answer of an already timed-out ping (``rtt`` set to its true RTT,
    ``late`` True: the ping stays a timeout, the RTT is reported beside it).
    """

    seq: int
    sent: float
    rtt: float | None
    timed_out: bool
    late: bool = False


def control_payload(seq: int) -> bytes:
    """The unique control-ping payload for slot ``seq`` (ASCII digits, <= 125 bytes)."""
    return b"gp%d" % seq


class AppPongMatcher:
    """Attributes Genesys application pongs (no correlation id) by stop-and-wait.

    See the module docstring for the rule and its one limit.

    Args:
      timeout: seconds after sending at which a ping times out (> 0); the
        caller calls :meth:`on_deadline` then.
      horizon: how long after *sending* an owed ping its pong is still
        expected (default ``LOSS_HORIZON_FACTOR * timeout``; at least
        ``timeout``). Until then no new application ping may be sent.
    """

    __slots__ = (
        "_owed",
        "_sent",
        "_seq",
        "horizon",
        "late_pongs",
        "lost_pongs",
        "strays",
        "timeout",
    )

    def __init__(self, timeout: float, horizon: float | None = None) -> None:
        if not timeout > 0:
            raise ValueError(f"timeout must be > 0, got {timeout}")
        if horizon is None:
            horizon = LOSS_HORIZON_FACTOR * timeout
        if not horizon >= timeout:
            raise ValueError(f"horizon ({horizon}) must be >= timeout ({timeout})")
        self.timeout = timeout
        self.horizon = horizon
        self._seq: int | None = None
        self._sent = 0.0
        self._owed = False
        self.strays = 0
        """Pongs that arrived with no ping outstanding."""
        self.late_pongs = 0
        """Late answers (pongs of owed pings)."""
        self.lost_pongs = 0
        """Owed pings declared lost (past the horizon, or discarded by :meth:`close`)."""

    @property
    def pending(self) -> int:
        """1 while a ping awaits its answer within its timeout, else 0."""
        return int(self._seq is not None and not self._owed)

    @property
    def owed(self) -> int:
        """1 while a timed-out ping's pong may still arrive, else 0."""
        return int(self._seq is not None and self._owed)

    def _expire(self, now: float) -> None:
        if self._owed and self._sent + self.horizon <= now:
            self._seq = None
            self._owed = False
            self.lost_pongs += 1

    def may_send(self, now: float) -> bool:
        """True when nothing is outstanding at ``now`` (an owed ping past the horizon is lost)."""
        self._expire(now)
        return self._seq is None

    def awaiting_late(self, now: float) -> bool:
        """True while a timed-out ping's pong may still arrive (within the horizon)."""
        self._expire(now)
        return self._owed

    def on_sent(self, seq: int, t: float) -> None:
        """Ping ``seq`` is being written at ``t`` (register before writing).

        Raises ValueError if a ping is still outstanding (stop-and-wait).
        """
        self._expire(t)
        if self._seq is not None:
            raise ValueError("stop-and-wait: an application ping is still outstanding")
        self._seq = seq
        self._sent = t
        self._owed = False

    def refine_sent(self, seq: int, t: float) -> None:
        """The write of ping ``seq`` completed at ``t``: RTTs count from ``t`` (if still held)."""
        if self._seq == seq:
            self._sent = t

    def on_pong(self, t: float) -> Resolution | None:
        """A pong arrived at ``t``: the answer of the one outstanding ping, or a stray (None)."""
        self._expire(t)
        seq = self._seq
        if seq is None:
            self.strays += 1
            return None
        sent = self._sent
        late = self._owed
        self._seq = None
        self._owed = False
        if late:
            self.late_pongs += 1
        return Resolution(seq, sent, t - sent, False, late)

    def on_deadline(self, seq: int, t: float) -> Resolution | None:
        """Ping ``seq``'s timeout elapsed at ``t``: its timeout (it becomes owed), or None."""
        if self._seq != seq or self._owed:
            return None
        self._owed = True
        return Resolution(seq, self._sent, None, True)

    def close(self) -> list[Resolution]:
        """The connection ended: time out a pending ping, declare an owed one lost, forget both."""
        out: list[Resolution] = []
        if self._seq is not None:
            if self._owed:
                self.lost_pongs += 1
            else:
                out.append(Resolution(self._seq, self._sent, None, True))
        self._seq = None
        self._owed = False
        return out


class ControlPongMatcher:
    """Matches RFC 6455 pongs to pings by their unique payload (exact).

    A pong answers exactly the ping whose payload it echoes; earlier
    unanswered pings stay pending until their own deadline. A pong for a
    timed-out ping within ``horizon`` of its sending is a late resolution;
    any other pong is a stray.

    Args:
      timeout: seconds after sending at which a ping times out (> 0).
      horizon: how long after sending a timed-out ping's pong is still
        recognised (default ``LOSS_HORIZON_FACTOR * timeout``).
      max_owed: bound on remembered timed-out pings.
    """

    __slots__ = (
        "_owed",
        "_pending",
        "_seq_payload",
        "horizon",
        "late_pongs",
        "lost_pongs",
        "max_owed",
        "strays",
    )

    def __init__(self, timeout: float, horizon: float | None = None, *, max_owed: int = 64) -> None:
        if not timeout > 0:
            raise ValueError(f"timeout must be > 0, got {timeout}")
        self.horizon = LOSS_HORIZON_FACTOR * timeout if horizon is None else horizon
        self.max_owed = max_owed
        self._pending: dict[bytes, tuple[int, float]] = {}
        self._seq_payload: dict[int, bytes] = {}
        self._owed: dict[bytes, tuple[int, float]] = {}
        self.strays = 0
        self.late_pongs = 0
        self.lost_pongs = 0
        """Timed-out pings forgotten without a pong (past the horizon, or beyond ``max_owed``)."""

    @property
    def pending(self) -> int:
        """Pings awaiting their pong within their timeout."""
        return len(self._pending)

    def on_sent(self, seq: int, t: float, payload: bytes | None = None) -> bytes:
        """Ping ``seq`` was written at ``t`` with ``payload`` (default :func:`control_payload`).

        Returns the payload. Raises ValueError if the payload is already outstanding.
        """
        if payload is None:
            payload = control_payload(seq)
        if payload in self._pending:
            raise ValueError("control ping payloads must be unique")
        self._expire(t)
        self._pending[payload] = (seq, t)
        self._seq_payload[seq] = payload
        return payload

    def refine_sent(self, seq: int, t: float) -> None:
        """The write of ping ``seq`` completed at ``t``: its RTT counts from ``t`` (if pending)."""
        payload = self._seq_payload.get(seq)
        if payload is not None:
            self._pending[payload] = (seq, t)

    def _expire(self, now: float) -> None:
        owed = self._owed
        horizon = self.horizon
        while owed:
            payload = next(iter(owed))
            if owed[payload][1] + horizon >= now:
                break
            del owed[payload]
            self.lost_pongs += 1

    def on_pong(self, payload: bytes, t: float) -> Resolution | None:
        """A pong echoing ``payload`` arrived at ``t``."""
        entry = self._pending.pop(payload, None)
        if entry is not None:
            seq, sent = entry
            del self._seq_payload[seq]
            return Resolution(seq, sent, t - sent, False)
        self._expire(t)
        entry = self._owed.pop(payload, None)
        if entry is not None:
            seq, sent = entry
            self.late_pongs += 1
            return Resolution(seq, sent, t - sent, False, True)
        self.strays += 1
        return None

    def on_deadline(self, seq: int, t: float) -> Resolution | None:
        """Ping ``seq``'s timeout elapsed at ``t``: its timeout, or ``None`` if answered."""
        payload = self._seq_payload.pop(seq, None)
        if payload is None:
            return None
        _, sent = self._pending.pop(payload)
        self._owed[payload] = (seq, sent)
        if len(self._owed) > self.max_owed:
            del self._owed[next(iter(self._owed))]
            self.lost_pongs += 1
        return Resolution(seq, sent, None, True)

    def close(self) -> list[Resolution]:
        """The connection ended: time out every pending ping and forget all state."""
        out = [Resolution(seq, sent, None, True) for seq, sent in self._pending.values()]
        self._pending.clear()
        self._seq_payload.clear()
        self._owed.clear()
        return out
