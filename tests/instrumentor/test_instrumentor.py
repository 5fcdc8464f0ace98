"""The instrumentor in-process: host providers, uninstrument, never raising, fork, entry point."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from importlib.metadata import entry_points

import pytest
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]

from _otel import pipeline
from genesys_pulse.instrumentor import FORKED_WORKERS_ENV, GenesysPulseInstrumentor, MonitorThread

from ._support import EmulatorProc, emulator_process

MONITOR_THREAD = "genesys-pulse-monitor"


def monitor_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == MONITOR_THREAD and t.is_alive()]


@pytest.fixture
def instrumentor() -> Iterator[GenesysPulseInstrumentor]:
    inst = GenesysPulseInstrumentor()
    yield inst
    if inst.is_instrumented_by_opentelemetry:
        inst.uninstrument()


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorProc]:
    with emulator_process() as e:
        yield e


def wait_until(predicate: object, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def test_entry_point_is_registered() -> None:
    (ep,) = [
        e for e in entry_points(group="opentelemetry_instrumentor") if e.name == "genesys_pulse"
    ]
    cls = ep.load()
    assert cls is GenesysPulseInstrumentor and issubclass(cls, BaseInstrumentor)
    assert tuple(cls().instrumentation_dependencies()) == ()


def test_host_providers_receive_telemetry_and_uninstrument_stops(
    instrumentor: GenesysPulseInstrumentor, emu: EmulatorProc
) -> None:
    p = pipeline()
    instrumentor.instrument(
        meter_provider=p.meter_provider,
        tracer_provider=p.tracer_provider,
        logger_provider=p.logger_provider,
        env=emu.env(),
    )
    assert instrumentor.running and len(monitor_threads()) == 1

    def has_rtt() -> bool:
        data = p.metrics.get_metrics_data()
        return data is not None and any(
            m.name == "genesys.websocket.ping.rtt"
            for rm in data.resource_metrics
            for sm in rm.scope_metrics
            for m in sm.metrics
        )

    assert wait_until(has_rtt)
    assert wait_until(
        lambda: any(s.name == "genesys_pulse.probe_window" for s in p.spans.get_finished_spans())
    )
    instrumentor.uninstrument()
    assert not instrumentor.running
    assert monitor_threads() == []
    names = [r.log_record.event_name for r in p.logs.get_finished_logs()]
    assert names[0] == "genesys_pulse.monitor.started"
    assert names[-1] == "genesys_pulse.monitor.stopped"  # stopped cleanly, not abandoned


def test_bad_config_logs_one_error_and_stays_inert(
    instrumentor: GenesysPulseInstrumentor, emu: EmulatorProc, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="genesys_pulse")
    instrumentor.instrument(env=emu.env(GENESYS_PULSE_TIMEOUT="-1"))  # must not raise
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "monitor not started" in errors[0].getMessage()
    assert not instrumentor.running and monitor_threads() == []


def test_missing_credentials_logs_one_error(
    instrumentor: GenesysPulseInstrumentor, emu: EmulatorProc, caplog: pytest.LogCaptureFixture
) -> None:
    env = emu.env()
    del env["GENESYS_CLOUD_CLIENT_SECRET"]
    instrumentor.instrument(env=env)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "GENESYS_CLOUD_CLIENT_SECRET" in errors[0].getMessage()
    assert not instrumentor.running


def test_nothing_configured_is_silent(
    instrumentor: GenesysPulseInstrumentor, caplog: pytest.LogCaptureFixture
) -> None:
    instrumentor.instrument(env={"PATH": "/usr/bin"})
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert not instrumentor.running


def _fork_and_report(instrumentor: GenesysPulseInstrumentor) -> int:
    """Fork; the child exits 0 if no monitor runs in it, 1 if one does."""
    pid = os.fork()
    if pid == 0:  # child: report and leave at once, without running exit hooks
        try:
            running = instrumentor.running and wait_until(lambda: bool(monitor_threads()), 5)
            os._exit(1 if running else 0)
        finally:
            os._exit(3)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def test_forked_worker_does_not_double_probe(
    instrumentor: GenesysPulseInstrumentor, emu: EmulatorProc
) -> None:
    instrumentor.instrument(env=emu.env())
    assert instrumentor.running
    assert _fork_and_report(instrumentor) == 0
    assert instrumentor.running  # the parent keeps probing


def test_forked_worker_takes_over_when_asked(
    instrumentor: GenesysPulseInstrumentor, emu: EmulatorProc
) -> None:
    """With GENESYS_PULSE_IN_FORKED_WORKERS=1 a forked worker stands by while the
    parent probes (still one monitor) and takes over once the parent's monitor ends."""
    instrumentor.instrument(env=emu.env(**{FORKED_WORKERS_ENV: "1"}))
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        try:
            os.close(r)
            stood_by = instrumentor.standing_by and not instrumentor.running
            os.write(w, b"1" if stood_by else b"0")
            took_over = wait_until(lambda: instrumentor.running, 15)
            os._exit((2 if stood_by else 0) + (1 if took_over else 0))
        finally:
            os._exit(9)
    os.close(w)
    assert os.read(r, 1) == b"1"  # the child stands by while the parent probes
    os.close(r)
    assert instrumentor.running
    instrumentor.uninstrument()  # the parent's monitor ends: the lock is free
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 3  # stood by, then took over


def test_forked_workers_env_alone_is_not_a_configuration(
    instrumentor: GenesysPulseInstrumentor, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="genesys_pulse")
    instrumentor.instrument(env={"PATH": "/usr/bin", FORKED_WORKERS_ENV: "1"})
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert not instrumentor.running and not instrumentor.standing_by


class ClosingSink:
    def __init__(self) -> None:
        self.closed = threading.Event()

    def on_sample(self, sample: object) -> None:
        pass

    def on_event(self, event: object) -> None:
        pass

    def close(self) -> None:
        self.closed.set()


def test_stop_never_hangs_on_a_stuck_monitor_loop() -> None:
    release = threading.Event()

    async def stuck(config: object, **kwargs: object) -> None:
        release.wait(30)  # blocks the trio loop itself: cancellation cannot be delivered

    sink = ClosingSink()
    thread = MonitorThread(None, [sink], run=stuck)  # type: ignore[arg-type]
    assert thread.start()
    assert thread.stop(timeout=0.3) is False  # gave up at the bound instead of hanging
    assert not release.is_set() and thread.alive  # ... while the loop was still stuck
    release.set()  # unblock: the queued cancellation now ends the run
    assert thread.stop(timeout=10)
    assert sink.closed.is_set()


def test_monitor_failure_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    async def broken(config: object, **kwargs: object) -> None:
        raise RuntimeError("every target stopped")

    sink = ClosingSink()
    thread = MonitorThread(None, [sink], run=broken)  # type: ignore[arg-type]
    thread.start()
    assert thread.stop(timeout=10)
    assert isinstance(thread.error, RuntimeError)
    (record,) = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert "every target stopped" in record.getMessage()
    assert sink.closed.is_set()


def _peer_ports_of_open_sockets() -> list[int]:
    """The peer ports of this process's connected TCP sockets."""
    ports = []
    for name in os.listdir("/proc/self/fd"):
        try:
            dup = os.dup(int(name))
        except OSError:
            continue  # the directory's own descriptor, gone meanwhile
        try:
            s = socket.socket(fileno=dup)
        except OSError:
            os.close(dup)  # not a socket
            continue
        try:
            ports.append(s.getpeername()[1])
        except (OSError, IndexError, TypeError):
            pass
        finally:
            s.close()
    return ports


def _in_child(check: Callable[[], int]) -> int:
    pid = os.fork()
    if pid == 0:
        try:
            os._exit(check())
        finally:
            os._exit(99)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def test_forked_child_closes_the_monitors_sockets_and_exports_none_of_its_series(
    instrumentor: GenesysPulseInstrumentor, emu: EmulatorProc
) -> None:
    p = pipeline()
    instrumentor.instrument(meter_provider=p.meter_provider, env=emu.env())
    emu_port = int(emu.info["base_url"].rsplit(":", 1)[1].split("/")[0])

    def genesys_metrics() -> list[str]:
        data = p.metrics.get_metrics_data()
        return [
            m.name
            for rm in (data.resource_metrics if data is not None else ())
            for sm in rm.scope_metrics
            for m in sm.metrics
            if m.name.startswith("genesys.")
        ]

    assert wait_until(lambda: "genesys.websocket.ping.rtt" in genesys_metrics())
    assert emu_port in _peer_ports_of_open_sockets()  # the parent's monitor is connected
    # the child: none of the monitor's connections, none of its series
    assert _in_child(lambda: _peer_ports_of_open_sockets().count(emu_port)) == 0
    assert _in_child(lambda: len(genesys_metrics())) == 0
    assert genesys_metrics()  # ... while the parent still has them all
    assert emu_port in _peer_ports_of_open_sockets()
