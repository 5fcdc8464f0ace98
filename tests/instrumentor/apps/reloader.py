"""Django's autoreloader, reduced to what matters here (no Django needed).

``django.utils.autoreload.restart_with_reloader`` re-runs the same command in a
child interpreter with ``RUN_MAIN=true`` and runs it again whenever it exits with
code 3 (a code change). The parent only supervises; the child serves. Here the
child "reloads" once (exits 3 after a second), then serves for SECONDS.

``python reloader.py SECONDS``; prints ``{"ready": true}`` from the second child.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

RUN_MAIN = "RUN_MAIN"


def main() -> None:
    seconds = float(sys.argv[1])
    if os.environ.get(RUN_MAIN) == "true":
        generation = int(os.environ.get("RELOAD_GENERATION", "0"))
        if generation == 0:
            time.sleep(1.0)
            sys.exit(3)  # a code change: the reloader starts a new child
        print(json.dumps({"ready": True}), flush=True)
        time.sleep(seconds)
        return
    generation = 0
    while True:
        env = {**os.environ, RUN_MAIN: "true", "RELOAD_GENERATION": str(generation)}
        code = subprocess.run([sys.executable, *sys.argv], env=env, check=False).returncode
        if code != 3:
            sys.exit(code)
        generation += 1


if __name__ == "__main__":
    main()
