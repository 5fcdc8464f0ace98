"""The probing half of a target: absolute-deadline slots, samples, statistics, thresholds.

A :class:`TargetProbe` owns everything that belongs to the *target* rather
than to one connection: the schedule, the statistics, the threshold machines
and the window events. Its supervisor (Genesys or plain WebSocket) installs
the current :class:`~genesys_pulse.monitor._link.Link`; the probe loop sends
on whichever link is current when a slot comes due.

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
from typing import Any

import trio

from genesys_pulse.core import (
    PREVIOUS_UNANSWERED,
    Direction,
    ProbeSchedule,
    ThresholdMachine,
    Transition,
    first_window_end,
)
from genesys_pulse.core.config import TargetConfig
from genesys_pulse.core.model import AttrValue, Event, ProbeKind, Sample
from genesys_pulse.transport import ConnectionClosed

from ._dispatch import Dispatcher
from ._link import Link
from ._looplag import LoopLag
from ._stats import KindStats

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


class TargetProbe:
    """Probe loop, statistics and thresholds of one target.

    Args:
      cfg: the target's configuration.
      phase: offset of slot 0 within the interval (staggering).
      dispatcher: where samples and events go.
      looplag: the monitor's event-loop lag tracker.
      heartbeats: whether the target's server sends heartbeats (Genesys).
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
    ) -> None:
        self.cfg = cfg
        self.id = cfg.id
        self.phase = phase
        self._d = dispatcher
        self._lag = looplag
        self._window = window
        self.heartbeats = heartbeats
        self.link: Link | None = None
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
        self.connected = trio.Event()
        """Set when the first link is installed."""
        self.first_slot = 0
        self.planned_outage = False
        """Set by the supervisor while a planned disconnection is in progress."""
        self.schedule: ProbeSchedule | None = None
        self.slots_done = 0
        self.heartbeat_seq = 0
        self.connection_state = "connecting"
        self.last_backoff: tuple[str, str, float] | None = None
        """The latest reported back-off: (reason, error type, monotonic time of the next attempt)."""
        self.app_message: str = '{"message":"ping"}'
        self.lost_reported = False
        self._window_end = math.inf
        """When the current summary window ends (set when the probe loop starts)."""
        self._window_start = 0.0

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
        if prev is None or link is not self.link:
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
        link = self.link
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

    # -- the probe loop -------------------------------------------------------

    async def run(self, start: float) -> None:
        """Probe forever on the absolute schedule starting at ``start``."""
        cfg = self.cfg
        sched = ProbeSchedule(start, cfg.interval, self.phase)
        self.schedule = sched
        self._window_start = start
        self._window_end = first_window_end(start, self._window, self.phase, cfg.interval)
        stall = self._lag.threshold
        # Start-up: the target's first slot is the first one due after its first
        # connection (or after STARTUP_GRACE if it cannot connect: from then on
        # every slot is recorded, answered or not).
        with trio.move_on_after(STARTUP_GRACE):
            await self.connected.wait()
        k = sched.next_slot(trio.current_time())
        self.first_slot = k
        while True:
            due = sched.due(k)
            await trio.sleep_until(due)
            now = trio.current_time()
            if now - due > cfg.interval:
                # a local stall swallowed whole slots: record them, never skip silently
                latest = sched.next_slot(now)
                if sched.due(latest) > now:
                    latest -= 1
                for m in range(k, latest):
                    self._missed_slot(m, sched.due(m))
                k = latest
                due = sched.due(k)
            await self._slot(k, due, sched.due(k + 1), late=now - due > stall)
            self.slots_done = k + 1 - self.first_slot
            if self.heartbeats:
                self.check_silence(trio.current_time())
            if due >= self._window_end:
                self._emit_window()
            k += 1

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
        planned = self.planned_outage
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

    async def _slot(self, k: int, due: float, next_due: float, *, late: bool) -> None:
        link = self.link
        if link is None or not link.usable:
            self._disconnected_slot(k, due)
            return
        kinds = self.kinds
        control = ProbeKind.CONTROL in kinds
        app = ProbeKind.APPLICATION in kinds
        timeout = self.cfg.timeout
        t0 = trio.current_time()
        lost_c, lost_a = link.control.lost_pongs, link.app.lost_pongs
        # Stop-and-wait (core _pong): while the previous application ping is
        # owed, this slot's is deferred until its pong arrives (within the slot)
        app_now = app and link.app.may_send(t0)
        deferred = app and not app_now
        done = link.begin_slot(k, int(control) + int(app), app_deferred=deferred)
        ws = link.ws
        sent_c: float | None = None
        sent_a: float | None = None
        t0_a = t0
        send_failed = False
        sending = True
        dl_c = dl_a = next_due
        # One cancel scope per slot (they are not free at 10,000 targets): it
        # bounds the writes by the next slot, then the wait by the deadline.
        with trio.CancelScope(deadline=next_due) as scope:
            # Register before writing: the pong can be read while send_all yields.
            try:
                if control and app_now:
                    # one write for both frames (one syscall, one scheduler pass)
                    payload = link.control.on_sent(k, t0)
                    link.app.on_sent(k, t0)
                    sent_c = sent_a = await ws.send_ping_and_text(payload, self.app_message)
                elif control:
                    payload = link.control.on_sent(k, t0)
                    sent_c = await ws.send_ping(payload)
                elif app_now:
                    link.app.on_sent(k, t0_a)
                    sent_a = await ws.send_text(self.app_message)
            except ConnectionClosed:
                send_failed = True
            sending = False
            if sent_c is not None:
                link.control.refine_sent(k, sent_c)
                dl_c = min(max(due, sent_c) + timeout, next_due)
            if sent_a is not None:
                link.app.refine_sent(k, sent_a)
                dl_a = min(max(due, sent_a) + timeout, next_due)
            first_sent = sent_c if sent_c is not None else sent_a
            base = max(due, first_sent if first_sent is not None else t0)
            scope.deadline = min(base + timeout, next_due)
            while not send_failed and not link.dead.is_set():
                await done.wait()
                if not (deferred and link.app.may_send(trio.current_time())):
                    break
                # the owed pong arrived: send this slot's application ping now
                deferred = False
                link.app_deferred = False
                done = link.rearm()
                t0_a = trio.current_time()
                link.app.on_sent(k, t0_a)
                sending = True
                try:
                    sent_a = await ws.send_text(self.app_message)
                except ConnectionClosed:
                    send_failed = True
                sending = False
                if sent_a is not None:
                    link.app.refine_sent(k, sent_a)
                    dl_a = min(sent_a + timeout, next_due)
                    scope.deadline = max(scope.deadline, dl_a)
        # pings declared lost (past the horizon): their RTT level sees a timeout now
        self._observe_lost(ProbeKind.CONTROL, link.control.lost_pongs - lost_c, stalled=late)
        self._observe_lost(ProbeKind.APPLICATION, link.app.lost_pongs - lost_a, stalled=late)
        if sending and scope.cancelled_caught:
            # a write blocked for a whole interval: the stream is unusable
            link.declare_dead("send_stalled")
        end = trio.current_time()
        link.end_slot()
        stalled = late or self._lag.stalled_during(due, end)
        all_lost = control or app  # no active probe: nothing to judge the link by
        at = time.time()
        lates: list[tuple[ProbeKind, float, float]] = []
        if control:
            rtt = None
            rx_c = link.control_rx
            if rx_c is not None and sent_c is not None:
                rtt = rx_c - sent_c if rx_c >= sent_c else rx_c - t0
                if rx_c > dl_c:  # answered after its own deadline: a timeout, late
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
            if deferred:
                # stop-and-wait: nothing was sent, the previous ping is still owed
                reason = PREVIOUS_UNANSWERED
            elif rx is None or sent_a is None:
                link.app.on_deadline(k, end)
            else:
                rtt = rx - sent_a if rx >= sent_a else rx - t0_a
                if rx > dl_a:
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
