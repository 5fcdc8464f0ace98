"""``genesys-pulse report``: one self-contained HTML file from a JSON-lines run or the journal.

    genesys-pulse run --emulator --duration 5m --output jsonl > run.jsonl
    genesys-pulse report run.jsonl -o run.html

The page works offline: plotly's JavaScript is embedded in the file (no CDN,
no fonts or images fetched), so it can be mailed, attached to a ticket or
opened on an air-gapped host. It shows:

* RTT over time per target and probe type (milliseconds), with late answers
  (``late_rtt_s`` of timed-out samples) drawn at their late RTT;
* a marker row per kind of happening: timeouts, late answers, reconnects,
  connection changes, rotations, threshold changes, token events; reconnects,
  rotations and threshold changes are also drawn as vertical lines across
  the RTT plot;
* heartbeat gaps when the input has them;
* a summary table (percentiles and jitter, each with its definition) and the
  events table.

The figures come from :mod:`genesys_pulse.core._report` (pure); this module
reads the file and draws. Plotly is an optional dependency (the ``report``
extra): a well-kept library that embeds its JavaScript, instead of a
hand-written chart.

Exit status: 0 written; 2 unreadable input, nothing usable in it, or plotly
missing (one line says which). Skipped input lines are reported on stderr,
one line each (at most 20, then a count).
"""

from __future__ import annotations

import argparse
import html
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from genesys_pulse.core import (
    CATEGORIES,
    EventMark,
    ProbeSummary,
    ReportData,
    parse_report_lines,
    summarise,
)

__all__ = ["add_arguments", "main", "render_html"]

_MAX_PROBLEM_LINES = 20
_MAX_TABLE_ROWS = 5000
_MAX_VLINES = 300
#: Marker-row events drawn as vertical lines across the RTT plot.
_VLINE_CATEGORIES = {"reconnect": "#d62728", "rotation": "#9467bd", "threshold": "#ff7f0e"}
_SYMBOLS = {
    "timeout": "x",
    "late answer": "diamond-open",
    "reconnect": "triangle-up",
    "connection": "circle-open",
    "rotation": "star",
    "threshold": "square",
    "token": "hexagon-open",
    "other": "circle",
}
#: Above this many points a trace is drawn with WebGL instead of SVG.
_WEBGL_FROM = 20_000


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "input",
        help="a JSON-lines run (`genesys-pulse run --output jsonl`) or an audit journal "
        "file; '-' reads standard input",
    )
    parser.add_argument(
        "-o",
        "--output",
        help="the HTML file to write (default: the input's name with .html; "
        "'report.html' for standard input)",
    )
    parser.add_argument("--title", default=None, help="page title (default: from the input)")


def _ms(x: float | None) -> str:
    return "&ndash;" if x is None else f"{x * 1000:.1f}"


def _attr_text(attrs: Mapping[str, Any], limit: int = 6) -> str:
    items = list(attrs.items())
    text = ", ".join(f"{k}={v}" for k, v in items[:limit])
    return text + (f", … (+{len(items) - limit})" if len(items) > limit else "")


def _figure(data: ReportData) -> Any:
    """The plotly figure: RTT row, optional heartbeat row, marker row."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    rtt_series = [s for s in data.series.values() if s.rtt_s or s.timeout_at or s.late_rtt_s]
    gap_series = [s for s in data.series.values() if s.gap_s]
    rows: list[str] = []
    if rtt_series:
        rows.append("rtt")
    if gap_series:
        rows.append("gap")
    rows.append("marks")
    heights = {"rtt": 0.55, "gap": 0.2, "marks": 0.25}
    titles = {
        "rtt": "RTT per target and probe type (ms)",
        "gap": "heartbeat gap (s)",
        "marks": "timeouts, late answers and events",
    }
    fig = make_subplots(
        rows=len(rows),
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.07,
        row_heights=[heights[r] for r in rows],
        subplot_titles=[titles[r] for r in rows],
    )
    row_of = {name: i + 1 for i, name in enumerate(rows)}

    def scatter(n: int) -> Any:
        return go.Scattergl if n >= _WEBGL_FROM else go.Scatter

    for s in sorted(rtt_series, key=lambda s: (s.target, s.probe)):
        if s.rtt_s:
            fig.add_trace(
                scatter(len(s.rtt_s))(
                    x=s.at,
                    y=[v * 1000 for v in s.rtt_s],
                    mode="lines+markers",
                    marker={"size": 4},
                    line={"width": 1},
                    name=f"{s.target} {s.probe} RTT",
                    meta={"role": "rtt", "target": s.target, "probe": s.probe},
                    hovertemplate="%{x}<br>%{y:.1f} ms<extra>%{fullData.name}</extra>",
                ),
                row=row_of["rtt"],
                col=1,
            )
        if s.late_rtt_s:
            fig.add_trace(
                scatter(len(s.late_rtt_s))(
                    x=s.late_at,
                    y=[v * 1000 for v in s.late_rtt_s],
                    mode="markers",
                    marker={"size": 9, "symbol": "diamond-open", "color": "#d62728"},
                    name=f"{s.target} {s.probe} late answer",
                    meta={"role": "late", "target": s.target, "probe": s.probe},
                    hovertemplate="%{x}<br>late: %{y:.1f} ms<extra>%{fullData.name}</extra>",
                ),
                row=row_of["rtt"],
                col=1,
            )
    for s in sorted(gap_series, key=lambda s: s.target):
        fig.add_trace(
            scatter(len(s.gap_s))(
                x=s.gap_at,
                y=s.gap_s,
                mode="lines+markers",
                marker={"size": 4},
                name=f"{s.target} heartbeat gap",
                meta={"role": "gap", "target": s.target, "probe": s.probe},
            ),
            row=row_of["gap"],
            col=1,
        )

    # Marker row: one trace per category. Timeouts and late answers come
    # from the samples when there are any (the run's "timeout" events would
    # mark them twice), from the events otherwise (the journal).
    marks: dict[str, tuple[list[str], list[str]]] = {c: ([], []) for c in CATEGORIES}
    have_sample_timeouts = any(s.timeout_at for s in data.series.values())
    for s in data.series.values():
        for at in s.timeout_at:
            marks["timeout"][0].append(at)
            marks["timeout"][1].append(f"{s.target} {s.probe} timeout")
        for at, late in zip(s.late_at, s.late_rtt_s, strict=True):
            marks["late answer"][0].append(at)
            marks["late answer"][1].append(f"{s.target} {s.probe} late answer {late * 1000:.1f} ms")
    for ev in data.events:
        if ev.category == "timeout" and have_sample_timeouts:
            continue
        marks[ev.category][0].append(ev.at)
        marks[ev.category][1].append(f"{ev.target} {ev.name} {_attr_text(ev.attributes)}")
    for category in CATEGORIES:
        xs, texts = marks[category]
        if not xs:
            continue
        fig.add_trace(
            scatter(len(xs))(
                x=xs,
                y=[category] * len(xs),
                mode="markers",
                marker={"size": 10, "symbol": _SYMBOLS[category]},
                name=category,
                text=texts,
                meta={"role": "mark", "category": category},
                hovertemplate="%{x}<br>%{text}<extra></extra>",
            ),
            row=row_of["marks"],
            col=1,
        )
    fig.update_yaxes(
        categoryorder="array",
        categoryarray=list(reversed(CATEGORIES)),
        row=row_of["marks"],
        col=1,
    )

    if "rtt" in row_of:
        drawn = 0
        for ev in data.events:
            colour = _VLINE_CATEGORIES.get(ev.category)
            if colour is None or drawn >= _MAX_VLINES:
                continue
            fig.add_vline(x=ev.at, line={"color": colour, "width": 1, "dash": "dot"}, row=1, col=1)
            drawn += 1
    fig.update_layout(
        height=260 + 220 * len(rows),
        margin={"l": 60, "r": 20, "t": 40, "b": 40},
        legend={"orientation": "h", "y": -0.08},
        template="plotly_white",
        hovermode="closest",
    )
    return fig


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.4em;margin:0 0 .2em}h2{font-size:1.15em;margin:1.4em 0 .4em}
.meta{color:#555;margin:.2em 0}.problems{color:#a40000}
table{border-collapse:collapse;font-size:.85em}
th,td{border:1px solid #ccc;padding:.25em .5em;text-align:right;vertical-align:top}
th{background:#f3f3f3}td.l,th.l{text-align:left}
.defs{font-size:.85em;color:#444;max-width:60em}
"""


def _summary_table(rows: Sequence[ProbeSummary]) -> str:
    head = (
        "<tr><th class=l>target</th><th class=l>probe</th><th>samples</th><th>answered</th>"
        "<th>timeouts</th><th>late answers</th><th>p50 ms</th><th>p95 ms</th><th>p99 ms</th>"
        "<th>max ms</th><th>p95 ms with late</th><th>p99 ms with late</th>"
        "<th>IPDV mean ms</th><th>IPDV p95 ms</th><th>RFC 3550 jitter ms</th>"
        "<th>heartbeat gap p50 s</th><th>heartbeat gap max s</th></tr>"
    )
    body = []
    for r in rows:
        gap50 = "&ndash;" if r.gap_p50 is None else f"{r.gap_p50:.2f}"
        gapmax = "&ndash;" if r.gap_max is None else f"{r.gap_max:.2f}"
        body.append(
            f"<tr><td class=l>{html.escape(r.target)}</td><td class=l>{html.escape(r.probe)}</td>"
            f"<td>{r.samples}</td><td>{r.answered}</td><td>{r.timeouts}</td><td>{r.late}</td>"
            f"<td>{_ms(r.p50)}</td><td>{_ms(r.p95)}</td><td>{_ms(r.p99)}</td><td>{_ms(r.max)}</td>"
            f"<td>{_ms(r.p95_with_late)}</td><td>{_ms(r.p99_with_late)}</td>"
            f"<td>{_ms(r.ipdv_mean)}</td><td>{_ms(r.ipdv_p95)}</td><td>{_ms(r.rfc3550)}</td>"
            f"<td>{gap50}</td><td>{gapmax}</td></tr>"
        )
    return f"<table id=summary>{head}{''.join(body)}</table>"


_DEFINITIONS = """<p class=defs>Percentiles: nearest-rank over the answered RTTs of the whole input
(timeouts are counted, not ranked). "With late": the RTTs of answers that arrived after the
deadline are ranked too. IPDV: |RTT<sub>k</sub> &minus; RTT<sub>k&minus;1</sub>| over consecutive answered
probes (RFC 3393 applied to RTTs; a timeout breaks the pair). RFC 3550 jitter: the smoothed
estimator J += (|D| &minus; J)/16 over the same pairs, its value at the end of the input. Heartbeat
gap: time between two server heartbeats, nearest-rank.</p>"""


def _events_table(events: Sequence[EventMark]) -> str:
    head = "<tr><th class=l>time (UTC)</th><th class=l>target</th><th class=l>event</th><th class=l>attributes</th></tr>"
    body = [
        f"<tr><td class=l>{html.escape(ev.at)}</td><td class=l>{html.escape(ev.target)}</td>"
        f"<td class=l>{html.escape(ev.name)}</td>"
        f"<td class=l>{html.escape(json.dumps(dict(ev.attributes), default=str, sort_keys=True))}</td></tr>"
        for ev in events[:_MAX_TABLE_ROWS]
    ]
    note = (
        f"<p class=meta>first {_MAX_TABLE_ROWS} of {len(events)} events</p>"
        if len(events) > _MAX_TABLE_ROWS
        else ""
    )
    return f"{note}<table id=events>{head}{''.join(body)}</table>"


def render_html(data: ReportData, *, title: str, source_name: str) -> str:
    """The whole page, plotly's JavaScript inlined."""
    fig = _figure(data)
    plot = fig.to_html(
        full_html=False,
        include_plotlyjs=True,
        div_id="pulse-plot",
        config={"displaylogo": False, "responsive": True},
    )
    times = sorted(
        [ev.at for ev in data.events]
        + [t for s in data.series.values() for t in (*s.at, *s.timeout_at, *s.gap_at)]
    )
    span = f"{times[0]} … {times[-1]}" if times else "no timestamps"
    problems = (
        f"<p class='meta problems'>{len(data.problems)} input line(s) skipped; the first: "
        f"{html.escape(data.problems[0])}</p>"
        if data.problems
        else ""
    )
    kind = {"run": "JSON-lines run", "journal": "audit journal (events only: no RTT samples)"}
    return (
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>"
        f"<p class=meta>source: {html.escape(source_name)} · "
        f"{html.escape(kind.get(data.source_kind, data.source_kind))} · {html.escape(span)} · "
        f"{sum(len(s.outcomes) + len(s.gap_s) for s in data.series.values())} samples, "
        f"{len(data.events)} events</p>{problems}"
        f"{plot}<h2>Summary</h2>{_summary_table(summarise(data))}{_DEFINITIONS}"
        f"<h2>Events</h2>{_events_table(data.events)}</body></html>\n"
    )


def main(args: argparse.Namespace) -> int:
    try:
        import plotly  # noqa: F401
    except ImportError:
        print(
            "genesys-pulse report: needs plotly; install the 'report' extra: "
            "pip install 'genesys-pulse[report]'",
            file=sys.stderr,
        )
        return 2
    source = str(args.input)
    try:
        if source == "-":
            text = sys.stdin.read()
            source_name = "standard input"
        else:
            text = Path(source).read_text(encoding="utf-8")
            source_name = Path(source).name
    except (OSError, UnicodeDecodeError) as exc:
        print(f"genesys-pulse report: cannot read input {source!r}: {exc}", file=sys.stderr)
        return 2
    data = parse_report_lines(text.splitlines())
    for problem in data.problems[:_MAX_PROBLEM_LINES]:
        print(f"genesys-pulse report: {source_name} {problem}", file=sys.stderr)
    if len(data.problems) > _MAX_PROBLEM_LINES:
        print(
            f"genesys-pulse report: {len(data.problems) - _MAX_PROBLEM_LINES} more "
            "skipped lines not listed",
            file=sys.stderr,
        )
    if not data.series and not data.events:
        print(
            f"genesys-pulse report: {source_name}: no samples or events found "
            "(expected `genesys-pulse run --output jsonl` lines or audit journal records)",
            file=sys.stderr,
        )
        return 2
    if args.output:
        out = Path(args.output)
    elif source == "-":
        out = Path("report.html")
    else:
        out = Path(source).with_suffix(".html")
    title = args.title or f"genesys-pulse report: {source_name}"
    page = render_html(data, title=title, source_name=source_name)
    try:
        out.write_text(page, encoding="utf-8")
    except OSError as exc:
        print(f"genesys-pulse report: cannot write {str(out)!r}: {exc}", file=sys.stderr)
        return 2
    print(f"genesys-pulse report: wrote {out} ({len(page) // 1024} KiB)", file=sys.stderr)
    return 0
