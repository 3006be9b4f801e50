"""How decision log entries read in the timeline, and content's variant per cadence step."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from leadengine.coordinator.v1 import coordinator_service_pb2 as pb

from services.content.templates import TEMPLATES, choose_variant
from services.content.writer import FOLLOW_UP, SMS
from services.coordinator.timeline import entries
from services.coordinator.timeline.repository import Decision

LEAD = uuid.UUID("00000000-0000-4000-8000-000000000001")
AT = datetime(2026, 3, 8, 12, 0, tzinfo=UTC)


def entry(kind: str, **details: Any) -> Decision:
    return Decision(entry_id=1, lead_id=LEAD, kind=kind, details=details, occur_time=AT)


def comm(inserted: bool = True, **details: Any) -> Decision:
    details.setdefault("channel", 1)
    details.setdefault("direction", pb.DIRECTION_OUTBOUND)
    details.setdefault("status_reason", "")
    return entry("communication" if inserted else "communication_status", **details)


@pytest.mark.parametrize(
    ("decision", "kind", "summary"),
    [
        (
            comm(step_key="step:2", status=pb.COMMUNICATION_STATUS_SCHEDULED,
                 status_reason="cadence step 2: written when due",
                 scheduled_time="2026-03-09T12:00:00+00:00"),
            "scheduled", "SMS step 2 scheduled for 2026-03-09 12:00:00 UTC (written when due)",
        ),
        (
            comm(step_key="first_touch", status=pb.COMMUNICATION_STATUS_SCHEDULED,
                 status_reason="quiet hours in America/Chicago; held until 2026-03-09 08:00 local"),
            "gate", "SMS first touch held: quiet hours in America/Chicago; held until 2026-03-09 08:00 local",
        ),
        (
            comm(False, step_key="step:1", status=pb.COMMUNICATION_STATUS_BLOCKED,
                 status_reason="lead opted out (STOP)"),
            "gate", "SMS step 1 blocked: lead opted out (STOP)",
        ),
        (
            comm(False, step_key="step:1", status=pb.COMMUNICATION_STATUS_SIMULATED,
                 from_status=pb.COMMUNICATION_STATUS_SCHEDULED),
            "status", "SMS step 1 SIMULATED (gates passed at send time)",
        ),
        (
            comm(False, step_key="step:1", status=pb.COMMUNICATION_STATUS_DELIVERED,
                 from_status=pb.COMMUNICATION_STATUS_SENT),
            "status", "SMS step 1 DELIVERED",
        ),
        (
            comm(step_key="inbound:SM1", direction=pb.DIRECTION_INBOUND,
                 status=pb.COMMUNICATION_STATUS_RECEIVED, status_reason="opt-out keyword STOP: SMS revoked"),
            "reply", "lead wrote by SMS: opt-out keyword STOP: SMS revoked",
        ),
        (
            entry("journey", state=pb.JOURNEY_STATE_COMPLETED, from_state=pb.JOURNEY_STATE_ACTIVE,
                  stop_reason="cadence finished"),
            "journey", "journey completed: cadence finished",
        ),
        (
            entry("journey", state=1, from_state=1, pause_reason="agent on it", was_paused=False),
            "journey", "journey paused until resumed: agent on it",
        ),
        (
            entry("journey", state=1, from_state=1, pause_reason="", was_paused=True),
            "journey", "journey resumed",
        ),
        (
            entry("consent", channel=1, change="opt_out", actor="lead (keyword)", basis="lead sent STOP"),
            "opt_out", "SMS opted out: lead sent STOP (by lead (keyword))",
        ),
        (
            entry("scored", score=71.6, tier="HOT", factors=[
                {"name": "a", "points": 5}, {"name": "b", "points": -30}, {"name": "c", "points": 12},
                {"name": "d", "points": 1}]),
            "scored", "scored 72/100 (HOT): b -30, c +12, a +5",
        ),
        (entry("routed", routed=False, why="no agent in loc-1"), "routed", "not routed: no agent in loc-1"),
        (
            entry("written", refused=True, channel="EMAIL", purpose="FOLLOW_UP", reason="R",
                  message="no postal address"),
            "gate", "content refused to write the EMAIL follow up: no postal address",
        ),
        (entry("stored", source="UNSPECIFIED"), "stored", "lead stored by ingest"),
        # A kind a newer writer logs (e.g. a trigger rule) reads as it says.
        (entry("trigger_fired", summary="12 Oak St viewed three times"), "trigger_fired",
         "12 Oak St viewed three times"),
    ],
)  # fmt: skip
def test_summaries(decision: Decision, kind: str, summary: str) -> None:
    assert entries.summarize(decision) == (kind, summary)


def test_details_spell_out_enums_and_the_step_index() -> None:
    readable = entries.readable_details(
        comm(False, step_key="step:3", status=2, from_status=1, direction=1, scheduled_time=None)
    )
    assert readable["channel"] == "SMS"
    assert (readable["status"], readable["from_status"]) == ("BLOCKED", "SCHEDULED")
    assert readable["direction"] == "OUTBOUND"
    assert readable["step_index"] == 3
    assert "scheduled_time" not in readable  # nulls are left out
    assert entries.readable_details(comm(step_key="first_touch"))["step_index"] == 0
    assert "step_index" not in entries.readable_details(comm(step_key="crm:SM1"))


def test_successive_cadence_steps_read_differently_and_each_step_always_the_same() -> None:
    assert len(TEMPLATES[(SMS, FOLLOW_UP)]) >= 2
    for n in range(20):
        lead = str(uuid.UUID(int=n))
        keys = [choose_variant(lead, SMS, FOLLOW_UP, step).key for step in range(1, 6)]
        assert all(a != b for a, b in itertools.pairwise(keys))
        assert keys == [choose_variant(lead, SMS, FOLLOW_UP, step).key for step in range(1, 6)]
    assert choose_variant("x", SMS, FOLLOW_UP) == choose_variant("x", SMS, FOLLOW_UP, 0)
