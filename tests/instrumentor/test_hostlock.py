"""The host lock: one holder, released on death (not by a forked child), helpers recognised."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from genesys_pulse.instrumentor._hostlock import HostLock, helper_interpreter, lock_key

HOLD = """
import sys, time
from genesys_pulse.instrumentor._hostlock import HostLock
lock = HostLock(sys.argv[1], sys.argv[2])
print("held" if lock.try_acquire() else "busy", flush=True)
time.sleep(60)
"""


def test_one_holder_per_key_and_the_kernel_releases_it_on_death(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, "k1", str(tmp_path)], stdout=subprocess.PIPE
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"held\n"
        mine = HostLock("k1", str(tmp_path))
        assert not mine.try_acquire()  # another process holds it
        assert mine.holder() == holder.pid
        assert HostLock("k2", str(tmp_path)).try_acquire()  # another configuration: free
        holder.send_signal(signal.SIGKILL)  # no exit hook, no unlock
        holder.wait(10)
        assert mine.try_acquire() and mine.held  # the kernel released it
        mine.release()
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait(10)


def test_a_forked_child_neither_holds_nor_releases_the_parents_lock(tmp_path: Path) -> None:
    lock = HostLock("k3", str(tmp_path))
    assert lock.try_acquire()
    r, w = os.pipe()  # parent -> child: "you may go"
    r2, w2 = os.pipe()  # child -> parent: "forgotten"
    pid = os.fork()
    if pid == 0:  # child: forget the inherited descriptor, say so, wait to be told
        try:
            lock.forget()
            os.write(w2, b"f")
            os.close(w)
            os.read(r, 1)
            os._exit(0)
        finally:
            os._exit(9)
    os.close(r)
    os.close(w2)
    assert os.read(r2, 1) == b"f"
    os.close(r2)
    try:
        other = HostLock("k3", str(tmp_path))
        assert not other.try_acquire()  # the child's forget() did not unlock the parent's
        lock.release()  # the parent ends: free, although the child still lives
        assert other.try_acquire()
        other.release()
    finally:
        os.close(w)
        os.waitpid(pid, 0)


def test_the_key_is_a_hash_of_the_redacted_config() -> None:
    a = lock_key({"targets": [{"id": "t1", "client_secret": "***"}]})
    assert len(a) == 16 and a == lock_key({"targets": [{"id": "t1", "client_secret": "***"}]})
    assert a != lock_key({"targets": [{"id": "t2", "client_secret": "***"}]})


def test_helper_interpreters_are_recognised() -> None:
    tracker = ["python", "-c", "from multiprocessing.resource_tracker import main;main(5)"]
    assert helper_interpreter(tracker) == "multiprocessing.resource_tracker"
    server = ["python", "-c", "from multiprocessing.forkserver import main; main(3, 4, [])"]
    assert helper_interpreter(server) == "multiprocessing.forkserver"
    spawned = ["python", "-c", "from multiprocessing.spawn import spawn_main; spawn_main()"]
    assert helper_interpreter(spawned) is None  # a worker, not a helper
    assert helper_interpreter(["gunicorn", "-w", "3", "app:app"]) is None
