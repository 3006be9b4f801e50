"""`leadengine timeline` and `leadengine demo --followup-after`: arguments and the table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from google.protobuf import struct_pb2
from leadengine.coordinator.v1 import coordinator_service_pb2 as pb
from rich.console import Console

from cli import timeline
from cli.main import build_parser
from shared import timestamps


def test_timeline_takes_a_lead_id_its_location_and_an_optional_details_flag() -> None:
    lead = "0b5e1c9e-0000-4000-8000-000000000001"
    args = build_parser().parse_args(["timeline", lead, "--location", "loc-1", "--details"])
    assert (args.command, args.lead_id, args.location, args.details) == ("timeline", lead, "loc-1", True)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["timeline"])
    with pytest.raises(SystemExit):  # the read names the location it is made for (#15)
        build_parser().parse_args(["timeline", lead])


@pytest.mark.parametrize(
    ("raw", "seconds"), [("5s", 5), ("2m", 120), ("1h", 3600), ("7", 7), ("0.5s", 0.5), (" 3S ", 3)]
)
def test_followup_after_reads_durations(raw: str, seconds: float) -> None:
    args = build_parser().parse_args(["demo", "--followup-after", raw])
    assert args.followup_after == timedelta(seconds=seconds)


@pytest.mark.parametrize("raw", ["0s", "-1", "soon", "5d", "s"])
def test_followup_after_refuses_what_is_no_duration(raw: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["demo", "--followup-after", raw])
    assert "--followup-after" in capsys.readouterr().err


def test_demo_has_no_follow_up_unless_asked() -> None:
    assert build_parser().parse_args(["demo"]).followup_after is None


def test_the_table_shows_each_entry_in_order_with_its_details() -> None:
    details = struct_pb2.Struct()
    details.update({"generator": "TEMPLATE", "step_index": 1})
    entries = [
        pb.TimelineEntry(
            time=timestamps.to_proto(datetime(2026, 3, 8, 12, 0, 1, 250000, tzinfo=UTC)),
            kind="written",
            summary="content wrote the SMS follow up [template]",
            details=details,
        ),
        pb.TimelineEntry(
            time=timestamps.to_proto(datetime(2026, 3, 8, 12, 0, 2, tzinfo=UTC)),
            kind="status",
            summary="SMS step 1 SIMULATED",
        ),
    ]
    console = Console(width=200, record=True)
    console.print(timeline.table(entries, with_details=True))
    text = console.export_text()
    assert text.index("2026-03-08 12:00:01.250") < text.index("2026-03-08 12:00:02.000")
    assert "content wrote the SMS follow up [template]" in text  # markup-like text is escaped
    assert '{"generator": "TEMPLATE", "step_index": 1.0}' in text
