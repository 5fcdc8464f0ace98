"""The probing half of a target: absolute-deadline slots, samples, statistics, thresholds.

A :class:`TargetProbe` owns everything that belongs to the *target* rather
than to one connection: the schedule, the statistics, the threshold machines,
the window events and the target's connection state. Its supervisor (Genesys
or plain WebSocket) tells it what happens to the connection through methods
(:meth:`TargetProbe.install_link`, :meth:`~TargetProbe.link_lost`,
:meth:`~TargetProbe.backing_off`, ...); nothing outside writes its fields.
The probe sends on whichever link is current when a slot comes due.

No task per target: the monitor's :class:`~genesys_pulse.monitor._driver.Driver`
owns every target's timers (slot starts and deadlines, in one core
:class:`~genesys_pulse.core.TimerHeap`) and calls :meth:`TargetProbe.on_timer`;
a slot's frames are written at once (one write per connection, without
waiting when the socket's send buffer has room, else by the connection's
writer task), and the link's reader calls :meth:`TargetProbe.slot_progress`
when an answer completes the slot, which the driver then records on its next
turn (see ``monitor/_driver.py`` for why not in the reader).

Why one module of this size: a slot's life (start, write, answers, deferred
application ping, deadline, resolution) and the statistics and threshold
machines it feeds share the probe's state at every step; split across modules
they would write each other's fields again, which is what the ownership rule
above removed.

Slot rules (also summarised in ARCHITECTURE.md, ``monitor``):

* Slot ``k`` is due at ``start + phase + k * interval`` (core
  :class:`~genesys_pulse.core._schedule.ProbeSchedule`); nothing a probe does
  moves a later slot.
* A probe's deadline is ``max(due, sent) + timeout`` but never later than the
  next slot's due time, so a slot is always resolved before the next one
  starts and ``timeout == interval`` cannot make the schedule slip.
* A lost pong is a timed-out sample (``rtt_s=None, timed_out=True``), never a
  missing one.
* **Unanswered slot while disconnected**: when no link is usable (connecting,
  backing off), each enabled probe kind records a timed-out sample with
  ``sent_mono=None``. It counts against stability and the timeout ratio,
  except when the disconnection is *planned* (the server announced it with
  ``v2.system.socket_closing``, or a rotation is in progress): those slots
  are still recorded as timed-out samples (so the slot is never missing) but
  are excluded from the stability window and not fed to the threshold
  machines.
* **Local stalls**: a slot whose send was late by more than the stall
  threshold, or during which the event-loop lag task saw a stall, is flagged
  ``local_stall=True``; such samples are kept in the histograms and counts but
  are kept out of the stability window and are not fed to the threshold machines (a stalled host must not page the network
  team); a ``local_stall`` event is emitted per stall instead. Slots that a
  stall longer than the interval swallowed are recorded as timed-out samples
  flagged ``local_stall``.
* **Stability** is fed to its threshold machine only once the sliding
  window holds ``ceil(1 / (1 - critical))`` slots (40 with the default 0.975),
  so that a single miss in the first seconds does not raise a critical alert.
* **Dead link**: :data:`DEAD_AFTER` consecutive slots in which every probe sent
  on the link timed out (not during a local stall), or heartbeat silence
  beyond the critical heartbeat threshold, declares the link dead; the
  supervisor then reconnects (Genesys's own client disconnects after the 2nd
  consecutive miss; we wait for the 3rd so that the consecutive-timeout
  threshold can be reported first).
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any

import trio

from genesys_pulse.core import (
    PREVIOUS_UNANSWERED,
    RANK_DEADLINE,
    RANK_DUE,
    Direction,
    ProbeSchedule,
    ThresholdMachine,
    Transition,
    first_window_end,
)
from genesys_pulse.core.config import TargetConfig
from genesys_pulse.core.model import AttrValue, Event, ProbeKind, Sample
from genesys_pulse.transport import ConnectionClosed, ping_frame, text_frame

from ._dispatch import Dispatcher
from ._link import Link
from ._looplag import LoopLag
from ._stats import KindStats

if TYPE_CHECKING:
    from ._driver import Driver

__all__ = ["DEAD_AFTER", "TargetProbe"]

DEAD_AFTER = 3
"""Consecutive all-lost slots after which a link is declared dead."""

STARTUP_GRACE = 15.0
"""Seconds the first slot waits for the first connection (one connect timeout)."""


class _KindState:
    """Statistics and threshold machines of one probe kind of one target."""

    __slots__ = ("consecutive", "kind", "machines", "min_stability_slots", "stats")

    def __init__(self, kind: ProbeKind, cfg: TargetConfig) -> None:
        th = cfg.thresholds
        hy = th.hysteresis
        self.kind = kind
        critical = (
            th.rtt_control.critical if kind is ProbeKind.CONTROL else th.rtt_application.critical
        )
        period = cfg.heartbeat_period if kind is ProbeKind.HEARTBEAT else None
        self.stats = KindStats(cfg.stability_window, critical, period)
        self.consecutive = 0
        # A ratio over a handful of slots is noise: the stability machine sees
        # values once the window holds enough slots for one miss to stay above
        # the critical level, i.e. ceil(1 / (1 - critical)) (40 for 0.975).
        crit = th.stability.critical
        need = math.ceil(1.0 / (1.0 - crit)) if crit < 1.0 else cfg.stability_window
        self.min_stability_slots = min(cfg.stability_window, need)
        self.machines: dict[str, ThresholdMachine] = {}
        if kind is ProbeKind.HEARTBEAT:
            self.machines["heartbeat_silence"] = ThresholdMachine.from_levels(
                "heartbeat_silence", th.heartbeat_silence, hy
            )
            return
        rtt = th.rtt_control if kind is ProbeKind.CONTROL else th.rtt_application
        self.machines["rtt"] = ThresholdMachine.from_levels("rtt", rtt, hy)
        self.machines["jitter"] = ThresholdMachine.from_levels("jitter", th.jitter, hy)
        self.machines["stability"] = ThresholdMachine.from_levels(
            "stability", th.stability, hy, direction=Direction.LOWER_IS_WORSE
        )
        self.machines["consecutive_timeouts"] = ThresholdMachine.from_levels(
            "consecutive_timeouts", th.consecutive_timeouts, hy
        )


class _Slot:
    """The probe slot in flight on one target (at most one: its deadline is capped
    by the next slot's due time)."""

    __slots__ = (
        "app",
        "app_in_write",
        "control",
        "deadline",
        "deferred",
        "dl_a",
        "dl_c",
        "due",
        "k",
        "late",
        "link",
        "lost_a",
        "lost_c",
        "next_due",
        "poked",
        "probe",
        "queued",
        "sending",
        "sent_a",
        "sent_c",
        "t0",
        "t0_a",
    )

    def __init__(
        self,
        probe: TargetProbe,
        k: int,
        due: float,
        next_due: float,
        link: Link,
        control: bool,
        app: bool,
        t0: float,
        late: bool,
    ) -> None:
        self.probe = probe
        self.k = k
        self.due = due
        self.next_due = next_due
        self.link = link
        self.control = control
        self.app = app
        self.t0 = t0
        self.t0_a = t0
        self.late = late
        self.deferred = False
        self.app_in_write = False
        self.sending = False
        """A write of this slot is queued and not yet stamped."""
        self.poked = False
        """The link reported progress while a write was queued."""
        self.queued = False
        """Every answer came: the driver records the slot on its next turn."""
        self.sent_c: float | None = None
        self.sent_a: float | None = None
        self.dl_c = next_due
        self.dl_a = next_due
        self.deadline = next_due
        self.lost_c = 0
        self.lost_a = 0

    def on_first_written(self, t: float) -> None:
        self.probe._first_written(self, t)

    def on_deferred_written(self, t: float) -> None:
        self.probe._deferred_written(self, t)


class TargetProbe:
    """Schedule, statistics, thresholds and connection state of one target.

    Args:
      cfg: the target's configuration.
      phase: offset of slot 0 within the interval (staggering).
      dispatcher: where samples and events go.
      looplag: the monitor's event-loop lag tracker.
      heartbeats: whether the target's server sends heartbeats (Genesys).
      driver: the monitor's driver, which calls :meth:`on_timer` (``None``:
        the probe is never scheduled; tests that feed a link by hand).
    """

    def __init__(
        self,
        cfg: TargetConfig,
        *,
        phase: float,
        dispatcher: Dispatcher,
        looplag: LoopLag,
        window: float,
        heartbeats: bool,
        driver: Driver | None = None,
    ) -> None:
        self.cfg = cfg
        self.id = cfg.id
        self.phase = phase
        self._d = dispatcher
        self._lag = looplag
        self._window = window
        self._driver = driver
        self.heartbeats = heartbeats
        self._link: Link | None = None
        self.kinds: list[ProbeKind] = []
        ws = cfg.websocket
        control = cfg.control_pings and (ws is None or ws.control_pings)
        # a plain WebSocket target has an application probe only with an echo message
        app = cfg.application_pings and (ws is None or ws.echo_message is not None)
        if control:
            self.kinds.append(ProbeKind.CONTROL)
        if app:
            self.kinds.append(ProbeKind.APPLICATION)
        self.state: dict[ProbeKind, _KindState] = {
            k: _KindState(k, cfg) for k in (*self.kinds, ProbeKind.HEARTBEAT)
        }
        self._connected = trio.Event()
        self.first_slot = 0
        self._planned_outage = False
        self.schedule: ProbeSchedule | None = None
        self.slots_done = 0
        self.heartbeat_seq = 0
        self._state = "connecting"
        self._last_backoff: tuple[str, str, float] | None = None
        echo = ws.echo_message if ws is not None else None
        self.app_message: str = echo if echo is not None else '{"message":"ping"}'
        """The application ping (a plain WebSocket target's echo message)."""
        self._app_bytes = self.app_message.encode("utf-8")
        self.lost_reported = False
        self._window_end = math.inf
        """When the current summary window ends (set by :meth:`begin`)."""
        self._window_start = 0.0
        # the driver's timers (a timer is live while its generation is current)
        self._due_gen = 0
        self._dl_gen = 0
        self._next_k: int | None = None
        """The next slot to start (``None`` until the first connection or the grace's end)."""
        self._slot: _Slot | None = None
        self._stopped = False

    # -- the connection state (the supervisor reports, the probe owns) ----------

    @property
    def link(self) -> Link | None:
        """The current link (new slots are sent on it), or ``None``."""
        return self._link

    @property
    def connected(self) -> trio.Event:
        """Set when the first link is installed."""
        return self._connected

    @property
    def planned_outage(self) -> bool:
        """A planned disconnection (announced close, rotation) is in progress."""
        return self._planned_outage

    @property
    def connection_state(self) -> str:
        """``connecting``, ``connected``, ``rotating``, ``reconnecting``, ``backoff``,
        ``stopped`` or ``auth_refused``."""
        return self._state

    @property
    def last_backoff(self) -> tuple[str, str, float] | None:
        """The latest reported back-off: (reason, error type, monotonic time of the next attempt)."""
        return self._last_backoff

    def install_link(self, link: Link) -> None:
        """``link`` is current: new slots go to it; a planned outage is over."""
        self._link = link
        self._planned_outage = False
        self._state = "connected"
        if not self._connected.is_set():
            self._connected.set()
            if self._next_k is None and self.schedule is not None and not self._stopped:
                self._first_slot(trio.current_time())

    def link_lost(self, link: Link, *, planned: bool) -> None:
        """The current ``link`` died; ``planned``: the server announced it (a planned outage)."""
        if self._link is link:
            self._link = None
        self._planned_outage = planned
        self._state = "reconnecting"

    def rotating(self) -> None:
        """A make-before-break rotation started (the current link still probes)."""
        self._state = "rotating"

    def backing_off(self, reason: str, error: str, until: float) -> None:
        """The supervisor waits until ``until`` (monotonic) before its next attempt."""
        self._state = "backoff"
        self._last_backoff = (reason, error, until)

    def connecting(self) -> None:
        """The supervisor is (re)connecting."""
        self._state = "connecting"

    def auth_refused(self) -> None:
        """The target's credentials were refused: it stops."""
        self._state = "auth_refused"

    # -- emitting ------------------------------------------------------------

    def event(self, name: str, **attrs: AttrValue) -> None:
        """Emit one event of this target."""
        self._d.event(Event(self.id, name, time.time(), attrs))

    def _transition(self, kind: ProbeKind, tr: Transition | None) -> None:
        if tr is None:
            return
        value: AttrValue = "timeout" if tr.value is None else tr.value
        self._d.event(
            Event(
                self.id,
                tr.event_name,
                time.time(),
                {
                    "metric": tr.metric,
                    "probe": kind.value,
                    "level": tr.to_level.name.lower(),
                    "from": tr.from_level.name.lower(),
                    "value": value,
                },
            )
        )

    def record(
        self,
        kind: ProbeKind,
        k: int,
        due: float,
        sent: float | None,
        rtt: float | None,
        at: float,
        *,
        stalled: bool,
        planned: bool = False,
        reason: str = "no_answer",
        rtt_level: bool = True,
    ) -> Sample:
        """Account for one probe slot (control/application), build its sample, deliver it.

        ``rtt_level=False`` keeps a timed-out slot away from the RTT threshold
        machine: a ping that was sent and timed out is observed there once,
        later -- by its late RTT, or as a timeout when it is declared lost --
        and a slot that sent nothing because the previous ping is owed has no
        RTT of its own. The timeout counter, stability and the
        consecutive-timeout level take the slot at once.
        """
        st = self.state[kind]
        ipdv = st.stats.record(rtt, planned=planned, local_stall=stalled)
        timed_out = rtt is None
        sample = Sample(
            self.id,
            kind,
            k,
            due,
            sent,
            rtt,
            timed_out,
            at,
            jitter_s=ipdv,
            local_stall=stalled,
            timeout_reason=reason if timed_out else None,
        )
        if not (planned or stalled):
            m = st.machines
            st.consecutive = st.consecutive + 1 if timed_out else 0
            if rtt_level or not timed_out:
                self._transition(kind, m["rtt"].observe(rtt))
            if ipdv is not None:
                self._transition(kind, m["jitter"].observe(ipdv))
            self._transition(kind, m["consecutive_timeouts"].observe(float(st.consecutive)))
            stability = st.stats.stability()
            if stability is not None and st.stats.stability_slots >= st.min_stability_slots:
                self._transition(kind, m["stability"].observe(stability))
        self._d.sample(sample)
        return sample

    def record_heartbeat(self, sample: Sample) -> None:
        """Account for one heartbeat-gap sample and deliver it."""
        st = self.state[ProbeKind.HEARTBEAT]
        assert sample.gap_s is not None
        st.stats.record_gap(
            sample.gap_s, timed_out=sample.timed_out, local_stall=sample.local_stall
        )
        if not sample.local_stall:
            self._transition(
                ProbeKind.HEARTBEAT, st.machines["heartbeat_silence"].observe(sample.gap_s)
            )
        self._d.sample(sample)

    # -- heartbeats ------------------------------------------------------------

    def on_heartbeat(self, link: Link, t: float) -> None:
        """A heartbeat arrived on ``link`` at ``t`` (called from the reader)."""
        prev = link.last_heartbeat
        link.last_heartbeat = t
        link.heartbeats += 1
        link.silence_reported = False
        if prev is None or link is not self._link:
            return  # the first heartbeat of a connection has no gap
        gap = t - prev
        crit = self.cfg.thresholds.heartbeat_silence.critical
        self.heartbeat_seq += 1
        self.record_heartbeat(
            Sample(
                self.id,
                ProbeKind.HEARTBEAT,
                self.heartbeat_seq,
                prev,
                None,
                None,
                gap > crit,
                time.time(),
                local_stall=self._lag.stalled_during(prev, t),
                gap_s=gap,
            )
        )

    def check_silence(self, now: float) -> None:
        """Report heartbeat silence on the current link beyond the critical level."""
        link = self._link
        if not self.heartbeats or link is None or link.silence_reported or not link.usable:
            return
        since = link.last_heartbeat if link.last_heartbeat is not None else link.opened_at
        silence = now - since
        if silence <= self.cfg.thresholds.heartbeat_silence.critical:
            return
        link.silence_reported = True
        stalled = self._lag.stalled_during(since, now)
        self.heartbeat_seq += 1
        self.record_heartbeat(
            Sample(
                self.id,
                ProbeKind.HEARTBEAT,
                self.heartbeat_seq,
                since,
                None,
                None,
                True,
                time.time(),
                local_stall=stalled,
                gap_s=silence,
            )
        )
        if not stalled:
            self.event("timeout", probe=ProbeKind.HEARTBEAT.value, silence_s=silence)
            link.declare_dead("heartbeat_silence")

    # -- the schedule (driven by the monitor's Driver) -----------------------

    def begin(self, start: float, now: float) -> None:
        """Take part in the absolute schedule starting at ``start`` (``now``: the current time).

        Start-up: the target's first slot is the first one due after its first
        connection (or after :data:`STARTUP_GRACE` if it cannot connect: from
        then on every slot is recorded, answered or not).
        """
        cfg = self.cfg
        self.schedule = ProbeSchedule(start, cfg.interval, self.phase)
        self._window_start = start
        self._window_end = first_window_end(start, self._window, self.phase, cfg.interval)
        self._next_k = None
        if self._connected.is_set():
            self._first_slot(now)
        else:
            self._arm_due(now + STARTUP_GRACE)

    def stop(self, *, auth_refused: bool = False) -> None:
        """The target stopped: no more slots; the connection state says why."""
        self._stopped = True
        self._due_gen += 1
        self._dl_gen += 1
        slot = self._slot
        if slot is not None:
            self._slot = None
            if slot.link is not None:
                slot.link.end_slot()
        self._link = None
        self._state = "auth_refused" if auth_refused else "stopped"

    def timer_live(self, rank: int, generation: int) -> bool:
        """Whether a timer of this probe (``rank``, ``generation``) still counts."""
        if self._stopped:
            return False
        return generation == (self._dl_gen if rank == RANK_DEADLINE else self._due_gen)

    def on_timer(self, rank: int, now: float) -> None:
        """A live timer of this probe came due (called by the driver)."""
        if rank == RANK_DEADLINE:
            slot = self._slot
            if slot is not None:
                # a write still blocked at the deadline: the stream is unusable
                self._resolve(slot, now, send_stalled=slot.sending)
            return
        k = self._next_k
        sched = self.schedule
        assert sched is not None
        if k is None:
            self._first_slot(now)  # the start-up grace ended without a connection
            return
        due = sched.due(k)
        if now - due > self.cfg.interval:
            # a local stall swallowed whole slots: record them, never skip silently
            latest = sched.next_slot(now)
            if sched.due(latest) > now:
                latest -= 1
            for m in range(k, latest):
                self._missed_slot(m, sched.due(m))
            k = latest
            due = sched.due(k)
        self._start_slot(k, due, sched.due(k + 1), now, late=now - due > self._lag.threshold)

    def _arm_due(self, when: float) -> None:
        self._due_gen += 1
        if self._driver is not None and not self._stopped:
            self._driver.at(when, RANK_DUE, self, self._due_gen)

    def _arm_deadline(self, slot: _Slot, when: float) -> None:
        slot.deadline = when
        self._dl_gen += 1
        if self._driver is not None:
            self._driver.at(when, RANK_DEADLINE, self, self._dl_gen)

    def _first_slot(self, now: float) -> None:
        sched = self.schedule
        assert sched is not None
        k = sched.next_slot(now)
        self.first_slot = k
        self._next_k = k
        self._arm_due(sched.due(k))

    def _after_slot(self, k: int, due: float, now: float) -> None:
        """What follows every slot: progress, heartbeat silence, the window, the next slot."""
        self.slots_done = k + 1 - self.first_slot
        if self.heartbeats:
            self.check_silence(now)
        if due >= self._window_end:
            self._emit_window()
        if self._stopped:
            return
        self._next_k = k + 1
        sched = self.schedule
        assert sched is not None
        self._arm_due(sched.due(k + 1))

    def _emit_window(self) -> None:
        end = self._window_end
        attrs: dict[str, AttrValue] = {"window_s": round(end - self._window_start, 6)}
        self._window_start = end
        self._window_end = end + self._window
        for kind, st in self.state.items():
            st.stats.window_summary_into(attrs, kind.value + ".")  # keys built once per kind
        self._d.event(Event(self.id, "window", time.time(), attrs))

    def _missed_slot(self, k: int, due: float) -> None:
        at = time.time()
        for kind in self.kinds:
            self.record(kind, k, due, None, None, at, stalled=True, reason="local_stall")

    def _disconnected_slot(self, k: int, due: float) -> None:
        at = time.time()
        planned = self._planned_outage
        stalled = self._lag.stalled_during(due, due)
        for kind in self.kinds:
            self.record(
                kind,
                k,
                due,
                None,
                None,
                at,
                stalled=stalled,
                planned=planned,
                reason="not_connected",
            )

    # -- one slot: start, writes, answers, deadline -----------------------------

    def _start_slot(self, k: int, due: float, next_due: float, now: float, *, late: bool) -> None:
        link = self._link
        if link is None or not link.usable:
            self._disconnected_slot(k, due)
            self._after_slot(k, due, now)
            return
        kinds = self.kinds
        control = ProbeKind.CONTROL in kinds
        app = ProbeKind.APPLICATION in kinds
        slot = _Slot(self, k, due, next_due, link, control, app, now, late)
        slot.lost_c, slot.lost_a = link.control.lost_pongs, link.app.lost_pongs
        # Stop-and-wait (core _pong): while the previous application ping is
        # owed, this slot's is deferred until its pong arrives (within the slot)
        app_now = app and link.app.may_send(now)
        slot.deferred = app and not app_now
        link.begin_slot(k, int(control) + int(app), self, app_deferred=slot.deferred)
        self._slot = slot
        # Register before writing: the pong can be read before the write is stamped.
        data = b""
        if control:
            data = ping_frame(link.control.on_sent(k, now))
        if app_now:
            link.app.on_sent(k, now)
            slot.app_in_write = True
            data += self._app_frame()
        if not data:
            # nothing to send (the application ping is deferred, no control probe)
            self._arm_deadline(slot, min(max(due, now) + self.cfg.timeout, next_due))
            return
        # one write for both frames
        slot.sending = True
        try:
            t = link.send(data, slot.on_first_written)
        except ConnectionClosed:
            slot.sending = False
            self._resolve(slot, now)
            return
        if t is not None:
            self._first_written(slot, t)
        else:
            # queued: until it is stamped the slot may wait for the next due time
            # (then the write is declared stalled)
            self._arm_deadline(slot, next_due)

    def _app_frame(self) -> bytes:
        """The application ping as a client frame (a fresh masking key per frame)."""
        return text_frame(self._app_bytes)

    def _first_written(self, slot: _Slot, t: float) -> None:
        """The slot's first write went out at ``t``: deadlines from the true send time."""
        if slot is not self._slot:
            return  # resolved meanwhile (the link died)
        slot.sending = False
        link = slot.link
        timeout = self.cfg.timeout
        due, next_due, k = slot.due, slot.next_due, slot.k
        if slot.control:
            slot.sent_c = t
            link.control.refine_sent(k, t)
            slot.dl_c = min(max(due, t) + timeout, next_due)
        if slot.app_in_write:
            slot.app_in_write = False
            slot.sent_a = t
            link.app.refine_sent(k, t)
            slot.dl_a = min(max(due, t) + timeout, next_due)
        self._arm_deadline(slot, min(max(due, t) + timeout, next_due))
        if slot.poked:
            self.slot_progress(link)

    def _deferred_written(self, slot: _Slot, t: float) -> None:
        """The deferred application ping went out at ``t``."""
        if slot is not self._slot:
            return
        slot.sending = False
        link = slot.link
        link.app.refine_sent(slot.k, t)
        slot.sent_a = t
        slot.dl_a = min(t + self.cfg.timeout, slot.next_due)
        if slot.dl_a > slot.deadline:
            self._arm_deadline(slot, slot.dl_a)
        if slot.poked:
            self.slot_progress(link)

    def slot_progress(self, link: Link) -> None:
        """Every answer came, the link died, or the owed application pong arrived
        (called by ``link``, from its reader or whoever declared it dead)."""
        slot = self._slot
        if slot is None or slot.link is not link:
            return
        if slot.sending:
            slot.poked = True  # looked at again once the write is stamped
            return
        slot.poked = False
        now = trio.current_time()
        if link.dead.is_set():
            self._resolve(slot, now)
        elif slot.deferred and link.app.may_send(now):
            # the owed pong arrived: send this slot's application ping now
            slot.deferred = False
            link.app_deferred = False
            slot.t0_a = now
            link.app.on_sent(slot.k, now)
            slot.sending = True
            try:
                t = link.send(self._app_frame(), slot.on_deferred_written)
            except ConnectionClosed:
                slot.sending = False
                self._resolve(slot, now)
                return
            if t is not None:
                self._deferred_written(slot, t)
        elif link.slot_answered and not slot.queued:
            if self._driver is None:
                self._resolve(slot, now)
            else:
                # recorded by the driver, so that this reader's recording does not
                # delay the next readers' timestamps (see monitor/_driver.py)
                slot.queued = True
                self._driver.resolve_soon(self)

    def resolve_answered(self, now: float) -> None:
        """Record the slot whose answers all came (called by the driver)."""
        slot = self._slot
        if slot is not None and slot.queued:
            self._resolve(slot, now)

    def _resolve(self, slot: _Slot, end: float, *, send_stalled: bool = False) -> None:
        """The slot is over (answered, deadline, link dead): record its samples."""
        self._slot = None
        self._dl_gen += 1  # its deadline timer is void
        link = slot.link
        k, due, late = slot.k, slot.due, slot.late
        control, app = slot.control, slot.app
        # pings declared lost (past the horizon): their RTT level sees a timeout now
        self._observe_lost(ProbeKind.CONTROL, link.control.lost_pongs - slot.lost_c, stalled=late)
        self._observe_lost(ProbeKind.APPLICATION, link.app.lost_pongs - slot.lost_a, stalled=late)
        link.end_slot()
        if send_stalled:
            # a write blocked for a whole interval: the stream is unusable
            link.declare_dead("send_stalled")
        stalled = late or self._lag.stalled_during(due, end)
        all_lost = control or app  # no active probe: nothing to judge the link by
        at = time.time()
        lates: list[tuple[ProbeKind, float, float]] = []
        sent_c, sent_a = slot.sent_c, slot.sent_a
        if control:
            rtt = None
            rx_c = link.control_rx
            if rx_c is not None and sent_c is not None:
                rtt = rx_c - sent_c if rx_c >= sent_c else rx_c - slot.t0
                if rx_c > slot.dl_c:  # answered after its own deadline: a timeout, late
                    lates.append((ProbeKind.CONTROL, sent_c, rtt))
                    rtt = None
            else:
                link.control.on_deadline(k, end)
            all_lost &= self._emit_probe(
                ProbeKind.CONTROL, k, due, sent_c, rtt, at, stalled, "no_answer"
            )
        if app:
            rtt = None
            rx: float | None = link.app_rx
            reason = "no_answer"
            if slot.deferred:
                # stop-and-wait: nothing was sent, the previous ping is still owed
                reason = PREVIOUS_UNANSWERED
            elif rx is None or sent_a is None:
                link.app.on_deadline(k, end)
            else:
                rtt = rx - sent_a if rx >= sent_a else rx - slot.t0_a
                if rx > slot.dl_a:
                    lates.append((ProbeKind.APPLICATION, sent_a, rtt))
                    rtt = None
            all_lost &= self._emit_probe(
                ProbeKind.APPLICATION, k, due, sent_a, rtt, at, stalled, reason
            )
        if all_lost and not stalled:
            link.lost_slots += 1
            if link.lost_slots >= DEAD_AFTER:
                link.declare_dead("probe_timeouts")
        else:
            link.lost_slots = 0
        for kind, sent, late_rtt in lates:
            self.record_late(link, kind, k, sent, sent + late_rtt)
        self._after_slot(k, due, end)

    def _emit_probe(
        self,
        kind: ProbeKind,
        k: int,
        due: float,
        sent: float | None,
        rtt: float | None,
        at: float,
        stalled: bool,
        reason: str,
    ) -> bool:
        timed_out = rtt is None
        # a sent ping's RTT level waits for its late answer or its loss
        rtt_level = reason not in ("no_answer", PREVIOUS_UNANSWERED)
        self.record(
            kind, k, due, sent, rtt, at, stalled=stalled, reason=reason, rtt_level=rtt_level
        )
        if timed_out and not stalled:
            self.event("timeout", probe=kind.value, seq=k, reason=reason)
        return timed_out

    def _observe_lost(self, kind: ProbeKind, n: int, *, stalled: bool) -> None:
        st = self.state.get(kind)
        if st is None or stalled:
            return
        for _ in range(n):
            self._transition(kind, st.machines["rtt"].observe(None))

    def record_late(self, link: Link, kind: ProbeKind, k: int, sent: float, t: float) -> None:
        """The pong of timed-out slot ``k`` arrived at ``t``: record its true RTT as a late answer.

        The slot stays a timeout (its sample, the timeout counter, stability and
        the consecutive-timeout level are unchanged); the late RTT goes into the
        RTT percentiles and the RTT threshold machine, and is delivered as a
        ``late`` sample. A late answer also shows the link is alive (slow, not
        dead): it resets the link's run of all-lost slots.
        """
        st = self.state.get(kind)
        if st is None:
            return
        rtt = t - sent
        link.lost_slots = 0
        stalled = self._lag.stalled_during(sent, t)
        st.stats.record_late(rtt)
        if not stalled:
            # a timed-out probe is never better than critical: a late RTT below
            # the critical level (timeout < critical) is observed as a timeout
            critical = st.stats.probe.critical_rtt
            self._transition(kind, st.machines["rtt"].observe(rtt if rtt >= critical else None))
        sched = self.schedule
        due = sched.due(k) if sched is not None else sent
        self._d.sample(
            Sample(
                self.id,
                kind,
                k,
                due,
                sent,
                None,
                True,
                time.time(),
                local_stall=stalled,
                late=True,
                late_rtt_s=rtt,
                timeout_reason="no_answer",
            )
        )

    # -- summaries ----------------------------------------------------------------

    def summary(self) -> dict[str, dict[str, Any]]:
        """Per probe kind, the whole-run summary (JSON-able)."""
        return {kind.value: st.stats.summary() for kind, st in self.state.items()}

    def levels(self) -> dict[str, str]:
        """Current threshold levels, ``"<probe>.<metric>" -> "ok"|"warning"|"critical"``."""
        out: dict[str, str] = {}
        for kind, st in self.state.items():
            for name, machine in st.machines.items():
                out[f"{kind.value}.{name}"] = machine.level.name.lower()
        return out
