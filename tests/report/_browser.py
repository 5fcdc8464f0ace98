"""Open a report in a real headless browser (Debian's chromium, driven by playwright).

Playwright is used with the system chromium (``executable_path``): no browser
is downloaded. ``make browser`` installs chromium (apt-get); without it the
browser tests skip locally and fail in CI (``CI=true``).

Also a small command line, used to make the README screenshot from a run::

    .venv/bin/python -m tests.report._browser run.jsonl docs/img/report.png
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Inspect every plotly trace once the page has rendered: its name, its
#: ``meta``, how many x values it holds, and how many point markers are drawn
#: in the SVG for it (plotly binds each trace's calcdata to its ``g.trace``).
_TRACES_JS = """
() => {
  const gd = document.getElementById('pulse-plot');
  if (!gd || !gd.data) return null;
  const drawn = {};
  gd.querySelectorAll('g.trace').forEach(g => {
    const cd = g.__data__;
    const trace = cd && cd[0] && cd[0].trace;
    if (!trace) return;
    drawn[trace.index] = g.querySelectorAll('.points path').length;
  });
  return gd.data.map((t, i) => ({
    name: t.name, meta: t.meta || null, n: t.x ? t.x.length : 0,
    drawn: i in drawn ? drawn[i] : null, type: t.type
  }));
}
"""


@dataclass
class PageCheck:
    """What the browser saw."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    blocked_requests: list[str] = field(default_factory=list)
    traces: list[dict[str, Any]] = field(default_factory=list)
    summary_rows: int = 0
    event_rows: int = 0
    screenshot: bytes = b""


def chromium_path() -> str | None:
    """The system chromium, if installed."""
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def open_report(html_file: Path, *, width: int = 1280, height: int = 1000) -> PageCheck:
    """Load ``html_file`` with every network request blocked and recorded; inspect; screenshot."""
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    if executable is None:
        raise RuntimeError("chromium not found: run `make browser`")
    check = PageCheck()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=executable,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        )
        try:
            page = browser.new_page(viewport={"width": width, "height": height})

            def route(r: Any) -> None:
                url = r.request.url
                if url.startswith(("file:", "data:", "blob:")):
                    r.continue_()
                else:  # offline: nothing may be fetched
                    check.blocked_requests.append(url)
                    r.abort()

            page.route("**/*", route)
            page.on(
                "console",
                lambda m: check.console_errors.append(m.text) if m.type == "error" else None,
            )
            page.on("pageerror", lambda e: check.page_errors.append(str(e)))
            page.goto(html_file.resolve().as_uri(), wait_until="load", timeout=60_000)
            page.wait_for_selector("#pulse-plot .main-svg", timeout=60_000)
            page.wait_for_function(
                "() => { const g = document.getElementById('pulse-plot');"
                " return g && g._fullLayout && g.querySelectorAll('g.trace').length > 0; }",
                timeout=60_000,
            )
            check.traces = page.evaluate(_TRACES_JS) or []
            check.summary_rows = page.locator("#summary tr").count() - 1
            check.event_rows = page.locator("#events tr").count() - 1
            check.screenshot = page.screenshot(full_page=False, type="png")
        finally:
            browser.close()
    return check


def pixel_stats(png: bytes) -> tuple[float, int]:
    """(variance of the grey levels, number of distinct grey levels) of a PNG."""
    import io

    from PIL import Image, ImageStat

    with Image.open(io.BytesIO(png)) as img:
        grey = img.convert("L")
        stat = ImageStat.Stat(grey)
        return float(stat.var[0]), len(grey.getcolors(256) or [])


def _main(argv: list[str]) -> int:
    """``python -m tests.report._browser RUN.jsonl OUT.png``: the README screenshot."""
    import io
    import tempfile

    from PIL import Image

    from genesys_pulse.cli import main as cli_main

    if len(argv) != 2:
        print("usage: python -m tests.report._browser RUN.jsonl OUT.png", file=sys.stderr)
        return 2
    source, out = Path(argv[0]), Path(argv[1])
    with tempfile.TemporaryDirectory() as tmp:
        html_file = Path(tmp) / "report.html"
        rc = cli_main(
            ["report", str(source), "-o", str(html_file), "--title", "genesys-pulse report"]
        )
        if rc != 0:
            return rc
        check = open_report(html_file, width=1200, height=900)
    problems = check.console_errors + check.page_errors + check.blocked_requests
    if problems:
        print(f"the page had problems: {problems}", file=sys.stderr)
        return 1
    with Image.open(io.BytesIO(check.screenshot)) as img:
        small = img.convert("RGB").resize((960, 720))
        small = small.quantize(colors=128)
        out.parent.mkdir(parents=True, exist_ok=True)
        small.save(out, optimize=True)
    print(f"wrote {out} ({out.stat().st_size // 1024} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
