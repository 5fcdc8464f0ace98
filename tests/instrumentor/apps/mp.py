"""A program using multiprocessing that knows nothing about genesys-pulse.

``python mp.py METHOD SECONDS``: three long-lived children and a recycling pool
(``maxtasksperchild``, as Celery's prefork pool does) of the given start method,
for SECONDS; prints ``{"ready": true}`` once everything started, ``{"done": true}``
at the end.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import sys
import time


def work(x: int) -> int:
    time.sleep(0.02)
    return os.getpid()


def child(seconds: float) -> None:
    time.sleep(seconds)


def main() -> None:
    method, seconds = sys.argv[1], float(sys.argv[2])
    ctx = mp.get_context(method)
    deadline = time.monotonic() + seconds
    procs = [ctx.Process(target=child, args=(seconds,)) for _ in range(3)]
    for p in procs:
        p.start()
    pids: set[int] = set()
    with ctx.Pool(2, maxtasksperchild=3) as pool:
        pids.update(pool.map(work, range(4)))
        print(json.dumps({"ready": True}), flush=True)
        while time.monotonic() < deadline:
            pids.update(pool.map(work, range(4)))
            time.sleep(0.2)
    for p in procs:
        p.join()
    print(json.dumps({"done": True, "pool_workers": len(pids)}), flush=True)


if __name__ == "__main__":
    main()
