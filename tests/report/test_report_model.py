"""The report's data and figures (pure), and the command's errors."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from genesys_pulse.cli import main as cli_main
from genesys_pulse.core._report import event_category, parse_report_lines, summarise

from ._runs import synthetic_journal, synthetic_run


def test_run_is_read_with_late_answers_and_heartbeat_gaps() -> None:
    text, want = synthetic_run()
    data = parse_report_lines(text.splitlines())
    assert data.source_kind == "run" and data.problems == []
    control = data.series[("gc-euw1-prod", "control")]
    assert len(control.rtt_s) == want.answered["control"]
    assert len(control.timeout_at) == want.timeouts["control"]
    assert len(control.late_rtt_s) == want.late["control"]
    assert len(data.series[("gc-euw1-prod", "heartbeat")].gap_s) == want.heartbeat_gaps
    assert all(ev.name != "window" for ev in data.events)
    assert data.summary is not None


def test_summary_figures_follow_their_definitions() -> None:
    rtts = [0.010, 0.030, 0.020, None, 0.050, 0.040]
    lines = [
        json.dumps(
            {
                "type": "sample",
                "target": "t",
                "probe": "control",
                "rtt_s": r,
                "timed_out": r is None,
                "at": f"2026-12-05T10:00:{i:02d}Z",
                **({"late_rtt_s": 2.0} if r is None else {}),
            }
        )
        for i, r in enumerate(rtts)
    ]
    (s,) = summarise(parse_report_lines(lines))
    assert (s.answered, s.timeouts, s.late) == (5, 1, 1)
    # nearest rank over [10, 20, 30, 40, 50] ms: p50 = 3rd value, p95 = 5th
    assert s.p50 == pytest.approx(0.030) and s.p95 == pytest.approx(0.050)
    assert s.p99_with_late == pytest.approx(2.0)  # the late answer ranks on top
    # IPDV pairs: 10->30, 30->20; the timeout breaks 20..50; 50->40
    assert s.ipdv_mean == pytest.approx((0.020 + 0.010 + 0.010) / 3)
    j = 0.0
    for d in (0.020, 0.010, 0.010):
        j += (d - j) / 16
    assert s.rfc3550 is not None and math.isclose(s.rfc3550, j)


def test_late_answer_record_is_not_another_timeout() -> None:
    timeout = {
        "type": "sample",
        "target": "t",
        "probe": "application",
        "rtt_s": None,
        "timed_out": True,
        "at": "2026-12-05T10:00:01Z",
        "seq": 7,
        "late": False,
        "late_rtt_s": None,
    }
    late = {**timeout, "at": "2026-12-05T10:00:03Z", "late": True, "late_rtt_s": 2.5}
    data = parse_report_lines([json.dumps(timeout), json.dumps(late)])
    (s,) = summarise(data)
    assert (s.samples, s.timeouts, s.late, s.answered) == (1, 1, 1, 0)
    assert s.p99_with_late == 2.5
    bad = parse_report_lines([json.dumps({**late, "late_rtt_s": None})])
    assert bad.problems == ["line 1: late sample without a numeric 'late_rtt_s'; skipped"]


def test_journal_is_read_as_events() -> None:
    text, records = synthetic_journal()
    data = parse_report_lines(text.splitlines())
    assert data.source_kind == "journal" and not data.series
    assert len(data.events) == records


@pytest.mark.parametrize(
    ("name", "category"),
    [
        ("reconnect", "reconnect"),
        ("genesys.reconnect", "reconnect"),
        ("threshold.breach", "threshold"),
        ("genesys.threshold.clear", "threshold"),
        ("rotation", "rotation"),
        ("connection.lost", "connection"),
        ("timeout", "timeout"),
        ("genesys.ping.timeout", "timeout"),
        ("token.refresh", "token"),
        ("monitor.started", "other"),
    ],
)
def test_event_categories(name: str, category: str) -> None:
    assert event_category(name) == category


def test_bad_lines_are_named_and_skipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text, _ = synthetic_run()
    source = tmp_path / "run.jsonl"
    source.write_text("not json\n[1, 2]\n" + '{"type":"sample","target":"t"}\n' + text)
    out = tmp_path / "run.html"
    assert cli_main(["report", str(source), "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert "run.jsonl line 1: not JSON" in err
    assert "run.jsonl line 2: not a JSON object" in err
    assert "run.jsonl line 3: sample without a string 'target' and 'probe'" in err
    page = out.read_text()
    assert "3 input line(s) skipped" in page
    assert "<script src=" not in page  # plotly is inlined, nothing to fetch


def test_nothing_usable_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "empty.jsonl"
    source.write_text('{"hello": 1}\n')
    assert cli_main(["report", str(source)]) == 2
    assert "no samples or events found" in capsys.readouterr().err
    assert not (tmp_path / "empty.html").exists()


def test_unreadable_input_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["report", str(tmp_path / "missing.jsonl")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot read input" in err[0]
