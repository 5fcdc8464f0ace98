"""``genesys-pulse report`` pages opened in a real headless chromium (playwright).

The page must render offline (every non-file request is blocked and
recorded), log no console error, hold exactly the points the input has in
each plot, and produce a screenshot that is not blank.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from genesys_pulse.cli import main as cli_main

from ._browser import PageCheck, chromium_path, in_ci, open_report, pixel_stats
from ._runs import synthetic_journal, synthetic_run


@pytest.fixture(scope="module")
def browser_ready() -> None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        if in_ci():
            pytest.fail("CI=true but playwright is not installed (the test extra)", pytrace=False)
        pytest.skip("playwright not installed")
    if chromium_path() is None:
        if in_ci():
            pytest.fail(
                "CI=true but chromium is missing: `make browser` installs it", pytrace=False
            )
        pytest.skip("chromium not installed: run `make browser`")


def _report(tmp_path: Path, text: str, name: str) -> Path:
    source = tmp_path / f"{name}.jsonl"
    source.write_text(text)
    out = tmp_path / f"{name}.html"
    assert cli_main(["report", str(source), "-o", str(out)]) == 0
    return out


def _by_meta(check: PageCheck, **want: str) -> list[dict[str, object]]:
    return [
        t
        for t in check.traces
        if isinstance(t["meta"], dict) and all(t["meta"].get(k) == v for k, v in want.items())
    ]


def _one(check: PageCheck, **want: str) -> dict[str, object]:
    found = _by_meta(check, **want)
    assert len(found) == 1, (want, check.traces)
    return found[0]


def _assert_clean(check: PageCheck) -> None:
    assert check.console_errors == []
    assert check.page_errors == []
    assert check.blocked_requests == [], "the page tried to fetch something: not self-contained"


def _assert_not_blank(png: bytes) -> None:
    variance, levels = pixel_stats(png)
    assert variance > 50.0 and levels > 16, (variance, levels)


def test_run_report_renders_every_point_offline(browser_ready: None, tmp_path: Path) -> None:
    text, want = synthetic_run()
    check = open_report(_report(tmp_path, text, "run"))
    _assert_clean(check)

    for probe in ("control", "application"):
        rtt = _one(check, role="rtt", probe=probe)
        assert rtt["n"] == want.answered[probe]
        assert rtt["drawn"] == want.answered[probe], "points in the data but not drawn"
    late = _one(check, role="late", probe="control")
    assert late["n"] == late["drawn"] == want.late["control"]
    assert not _by_meta(check, role="late", probe="application")
    gap = _one(check, role="gap")
    assert gap["n"] == gap["drawn"] == want.heartbeat_gaps

    marks = {t["meta"]["category"]: t for t in _by_meta(check, role="mark")}  # type: ignore[index]
    # Timeouts are marked once each (from the samples, not again from the events).
    assert marks["timeout"]["n"] == marks["timeout"]["drawn"] == sum(want.timeouts.values())
    assert marks["late answer"]["n"] == sum(want.late.values())
    assert marks["reconnect"]["n"] == marks["reconnect"]["drawn"] == want.reconnects
    assert marks["rotation"]["n"] == want.rotations
    assert marks["threshold"]["n"] == want.threshold_changes
    assert marks["connection"]["n"] == want.connection_changes

    assert check.summary_rows == 3  # control, application, heartbeat
    assert check.event_rows == want.table_events  # `window` summaries are not listed
    _assert_not_blank(check.screenshot)


def test_journal_report_marks_events_without_rtt(browser_ready: None, tmp_path: Path) -> None:
    text, records = synthetic_journal()
    check = open_report(_report(tmp_path, text, "journal"))
    _assert_clean(check)
    assert not _by_meta(check, role="rtt")
    marks = {t["meta"]["category"]: t["n"] for t in _by_meta(check, role="mark")}  # type: ignore[index]
    assert marks["timeout"] == 2  # from the journal's timeout records
    assert marks["reconnect"] == 1 and marks["rotation"] == 1 and marks["threshold"] == 1
    assert sum(marks.values()) == records  # every record is marked somewhere
    assert check.event_rows == records
    _assert_not_blank(check.screenshot)


def test_blank_check_has_teeth() -> None:
    """A uniform image fails the non-blank check the screenshots pass."""
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (200, 100), (255, 255, 255)).save(buf, format="PNG")
    with pytest.raises(AssertionError):
        _assert_not_blank(buf.getvalue())
