"""Journey-scoped step keys and which ended journeys a recovery may follow (#8)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from leadengine.coordinator.v1 import coordinator_service_pb2 as pb

from cli.importer import RowError, lead_from_record
from services.coordinator.journeys import keys, recovery
from services.coordinator.journeys.steps import step_index
from services.coordinator.timeline import entries

BASE_KEYS = st.sampled_from(["first_touch", "assigned", "needs_call", "held_for_review"]) | st.integers(
    0, 40
).map(lambda i: f"step:{i}")


@given(st.integers(1, 10_000), BASE_KEYS)
def test_scoped_keys_round_trip_and_differ_between_journeys(generation: int, key: str) -> None:
    scoped = keys.scoped(generation, key)
    assert keys.unscoped(scoped) == (generation, key)
    assert (scoped == key) == (generation == 1)  # a first journey keeps the bare keys
    assert keys.scoped(generation + 1, key) != scoped


def test_other_keys_are_a_first_journeys() -> None:
    assert keys.unscoped("confirmation:SM123") == (1, "confirmation:SM123")
    assert keys.unscoped("trigger:abc") == (1, "trigger:abc")


def test_steps_and_the_timeline_read_scoped_keys() -> None:
    assert entries.step_index("j3:step:2") == 2
    assert entries.step_index("j2:first_touch") == 0
    assert entries.step_words("j2:step:4") == "step 4 of journey 2"
    assert entries.step_words("step:4") == "step 4"
    assert entries.step_words("j2:assigned") == ""


def test_step_index_of_a_scoped_communication() -> None:
    class Row:
        step_key = "j2:step:5"

    assert step_index(Row()) == 5  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("state", "reason", "expected"),
    [
        (pb.JOURNEY_STATE_COMPLETED, "cadence finished: every step went out or was skipped", True),
        (pb.JOURNEY_STATE_STOPPED, "lead replied", True),
        (pb.JOURNEY_STATE_STOPPED, "opted out of every channel", False),
        (pb.JOURNEY_STATE_STOPPED, "lead opted out", False),
        (pb.JOURNEY_STATE_STOPPED, "lead converted (outcome WON)", False),
        (pb.JOURNEY_STATE_STOPPED, "lead deleted", False),
        (pb.JOURNEY_STATE_STOPPED, "bought elsewhere", False),  # a person's StopJourney
        (pb.JOURNEY_STATE_ACTIVE, "", False),
    ],
)
def test_which_ends_a_recovery_may_follow(
    state: pb.JourneyState.ValueType, reason: str, expected: bool
) -> None:
    assert recovery.recoverable(state, reason) is expected


def test_the_import_file_reads_a_last_activity_under_its_crm_names() -> None:
    lead = lead_from_record({"first_name": "Ada", "dateupdated": "2025-03-01T10:00:00Z"})
    assert lead.last_activity_time.ToDatetime(tzinfo=UTC) == datetime(2025, 3, 1, 10, tzinfo=UTC)
    lead = lead_from_record({"first_name": "Bo", "last_activity_time": "2025-03-01"})
    assert lead.last_activity_time.ToDatetime(tzinfo=UTC) == datetime(2025, 3, 1, tzinfo=UTC)
    assert not lead_from_record({"first_name": "Cy", "last_activity": ""}).HasField("last_activity_time")
    with pytest.raises(RowError):
        lead_from_record({"first_name": "Di", "dateupdated": "last spring"})
