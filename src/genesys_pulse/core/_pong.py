"""Matching pongs to pings, so that a late pong is never credited to a later ping.

Two kinds of ping are measured on one connection:

* **Control pings** (RFC 6455 ping frames) carry a payload that the pong
  echoes. Payloads are unique (:func:`control_payload` of the slot index),
  so :class:`ControlPongMatcher` is exact: a pong answers exactly the ping
  whose payload it echoes, and earlier unanswered pings stay pending until
  their own deadline.

* **Application pings** (Genesys ``{"message":"ping"}`` answered by a
  ``channel.metadata`` "pong") carry no correlation id.
  :class:`AppPongMatcher` attributes them with the rule below.

Vocabulary:

pending
    sent, not answered, deadline (``sent + timeout``) not yet passed.
owed
    timed out (already reported as a timeout) but sent less than
    ``horizon`` ago (default ``3 * timeout``): its pong may still arrive late.
    Older owed pings are forgotten (their pong is presumed lost).
late resolution
    a pong credited to an owed ping. It is *informational*: the ping was
    already reported as a timeout and must stay one (do not turn it into an
    RTT sample); record it as a late arrival.

The application rule. Assumption: the server answers pings in order on one
connection (one TCP stream, one server loop), possibly losing some pongs.

1. A pong arriving with no owed ping answers the oldest pending ping
   (RTT = arrival - send). With neither owed nor pending pings it is a
   *stray* (counted in :attr:`AppPongMatcher.strays`).
2. A pong arriving with owed pings and no pending ping is the late pong of
   the oldest owed ping (a late resolution).
3. A pong arriving with owed pings *and* a pending ping is ambiguous: it is
   *held*. With ``a`` owed pings, once ``a + 1`` pongs are held, the first
   ``a`` are the owed pings' late pongs (in order) and the last answers the
   oldest pending ping (RTT from *its* arrival). For the common case of one
   owed ping: a second pong before the pending ping's deadline means the
   first was the late one.
4. If the oldest pending ping's deadline passes while fewer pongs are held,
   some owed pongs were lost: the *last* held pong answers the pending ping
   (RTT = that pong's arrival - send, i.e. the true RTT, although the
   resolution is emitted at the deadline); earlier held pongs are late
   resolutions of the oldest owed pings. Once a pending ping is credited,
   every older owed ping is forgotten (in-order answers: its pong can no
   longer come).
5. If its deadline passes with nothing held, the pending ping times out and
   becomes owed.

Guarantees: a late pong (ping ``k``'s pong arriving after ping ``k+1`` was
sent) is never credited to ``k+1`` when ``k+1``'s own pong arrives before
``k+1``'s deadline; a lost pong causes exactly one timeout (the next pings
are credited normally, no cascade).

Limitation (honest): without correlation ids the attribution is undecidable
when RTT exceeds the probe interval *and* pongs are also lost. If ping ``k``'s
pong is late (after ping ``k+1`` was sent) and ping ``k+1``'s pong is lost,
rule 4 credits ``k``'s late pong to ``k+1`` (with a plausible RTT) and the
loss is charged to ``k``. Likewise, with ``timeout > interval`` and several
pending pings, a lost pong for the older one credits the newer one's pong
to it (FIFO). The same holds for a *sustained* delay longer than the
interval: pong arrival times ``k*interval + d`` (``interval < d``) are
indistinguishable from a single lost pong followed by RTT ``d - interval``,
and rule 4 picks the latter, so the reported RTT is short by one interval
until a pong is lost. (Delays between ``timeout`` and ``interval`` are
attributed exactly: each pong arrives before the next ping is sent.) Probers
that need exact attribution in that regime skip the application ping while
:meth:`AppPongMatcher.awaiting_late` is true; the exact control-frame RTT,
measured on the same connection, also exposes the discrepancy.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

__all__ = [
    "AppPongMatcher",
    "ControlPongMatcher",
    "Resolution",
    "control_payload",
]


@dataclass(frozen=True, slots=True)
class Resolution:
    """What became of one ping.

    Exactly one of: answered in time (``rtt`` set, ``timed_out`` False,
    ``late`` False); timed out (``rtt`` None, ``timed_out`` True); a late
    pong for an already timed-out ping (``rtt`` set, ``late`` True; see the
    module docstring: informational only).
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
    """Attributes Genesys application pongs (no correlation id) to pings.

    Args:
      timeout: seconds after sending at which a ping times out (> 0); the
        caller calls :meth:`on_deadline` then.
      horizon: how long after *sending* a timed-out ping its pong is still
        expected (default ``3 * timeout``; at least ``timeout``).
      max_owed: bound on remembered owed pings (memory bound).
    """

    __slots__ = (
        "_held",
        "_owed",
        "_pending",
        "horizon",
        "late_pongs",
        "lost_pongs",
        "max_owed",
        "strays",
        "timeout",
    )

    def __init__(self, timeout: float, horizon: float | None = None, *, max_owed: int = 64) -> None:
        if not timeout > 0:
            raise ValueError(f"timeout must be > 0, got {timeout}")
        if horizon is None:
            horizon = 3.0 * timeout
        if not horizon >= timeout:
            raise ValueError(f"horizon ({horizon}) must be >= timeout ({timeout})")
        if max_owed < 1:
            raise ValueError("max_owed must be >= 1")
        self.timeout = timeout
        self.horizon = horizon
        self.max_owed = max_owed
        self._pending: deque[tuple[int, float]] = deque()
        self._owed: deque[tuple[int, float]] = deque()
        self._held: list[float] = []
        self.strays = 0
        """Pongs that matched no ping."""
        self.late_pongs = 0
        """Late resolutions emitted."""
        self.lost_pongs = 0
        """Owed pings forgotten without a pong (past the horizon, or overtaken)."""

    @property
    def pending(self) -> int:
        """Pings awaiting an answer within their timeout."""
        return len(self._pending)

    @property
    def owed(self) -> int:
        """Timed-out pings whose pong may still arrive."""
        return len(self._owed)

    @property
    def held(self) -> int:
        """Ambiguous pongs held until they can be attributed."""
        return len(self._held)

    def _expire(self, now: float) -> None:
        owed = self._owed
        horizon = self.horizon
        while owed and owed[0][1] + horizon < now:
            owed.popleft()
            self.lost_pongs += 1

    def awaiting_late(self, now: float) -> bool:
        """True while a timed-out ping's pong may still arrive (an owed ping, or a held pong).

        A prober that skips the application ping of a slot while this is true
        (recording the slot as a timeout, as Genesys's own client never has
        more than one ping outstanding) never creates the ambiguity of rule 3,
        so attribution stays exact even when RTT exceeds the interval.
        """
        if not self._held:
            self._expire(now)
        return bool(self._owed) or bool(self._held)

    def on_sent(self, seq: int, t: float) -> None:
        """Ping ``seq`` was written at ``t``."""
        if not self._held:
            self._expire(t)
        self._pending.append((seq, t))

    def on_pong(self, t: float) -> list[Resolution]:
        """A pong arrived at ``t``; return what it resolved (possibly nothing yet)."""
        if not self._held:
            self._expire(t)
        owed = self._owed
        pending = self._pending
        if not owed:
            if pending:
                seq, sent = pending.popleft()
                return [Resolution(seq, sent, t - sent, False)]
            self.strays += 1
            return []
        if not pending:
            seq, sent = owed.popleft()
            self.late_pongs += 1
            return [Resolution(seq, sent, t - sent, False, True)]
        held = self._held
        held.append(t)
        if len(held) <= len(owed):
            return []
        out = self._late_for_owed(held[:-1])
        seq, sent = pending.popleft()
        out.append(Resolution(seq, sent, t - sent, False))
        return out

    def _late_for_owed(self, pongs: list[float]) -> list[Resolution]:
        """Credit ``pongs`` to the oldest owed pings in order; forget all owed; clear held."""
        owed = self._owed
        out: list[Resolution] = []
        for t in pongs:
            seq, sent = owed.popleft()
            out.append(Resolution(seq, sent, t - sent, False, True))
        self.late_pongs += len(pongs)
        self.lost_pongs += len(owed)
        owed.clear()
        self._held = []
        return out

    def on_deadline(self, seq: int, t: float) -> list[Resolution]:
        """Ping ``seq``'s timeout elapsed at ``t``; return what that resolved.

        Returns ``[]`` if ``seq`` was already answered.
        """
        pending = self._pending
        if pending and pending[0][0] == seq:
            if self._held:
                held = self._held
                out = self._late_for_owed(held[:-1])
                _, sent = pending.popleft()
                out.append(Resolution(seq, sent, held[-1] - sent, False))
                return out
            _, sent = pending.popleft()
        else:
            for i, entry in enumerate(pending):
                if entry[0] == seq:
                    sent = entry[1]
                    del pending[i]
                    break
            else:
                return []
        self._owed.append((seq, sent))
        if len(self._owed) > self.max_owed:
            self._owed.popleft()
            self.lost_pongs += 1
        return [Resolution(seq, sent, None, True)]

    def close(self) -> list[Resolution]:
        """The connection ended: time out every pending ping and forget all state."""
        out = [Resolution(seq, sent, None, True) for seq, sent in self._pending]
        self._pending.clear()
        self._owed.clear()
        self._held = []
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
        recognised (default ``3 * timeout``).
      max_owed: bound on remembered timed-out pings.
    """

    __slots__ = ("_owed", "_pending", "_seq_payload", "horizon", "late_pongs", "max_owed", "strays")

    def __init__(self, timeout: float, horizon: float | None = None, *, max_owed: int = 64) -> None:
        if not timeout > 0:
            raise ValueError(f"timeout must be > 0, got {timeout}")
        self.horizon = 3.0 * timeout if horizon is None else horizon
        self.max_owed = max_owed
        self._pending: dict[bytes, tuple[int, float]] = {}
        self._seq_payload: dict[int, bytes] = {}
        self._owed: dict[bytes, tuple[int, float]] = {}
        self.strays = 0
        self.late_pongs = 0

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

    def _expire(self, now: float) -> None:
        owed = self._owed
        horizon = self.horizon
        while owed:
            payload = next(iter(owed))
            if owed[payload][1] + horizon >= now:
                break
            del owed[payload]

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
        return Resolution(seq, sent, None, True)

    def close(self) -> list[Resolution]:
        """The connection ended: time out every pending ping and forget all state."""
        out = [Resolution(seq, sent, None, True) for seq, sent in self._pending.values()]
        self._pending.clear()
        self._seq_payload.clear()
        self._owed.clear()
        return out
