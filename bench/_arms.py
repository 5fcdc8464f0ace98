"""The measured processes of the benchmarks, one per run ("arm").

Every arm runs in a process of its own, so that its CPU time, RSS and garbage
collector are its own, and prints one JSON line with its results at the end.
The benchmark scripts start them with :func:`run_arm` and put the figures of
different arms, measured in the same invocation, side by side.

Arms:

* ``pulse``: ``run_monitor`` on N plain WebSocket targets (control ping plus
  an echo message as application probe). Waits until every target is
  connected, then ``--warmup`` seconds, then measures process CPU time
  (``time.process_time``: all threads, so OTel's export threads count) and
  every sample over ``--duration`` seconds. ``--sink`` chooses the telemetry:
  ``none``, ``otel-noop`` (OTelSink on the API's no-op providers),
  ``otel-memory`` (SDK providers: in-memory metric reader, batch span and log
  processors whose exporters count and drop) or
  ``otel-otlp`` (SDK + OTLP/HTTP exporters to ``--otlp-endpoint``).
  ``--jsonl PATH`` adds the CLI's JSONL output (``cli/_output.JsonLines``,
  its writer thread included) writing to PATH (``/dev/null`` in ``cost.py``).
  ``--journal PATH`` adds the audit journal (``--journal-mode``: ``always``,
  the journal as shipped, fsync in its syncer thread; ``inline``, the previous
  design, fsync on the event loop after every record).
* ``naive``: the naive trio-websocket loop (``bench/_naive.py``) at the same
  rate, measured the same way; ``--app``: each cycle is one control ping and
  one application echo (the comparable cycle), otherwise a control ping only.

The *baseline* (the previous design, a git commit): :func:`run_arm` with
``baseline=DIR`` runs ``DIR/bench/_arms.py`` -- the baseline's own arms, with
its own ``src`` first on the import path -- through ``bench/_baseline_arm.py``
(which adds ``--jsonl`` for baselines that predate it). :func:`extract_baseline`
makes ``DIR`` with ``git archive COMMIT src bench``.
* ``raw``: a blocking-socket WebSocket client (hand-built masked ping frame,
  reads the pong bytes): the floor of a WebSocket ping.
* ``websockets``: the ``websockets`` library's asyncio client, its own
  ``latency`` after ``await ws.ping()``.
* ``proxy``: the ``_netem`` fault proxy with a delay per direction; on
  ``dump PATH`` (stdin) writes its per-chunk records and exits.

Times that cross processes are ``time.perf_counter()`` readings
(``CLOCK_MONOTONIC``, one clock for every process of the machine); each
process converts its ``trio.current_time()`` readings with its own offset.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import math
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from array import array
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))

import trio  # noqa: E402
from _common import current_rss_mib, pct  # noqa: E402


def extract_baseline(commit: str) -> Path:
    """``src`` and ``bench`` of ``commit`` in ``bench/results/baseline-COMMIT`` (cached).

    Raises:
      RuntimeError: the commit is not in this checkout (a shallow clone?).
    """
    dest = HERE / "results" / f"baseline-{commit}"
    if (dest / "bench" / "_arms.py").is_file() and (dest / "src").is_dir():
        return dest
    # a private temporary directory, renamed into place: two benchmark scripts
    # started together (the CI smoke runs them concurrently) must not share one
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        archive = subprocess.run(
            ["git", "-C", str(HERE.parent), "archive", "--format=tar", commit, "src", "bench"],
            capture_output=True,
            check=False,
        )
        if archive.returncode != 0:
            raise RuntimeError(
                f"baseline commit {commit!r} cannot be extracted from this checkout "
                f"(git archive: {archive.stderr.decode(errors='replace').strip()}); "
                "fetch it (a full clone) or pass --baseline none"
            )
        subprocess.run(["tar", "-x", "-C", str(tmp)], input=archive.stdout, check=True)
        try:
            tmp.rename(dest)
        except OSError:
            # the other script got there first: its copy is the same commit
            if not (dest / "bench" / "_arms.py").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


def run_arm(args: list[str], timeout: float, baseline: Path | None = None) -> dict[str, Any]:
    """Run ``python bench/_arms.py ARGS`` and return its JSON line (bounded in time).

    With ``baseline`` (a directory from :func:`extract_baseline`), the
    baseline's own ``bench/_arms.py`` runs instead, on its own ``src``.
    """
    if baseline is None:
        cmd = [sys.executable, str(HERE / "_arms.py"), *args]
        env = None
    else:
        cmd = [sys.executable, str(HERE / "_baseline_arm.py"), str(baseline), *args]
        env = {**os.environ, "PYTHONPATH": str(baseline / "src")}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.stderr and "--- loop stuck" in proc.stderr:
        sys.stderr.write(proc.stderr[-20000:])
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"arm {args[:1]} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def _write(path: str, data: Any) -> None:
    """Write ``data`` as JSON to ``path`` (synchronously: the measurement is over)."""
    with open(path, "w") as f:
        json.dump(data, f)


def _offset() -> float:
    """``trio.current_time() - time.perf_counter()`` of this process (best of 5 reads)."""
    best = None
    for _ in range(5):
        a = time.perf_counter()
        t = trio.current_time()
        b = time.perf_counter()
        if best is None or b - a < best[0]:
            best = (b - a, t - (a + b) / 2)
    assert best is not None
    return best[1]


# ---------------------------------------------------------------- pulse


def _config(url: str, n: int, interval: float, timeout: float, echo: bool) -> Any:
    from genesys_pulse.core.config import parse_config

    targets = []
    for i in range(n):
        t: dict[str, Any] = {
            "id": f"bench-target-{i:05d}",
            "kind": "websocket",
            "url": url,
            "interval": interval,
            "timeout": timeout,
        }
        if echo:
            t["echo_message"] = "hello"
        targets.append(t)
    return parse_config({"window": 60.0, "targets": targets}, {})


class _Recorder:
    """A sink that keeps the fields of each sample the benchmarks need.

    Columns of C numbers (``array``), no object per sample: the recording
    must not add garbage-collector work to the process it measures.
    """

    def __init__(self) -> None:
        self.on = False
        self._index: dict[str, int] = {}
        self.names: list[str] = []
        self.target = array("l")
        self.control = array("b")
        self.seq = array("q")
        self.scheduled = array("d")
        self.sent = array("d")  # NaN: not sent
        self.rtt = array("d")  # NaN: timed out
        self.flags = array("b")  # 1 timed out, 2 local stall

    def on_sample(self, s: Any) -> None:
        if self.on:
            i = self._index.get(s.target)
            if i is None:
                i = self._index[s.target] = len(self.names)
                self.names.append(s.target)
            self.target.append(i)
            self.control.append(s.probe == "control")
            self.seq.append(s.seq)
            self.scheduled.append(s.scheduled_mono)
            self.sent.append(math.nan if s.sent_mono is None else s.sent_mono)
            self.rtt.append(math.nan if s.rtt_s is None else s.rtt_s)
            self.flags.append(int(s.timed_out) | (2 * int(s.local_stall)))

    def on_event(self, e: Any) -> None:
        pass

    @property
    def rows(self) -> list[tuple[str, bool, int, float, float | None, float | None, bool, bool]]:
        """Per sample: target, control?, seq, scheduled, sent, rtt, timed out, stalled."""
        names = self.names
        return [
            (
                names[t],
                bool(c),
                q,
                sc,
                None if se != se else se,
                None if r != r else r,
                bool(f & 1),
                bool(f & 2),
            )
            for t, c, q, sc, se, r, f in zip(
                self.target,
                self.control,
                self.seq,
                self.scheduled,
                self.sent,
                self.rtt,
                self.flags,
                strict=True,
            )
        ]


def _sinks(kind: str, endpoint: str | None, window: float) -> tuple[list[Any], Any]:
    """The telemetry sinks of a pulse arm and a shutdown callable."""
    if kind == "none":
        return [], None
    from opentelemetry import metrics, trace
    from opentelemetry._logs import NoOpLoggerProvider

    from genesys_pulse.telemetry import OTelSink

    if kind == "otel-noop":
        sink = OTelSink(
            meter_provider=metrics.NoOpMeterProvider(),
            tracer_provider=trace.NoOpTracerProvider(),
            logger_provider=NoOpLoggerProvider(),
            window=window,
        )
        return [sink], None
    if kind == "otel-memory":
        from opentelemetry.sdk._logs import LoggerProvider
        from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, LogRecordExporter
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import (
            BatchSpanProcessor,
            SpanExporter,
            SpanExportResult,
        )

        class DropSpans(SpanExporter):
            """Counts and drops (an in-memory exporter would grow for the whole run)."""

            exported = 0

            def export(self, spans: Any) -> SpanExportResult:
                DropSpans.exported += len(spans)
                return SpanExportResult.SUCCESS

        class DropLogs(LogRecordExporter):
            exported = 0

            def export(self, batch: Any) -> Any:
                from opentelemetry.sdk._logs.export import LogRecordExportResult

                DropLogs.exported += len(batch)
                return LogRecordExportResult.SUCCESS

            def shutdown(self) -> None:
                pass

            def force_flush(self, timeout_millis: int = 30000) -> bool:
                return True

        tp = TracerProvider()
        tp.add_span_processor(BatchSpanProcessor(DropSpans()))
        lp = LoggerProvider()
        lp.add_log_record_processor(BatchLogRecordProcessor(DropLogs()))
        reader = InMemoryMetricReader()
        mp = MeterProvider(metric_readers=[reader])
        sink = OTelSink(meter_provider=mp, tracer_provider=tp, logger_provider=lp, window=window)
        return [sink], reader
    if kind == "otel-otlp":
        from genesys_pulse.telemetry.sdk_setup import configure_from_env

        env = {
            "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint or "http://127.0.0.1:4318",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            "OTEL_METRIC_EXPORT_INTERVAL": "5000",
            "OTEL_TRACES_EXPORTER": "otlp",
            "OTEL_METRICS_EXPORTER": "otlp",
            "OTEL_LOGS_EXPORTER": "otlp",
        }
        providers = configure_from_env(env)
        sink = OTelSink(
            meter_provider=providers.meter_provider,
            tracer_provider=providers.tracer_provider,
            logger_provider=providers.logger_provider,
            window=window,
        )
        return [sink], providers
    raise ValueError(kind)


class _InlineFsyncJournal:
    """The journal of the previous design: every audit record fsynced on the caller's thread."""

    def __init__(self, path: str) -> None:
        from genesys_pulse.telemetry import AuditJournal

        self.journal = AuditJournal(path, fsync="never")

    def on_sample(self, sample: Any) -> None:
        pass

    def on_event(self, event: Any) -> None:
        before = self.journal.next_seq
        self.journal.on_event(event)
        if self.journal.next_seq != before:
            os.fsync(self.journal._fd)

    def close(self) -> None:
        self.journal.close()


def _journal_sink(a: argparse.Namespace) -> Any:
    if not a.journal:
        return None
    if a.journal_mode == "inline":
        return _InlineFsyncJournal(a.journal)
    from genesys_pulse.telemetry import AuditJournal

    return AuditJournal(a.journal, fsync=a.journal_mode)


async def _pulse(a: argparse.Namespace) -> dict[str, Any]:
    from genesys_pulse.monitor import run_monitor

    config = _config(a.url, a.targets, a.interval, a.timeout, not a.no_echo)
    if a.gc_threshold:
        gc.set_threshold(*(int(x) for x in a.gc_threshold.split(",")))
    rec = _Recorder()
    extra, keep = _sinks(a.sink, a.otlp_endpoint, config.window)
    journal = _journal_sink(a)
    if journal is not None:
        extra.append(journal)
    if a.jsonl:
        from _jsonl import jsonl_sink

        extra.append(jsonl_sink(a.jsonl))
    off = _offset()
    out: dict[str, Any] = {"arm": "pulse", "targets": a.targets, "interval": a.interval}
    t_start = time.perf_counter()
    cpu = wall = 0.0
    ports0: dict[str, int] = {}
    ports1: dict[str, int] = {}
    async with trio.open_nursery() as nursery:
        mon = await nursery.start(
            lambda task_status: run_monitor(
                config, sinks=[rec, *extra], freeze_gc=not a.no_freeze_gc, task_status=task_status
            )
        )
        with trio.move_on_after(a.connect_limit):
            for probe in mon.targets.values():
                await probe.connected.wait()
        out["connect_s"] = time.perf_counter() - t_start
        out["connected"] = sum(p.connected.is_set() for p in mon.targets.values())
        if a.stall_dump:
            nursery.start_soon(_stall_watch, a.stall_dump)
        with trio.move_on_after(a.warmup + a.duration + 30):
            await trio.sleep(a.warmup)
            ports0 = _ports(mon)
            prof = None
            if a.profile:
                import cProfile

                prof = cProfile.Profile(time.process_time)  # CPU, not wall: a loaded host
                prof.enable()
            gc_before = [s["collections"] for s in gc.get_stats()]
            cpu0, w0, times0 = time.process_time(), time.perf_counter(), os.times()
            rec.on = True
            await trio.sleep(a.duration)
            rec.on = False
            cpu, wall, times1 = time.process_time() - cpu0, time.perf_counter() - w0, os.times()
            out["user_s"] = times1.user - times0.user
            out["sys_s"] = times1.system - times0.system
            if prof is not None:
                prof.disable()
                prof.dump_stats(a.profile)
            out["gc_collections"] = [
                s["collections"] - b for s, b in zip(gc.get_stats(), gc_before, strict=True)
            ]
            out["rss_mib"] = current_rss_mib()
            out["tracked_objects"] = len(gc.get_objects())
            ports1 = _ports(mon)
            out["reconnected_targets"] = sum(1 for tid, p in ports0.items() if ports1.get(tid) != p)
            driver = getattr(mon, "driver", None)
            if driver is not None:
                out["driver_wakeups"] = driver.wakeups
        nursery.cancel_scope.cancel()
    del keep
    if journal is not None:
        out["journal_records"] = (
            journal.journal if isinstance(journal, _InlineFsyncJournal) else journal
        ).next_seq - 1
        journal.close()
    for key, default in (("user_s", 0.0), ("sys_s", 0.0), ("rss_mib", current_rss_mib())):
        out.setdefault(key, default)
    out.setdefault("gc_collections", [0, 0, 0])
    out.setdefault("reconnected_targets", 0)
    out["cpu_s"] = cpu
    out["wall_s"] = max(wall, 1e-9)
    recorded = rec.rows
    _summarise(out, recorded, a)
    if a.samples_out:
        # per sample: port, control?, seq, sent (perf_counter), rtt
        rows = [
            [ports0.get(r[0], -1), r[1], r[2], r[4] - off, r[5]]
            for r in recorded
            if r[4] is not None and r[5] is not None and ports1.get(r[0]) == ports0.get(r[0])
        ]
        _write(a.samples_out, rows)
    return out


async def _stall_watch(limit: float) -> None:
    """A thread prints where the event loop is when it has not ticked for ``limit`` s."""
    import threading
    import traceback

    main = threading.get_ident()
    tick = [time.perf_counter()]

    def watch() -> None:
        reported = 0.0
        while True:
            time.sleep(limit / 4)
            late = time.perf_counter() - tick[0]
            if late > limit and tick[0] != reported:
                reported = tick[0]
                frame = sys._current_frames().get(main)
                stack = "".join(traceback.format_stack(frame)[-12:]) if frame else "?"
                print(f"--- loop stuck {late * 1000:.0f} ms:\n{stack}", file=sys.stderr)

    threading.Thread(target=watch, daemon=True).start()
    while True:
        tick[0] = time.perf_counter()
        await trio.sleep(0.005)


def _ports(mon: Any) -> dict[str, int]:
    ports: dict[str, int] = {}
    for tid, probe in mon.targets.items():
        link = probe.link
        sock = getattr(link.ws, "socket", None) if link is not None else None
        if sock is not None:
            with contextlib.suppress(OSError):
                ports[tid] = sock.getsockname()[1]
    return ports


def _summarise(out: dict[str, Any], rows: list[Any], a: argparse.Namespace) -> None:
    control = [r for r in rows if r[1]]
    app = [r for r in rows if not r[1]]
    send_err = [r[4] - r[3] for r in control if r[4] is not None]
    out["slots"] = len(control) if control else len(app)
    out["samples"] = len(rows)
    out["timeouts"] = sum(1 for r in rows if r[6])
    out["stalled"] = sum(1 for r in rows if r[7])
    out["send_err_p50_s"] = pct(send_err, 50)
    out["send_err_p99_s"] = pct(send_err, 99)
    out["send_err_max_s"] = max(send_err) if send_err else float("nan")
    for name, rs in (("control", control), ("application", app)):
        rtts = [r[5] for r in rs if r[5] is not None]
        out[f"{name}_rtt_p50_s"] = pct(rtts, 50)
        out[f"{name}_rtt_p99_s"] = pct(rtts, 99)
        out[f"{name}_rtt_max_s"] = max(rtts) if rtts else float("nan")
        out[f"{name}_count"] = len(rs)


# ---------------------------------------------------------------- naive


async def _naive_arm(a: argparse.Namespace) -> dict[str, Any]:
    from _naive import naive_trio_websocket

    res = await naive_trio_websocket(
        a.url,
        targets=a.targets,
        interval=a.interval,
        duration=a.duration,
        warmup=a.warmup,
        connect_limit=a.connect_limit,
        app=a.app,
    )
    rtts = res.pop("rtts")
    app_rtts = res.pop("app_rtts")
    assert isinstance(rtts, list) and isinstance(app_rtts, list)
    return {
        "arm": "naive",
        "targets": a.targets,
        "app": a.app,
        **res,
        "rss_mib": current_rss_mib(),
        "rtt_p50_s": pct(rtts, 50),
        "rtt_p99_s": pct(rtts, 99),
        "rtt_max_s": max(rtts) if rtts else float("nan"),
        "app_rtt_p50_s": pct(app_rtts, 50),
        "app_rtt_p99_s": pct(app_rtts, 99),
    }


# ---------------------------------------------------------------- raw socket


def _raw(a: argparse.Namespace) -> dict[str, Any]:
    host, port = "127.0.0.1", a.port
    sock = socket.create_connection((host, port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.sendall(
        (
            f"GET / HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(4096)
        if not chunk:
            raise RuntimeError("no upgrade")
        buf += chunk
    rest = buf.split(b"\r\n\r\n", 1)[1]
    assert not rest
    lport = sock.getsockname()[1]
    samples = []
    for i in range(a.count):
        payload = f"{i:08d}".encode()
        # masked ping frame with an all-zero mask (payload unchanged)
        frame = bytes([0x89, 0x80 | len(payload)]) + b"\0\0\0\0" + payload
        want = 2 + len(payload)
        sock.sendall(frame)
        t0 = time.perf_counter()
        got = 0
        while got < want:
            got += len(sock.recv(want - got))
        samples.append([lport, True, i, t0, time.perf_counter() - t0])
        time.sleep(a.interval)
    sock.close()
    rtts = [s[4] for s in samples]
    out = {"arm": "raw", "rtt_p50_s": pct(rtts, 50), "rtt_p99_s": pct(rtts, 99)}
    if a.samples_out:
        Path(a.samples_out).write_text(json.dumps(samples))
    return out


# ---------------------------------------------------------------- websockets


async def _websockets(a: argparse.Namespace) -> dict[str, Any]:
    from websockets.asyncio.client import connect

    samples = []
    async with connect(f"ws://127.0.0.1:{a.port}/", compression=None, ping_interval=None) as ws:
        lport = ws.transport.get_extra_info("sockname")[1]
        for i in range(a.count):
            t0 = time.perf_counter()
            waiter = await ws.ping(f"{i:08d}".encode())
            await asyncio.wait_for(waiter, 2.0)
            samples.append([lport, True, i, t0, ws.latency])
            await asyncio.sleep(a.interval)
    rtts = [s[4] for s in samples]
    out = {"arm": "websockets", "rtt_p50_s": pct(rtts, 50), "rtt_p99_s": pct(rtts, 99)}
    if a.samples_out:
        _write(a.samples_out, samples)
    return out


# ---------------------------------------------------------------- proxy


async def _proxy(a: argparse.Namespace) -> None:
    from collections import deque

    from genesys_pulse.emulator._netem import fixed_delay, normal_delay, open_fault_proxy

    kind, _, spec = a.delay.partition(":")
    if kind == "fixed":
        delay = fixed_delay(float(spec))
    else:
        mean, sd = (float(x) for x in spec.split(","))
        delay = normal_delay(mean, sd)
    async with open_fault_proxy("127.0.0.1", a.port, seed=1) as proxy:
        for d in (proxy.upstream, proxy.downstream):
            d.delay = delay
            d.records = deque(maxlen=5_000_000)
        gc.freeze()
        off = _offset()
        print(json.dumps({"port": proxy.port}), flush=True)
        while True:
            line = await trio.to_thread.run_sync(sys.stdin.readline)
            if not line or line.startswith("quit"):
                return
            if line.startswith("dump "):
                data = {
                    name: [[r.conn, r.received - off, r.sent - off, r.nbytes] for r in d.records]
                    for name, d in (("up", proxy.upstream), ("down", proxy.downstream))
                }
                for d in (proxy.upstream, proxy.downstream):
                    d.records.clear()
                _write(line.split(" ", 1)[1].strip(), data)
                print(json.dumps({"dumped": True}), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("arm", choices=["pulse", "naive", "raw", "websockets", "proxy"])
    ap.add_argument("--url", default="")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--targets", type=int, default=1)
    ap.add_argument("--interval", type=float, default=1.0)
    ap.add_argument("--timeout", type=float, default=None)
    ap.add_argument("--warmup", type=float, default=2.0)
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--connect-limit", type=float, default=120.0)
    ap.add_argument("--count", type=int, default=200)
    ap.add_argument("--sink", default="none")
    ap.add_argument("--otlp-endpoint", default=None)
    ap.add_argument("--no-echo", action="store_true")
    ap.add_argument("--app", action="store_true", help="naive: control ping + application echo")
    ap.add_argument("--jsonl", default=None, help="pulse: add the JSONL output, written to PATH")
    ap.add_argument("--no-freeze-gc", action="store_true", help="run_monitor(freeze_gc=False)")
    ap.add_argument("--gc-threshold", default=None, help="gc.set_threshold(A,B,C) at start")
    ap.add_argument("--samples-out", default=None)
    ap.add_argument("--profile", default=None)
    ap.add_argument(
        "--stall-dump",
        type=float,
        default=0.0,
        help="print the loop thread's stack to stderr when it is stuck this many seconds",
    )
    ap.add_argument("--delay", default="fixed:0")
    ap.add_argument("--journal", default=None, help="add the audit journal at this path")
    ap.add_argument(
        "--journal-mode", choices=["always", "interval", "never", "inline"], default="always"
    )
    a = ap.parse_args()
    if a.timeout is None:
        a.timeout = a.interval
    res: Any
    if a.arm == "pulse":
        res = trio.run(_pulse, a)
    elif a.arm == "naive":
        res = trio.run(_naive_arm, a)
    elif a.arm == "raw":
        res = _raw(a)
    elif a.arm == "websockets":
        res = asyncio.run(_websockets(a))
    else:
        trio.run(_proxy, a)
        return
    print(json.dumps(res), flush=True)


if __name__ == "__main__":
    main()
