"""Accuracy: reported RTT against ground truth recorded by a delay proxy.

The rig, three processes on loopback::

    measured client  ->  _netem fault proxy (adds delay per direction,  ->  echo server
    (pulse / raw /        records every chunk it forwards: when it was       (bench/_echo_server.py)
     websockets)          read and when it was written on)

For every exchange the proxy knows exactly when the request reached it and
when it wrote the reply back towards the client, so the *rig RTT* of the
exchange, ``reply.sent - request.received``, is known on the proxy's clock: the
added delays of both directions (timer lateness included), the server's
turnaround and the proxy<->server hops. What the client reports beyond that is
the two client<->proxy loopback hops plus the client's own measurement error:

    excess = reported RTT - rig RTT

The raw-socket client (a blocking socket sending a hand-built ping frame,
timing until the pong's bytes are read) shows the physical floor of that
excess. The *error* of a client is ``excess - median(raw excess)``: what it
adds beyond a raw socket through the same rig, in the same run.

Matching samples to proxy records: records carry the client's port, so each
connection's records are separated; within a connection and direction they are
in order (the proxy never reorders). Each probe slot (the samples of one
connection with the same sequence number) owns the upstream chunks the proxy
read between its first send time (minus a 2 ms margin, as the proxy may read
the bytes before the client reads its clock) and the next slot's, and the
downstream chunks written from its first upstream chunk on until the next
slot. The control ping is written first, so it pairs with the slot's first
upstream and first downstream chunk; the application message with the last of
each (the same chunk when the proxy or the server coalesced both). A slot with
more than two chunks in a direction, none, or a reply the client reports
before the proxy wrote it is counted as unmatched and left out. The last slot
of each connection is not used (its window has no end: close frames follow).

    .venv/bin/python bench/accuracy.py            # 1, 100, 1000 targets, fixed and normal delay
    .venv/bin/python bench/accuracy.py --quick    # CI smoke
"""

from __future__ import annotations

import argparse
import bisect
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _arms import run_arm  # noqa: E402
from _common import machine, pct, save, start_echo_server, table  # noqa: E402

MARGIN = 0.002

Rec = list[Any]  # [conn, received, sent, nbytes]


def match(samples: list[list[Any]], records: dict[str, list[Rec]]) -> dict[str, Any]:
    """Pair samples ``[port, control?, seq, sent, rtt]`` with proxy records.

    Returns per probe kind the list of ``(excess, added_delay)`` and the
    count of unmatched samples.
    """
    up: dict[int, list[Rec]] = defaultdict(list)
    down: dict[int, list[Rec]] = defaultdict(list)
    for r in records["up"]:
        up[r[0]].append(r)
    for r in records["down"]:
        down[r[0]].append(r)
    for d in up.values():
        d.sort(key=lambda r: r[1])
    for d in down.values():
        d.sort(key=lambda r: r[2])
    slots: dict[int, dict[int, dict[bool, tuple[float, float]]]] = defaultdict(dict)
    for port, control, seq, sent, rtt in samples:
        slots[port].setdefault(seq, {})[control] = (sent, rtt)
    out: dict[str, Any] = {"control": [], "application": [], "unmatched": 0, "why": []}
    for port, by_seq in slots.items():
        ups, downs = up.get(port, []), down.get(port, [])
        up_t = [r[1] for r in ups]
        down_t = [r[2] for r in downs]
        order = sorted(by_seq.items(), key=lambda kv: min(s for s, _ in kv[1].values()))
        starts = [min(s for s, _ in v.values()) for _, v in order]
        # the last slot of a connection has no known end (close frames follow): not used
        for i, (_seq, kinds) in enumerate(order[:-1]):
            lo = starts[i] - MARGIN
            hi = starts[i + 1] - MARGIN
            u = ups[bisect.bisect_left(up_t, lo) : bisect.bisect_left(up_t, hi)]
            if not u or len(u) > 2:
                out["unmatched"] += len(kinds)
                out["why"].append(("up", len(u)))
                continue
            dn = downs[bisect.bisect_left(down_t, u[0][1]) : bisect.bisect_left(down_t, hi)]
            if not dn or len(dn) > 2:
                out["unmatched"] += len(kinds)
                out["why"].append(("down", len(dn)))
                continue
            for control, (sent, rtt) in kinds.items():
                first = control or len(kinds) == 1
                req = u[0] if first else u[-1]
                rep = dn[0] if first else dn[-1]
                if sent + rtt < rep[2] - 0.0005:  # client saw it before the proxy wrote it
                    out["unmatched"] += 1
                    out["why"].append(("early", sent + rtt - rep[2]))
                    continue
                rig = rep[2] - req[1]
                added = (req[2] - req[1]) + (rep[2] - rep[1])
                out["control" if control else "application"].append((rtt - rig, added))
    return out


class Proxy:
    """The fault proxy in a process of its own (``_arms.py proxy``)."""

    def __init__(self, upstream_port: int, delay: str) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                str(HERE / "_arms.py"),
                "proxy",
                "--port",
                str(upstream_port),
                "--delay",
                delay,
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.port = int(json.loads(self.proc.stdout.readline())["port"])

    def dump(self, path: str) -> dict[str, list[Rec]]:
        """Hand over (and forget) the records so far."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(f"dump {path}\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if "dumped" not in line:
            raise RuntimeError("proxy did not dump its records")
        data: dict[str, list[Rec]] = json.loads(Path(path).read_text())
        return data

    def close(self) -> None:
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.write("quit\n")
            self.proc.stdin.flush()
            self.proc.wait(5)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait(5)


def run(a: argparse.Namespace) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    echo, echo_port = start_echo_server()
    tmp = tempfile.mkdtemp(prefix="pulse-accuracy-")
    try:
        for delay in a.delays:
            proxy = Proxy(echo_port, delay)
            try:
                for n in a.targets:
                    rows += one_config(a, proxy, delay, n, tmp)
            finally:
                proxy.close()
    finally:
        echo.kill()
        echo.wait(5)
    return {"rows": rows}


def one_config(
    a: argparse.Namespace, proxy: Proxy, delay: str, n: int, tmp: str
) -> list[dict[str, Any]]:
    load = os.getloadavg()[0]
    samples_path = os.path.join(tmp, "samples.json")
    rec_path = os.path.join(tmp, "records.json")
    results: dict[str, dict[str, Any]] = {}
    base = ["--port", str(proxy.port), "--count", str(a.count), "--interval", "0.05"]
    for client in ("raw", "websockets"):
        proxy.dump(rec_path)  # drop whatever came before
        run_arm([client, *base, "--samples-out", samples_path], timeout=120)
        results[client] = match(json.loads(Path(samples_path).read_text()), proxy.dump(rec_path))
    interval = 0.1 if n == 1 else a.interval
    proxy.dump(rec_path)
    info = run_arm(
        [
            "pulse",
            "--url",
            f"ws://127.0.0.1:{proxy.port}/",
            "--targets",
            str(n),
            "--interval",
            str(interval),
            "--warmup",
            str(a.warmup),
            "--duration",
            str(a.duration),
            "--samples-out",
            samples_path,
        ],
        timeout=a.duration + 300,
    )
    results["genesys-pulse"] = match(
        json.loads(Path(samples_path).read_text()), proxy.dump(rec_path)
    )
    floor = pct([e for e, _ in results["raw"]["control"]], 50)
    out = []
    for client, res in results.items():
        for probe in ("control", "application"):
            pairs = res[probe]
            if not pairs:
                continue
            excess = [e for e, _ in pairs]
            err = [e - floor for e in excess]
            out.append(
                {
                    "delay": delay,
                    "targets": n if client == "genesys-pulse" else 1,
                    "pulse_targets": n,
                    "client": client,
                    "probe": probe,
                    "n": len(pairs),
                    "unmatched": res["unmatched"],
                    "added_mean_s": sum(d for _, d in pairs) / len(pairs),
                    "excess_p50_s": pct(excess, 50),
                    "excess_p99_s": pct(excess, 99),
                    "error_p50_s": pct(err, 50),
                    "error_p99_s": pct(err, 99),
                    "timeouts": info["timeouts"] if client == "genesys-pulse" else 0,
                    "load1": round(load, 2),
                }
            )
    return out


def ms(x: float) -> str:
    return f"{x * 1000:.3f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--quick", action="store_true", help="tiny counts (CI smoke)")
    ap.add_argument("--targets", type=int, nargs="+", default=[1, 100, 1000])
    ap.add_argument(
        "--delays",
        nargs="+",
        default=["fixed:0.005", "normal:0.005,0.001"],
        help="per direction: fixed:SECONDS or normal:MEAN,STDEV",
    )
    ap.add_argument("--duration", type=float, default=20.0, help="pulse measuring window (s)")
    ap.add_argument("--warmup", type=float, default=2.0)
    ap.add_argument("--interval", type=float, default=1.0, help="probe interval (1 target: 0.1)")
    ap.add_argument("--count", type=int, default=300, help="raw / websockets pings")
    a = ap.parse_args()
    if a.quick:
        a.targets, a.delays, a.duration, a.warmup, a.count = [1, 3], ["fixed:0.002"], 1.0, 0.3, 20
        a.interval = 0.2
    t0 = time.time()
    res = run(a)
    headers = [
        "delay/dir",
        "targets",
        "client",
        "probe",
        "n",
        "unmatched",
        "added ms",
        "excess p50",
        "excess p99",
        "error p50",
        "error p99",
        "load",
    ]
    print(f"\nRTT error against the proxy's ground truth (ms); machine: {machine()}\n")
    print(
        table(
            headers,
            (
                [
                    r["delay"],
                    r["targets"],
                    r["client"],
                    r["probe"],
                    r["n"],
                    r["unmatched"],
                    f"{r['added_mean_s'] * 1000:.2f}",
                    ms(r["excess_p50_s"]),
                    ms(r["excess_p99_s"]),
                    ms(r["error_p50_s"]),
                    ms(r["error_p99_s"]),
                    r["load1"],
                ]
                for r in res["rows"]
            ),
        )
    )
    path = save(
        "accuracy" + ("_quick" if a.quick else ""),
        {"args": vars(a), "elapsed_s": time.time() - t0, **res},
    )
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
