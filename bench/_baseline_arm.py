"""Run a baseline commit's own ``bench/_arms.py`` on its own ``src`` (the previous design).

    python bench/_baseline_arm.py BASELINE_DIR pulse --url ... [--jsonl PATH]

``BASELINE_DIR`` holds ``src`` and ``bench`` of the baseline commit
(``_arms.extract_baseline``). Both go first on the import path, so the
baseline's ``_arms`` module and the baseline's ``genesys_pulse`` are the ones
imported (checked: the run stops if another ``genesys_pulse`` was found).
``--jsonl PATH`` is handled here for baselines whose arms predate it: the same
JSONL sink as the current arms (``_jsonl.py``) is added to the baseline's sinks.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def main() -> None:
    root = Path(sys.argv[1]).resolve()
    args = sys.argv[2:]
    jsonl = None
    if "--jsonl" in args:
        i = args.index("--jsonl")
        jsonl = args[i + 1]
        del args[i : i + 2]
    # the baseline's bench and src first; this directory only for _jsonl
    sys.path[:] = [str(root / "bench"), str(root / "src"), *sys.path[1:], str(HERE)]
    import genesys_pulse

    where = Path(genesys_pulse.__file__).resolve()
    if root not in where.parents:
        raise SystemExit(f"baseline arm imported genesys_pulse from {where}, not from {root}")
    import _arms as base  # the baseline's module

    if Path(base.__file__).resolve().parent != root / "bench":
        raise SystemExit(f"baseline arm imported {base.__file__}, not the baseline's _arms.py")
    if jsonl is not None:
        from _jsonl import jsonl_sink

        original = base._sinks

        def sinks(kind: str, endpoint: str | None, window: float) -> tuple[list[Any], Any]:
            extra, keep = original(kind, endpoint, window)
            return [*extra, jsonl_sink(jsonl)], keep

        base._sinks = sinks
    sys.argv = [str(root / "bench" / "_arms.py"), *args]
    base.main()


if __name__ == "__main__":
    main()
