"""A tiny stdlib web service that knows nothing about genesys-pulse.

Run it under OpenTelemetry auto-instrumentation and the genesys-pulse plugin
starts monitoring in the background, with no code change::

    pip install .        # from a checkout of this repository (or a built wheel)
    # + the service's own SDK set-up, e.g.:
    pip install opentelemetry-distro opentelemetry-exporter-otlp-proto-http
    export GENESYS_PULSE_ENVIRONMENT=mypurecloud.ie        # or GENESYS_PULSE_CONFIG=pulse.toml
    export GENESYS_CLOUD_CLIENT_ID=... GENESYS_CLOUD_CLIENT_SECRET=...
    export OTEL_SERVICE_NAME=web OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf
    export OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318 OTEL_LOGS_EXPORTER=otlp
    opentelemetry-instrument python examples/web_service/app.py --port 8080

Without an SDK (no distro) the plugin still runs and says in one WARNING on
stderr that its telemetry goes nowhere.

``GET /`` answers ``hello``; ``GET /threads`` lists the process's threads
(the monitor runs in one named ``genesys-pulse-monitor``). The first line on
stdout is ``{"port": N}``. SIGTERM or SIGINT stops it cleanly (exit hooks run,
so the monitor stops and telemetry is flushed).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType


class Handler(BaseHTTPRequestHandler):
    """``/`` and ``/threads``."""

    def do_GET(self) -> None:
        if self.path == "/threads":
            body = json.dumps(sorted(t.name for t in threading.enumerate())).encode()
            kind = "application/json"
        else:
            body, kind = b"hello\n", "text/plain"
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args()
    server = ThreadingHTTPServer((args.host, args.port), Handler)

    def stop(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(json.dumps({"port": server.server_address[1]}), flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()


if __name__ == "__main__":
    sys.exit(main())
