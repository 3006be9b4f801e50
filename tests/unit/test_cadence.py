"""Cadences, purely: validation, the default, DST-correct step times, the next step."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from services.coordinator.journeys import cadence
from services.coordinator.journeys.cadence import EMAIL, SMS, Step
from shared.errors import InvalidArgument

NY = ZoneInfo("America/New_York")


def violation(steps: tuple[Step, ...], location: str = "loc") -> str:
    with pytest.raises(InvalidArgument) as err:
        cadence.validate(steps, location)
    return err.value.violations[0].field


def test_a_day_step_keeps_the_local_time_across_the_spring_dst_change() -> None:
    # Sat 2026-03-07 10:00 EST (UTC-5); clocks jump forward on Sun 2026-03-08.
    start = datetime(2026, 3, 7, 10, 0, tzinfo=NY).astimezone(UTC)
    due = cadence.step_time(start, timedelta(days=1), NY)
    assert due.astimezone(NY).timetuple()[:5] == (2026, 3, 8, 10, 0)
    assert due - start == timedelta(hours=23)  # the local day was one hour short


def test_a_day_step_keeps_the_local_time_across_the_autumn_dst_change() -> None:
    start = datetime(2026, 10, 31, 10, 0, tzinfo=NY).astimezone(UTC)
    due = cadence.step_time(start, timedelta(days=3), NY)
    assert due.astimezone(NY).timetuple()[:5] == (2026, 11, 3, 10, 0)
    assert due - start == timedelta(days=3, hours=1)


def test_hours_are_elapsed_time_and_an_unknown_zone_counts_utc_days() -> None:
    start = datetime(2026, 3, 8, 0, 30, tzinfo=NY).astimezone(UTC)
    assert cadence.step_time(start, timedelta(hours=5), NY) - start == timedelta(hours=5)
    assert cadence.step_time(start, timedelta(days=2), None) == start + timedelta(days=2)


def test_the_default_is_speed_to_lead_then_six_months_of_nurture() -> None:
    steps = cadence.DEFAULT_STEPS
    cadence.validate(steps, "loc")
    assert [(s.delay, s.channel) for s in steps[:2]] == [(timedelta(0), SMS), (timedelta(0), EMAIL)]
    assert sorted({s.delay.days for s in steps}) == [0, 1, 3, 7, 14, 30, 60, 90, 120, 150, 180]


@pytest.mark.parametrize(
    ("steps", "field"),
    [
        ((), "cadence.steps"),
        ((Step(timedelta(seconds=-1), SMS),), "cadence.steps[0].delay"),
        ((Step(timedelta(days=2), SMS), Step(timedelta(days=1), SMS)), "cadence.steps[1].delay"),
        ((Step(timedelta(0), SMS), Step(timedelta(days=1), 99)), "cadence.steps[1].channel"),  # type: ignore[arg-type]
        ((Step(timedelta(0), SMS, 3),), "cadence.steps[0].purpose"),  # type: ignore[arg-type]
    ],
)
def test_a_bad_cadence_names_its_field(steps: tuple[Step, ...], field: str) -> None:
    assert violation(steps) == field


def test_a_cadence_needs_a_location() -> None:
    assert violation((Step(timedelta(0), SMS),), location=" ") == "cadence.location_id"


def test_next_step_skips_channels_without_an_address_and_a_repeat_of_the_first_touch() -> None:
    steps = cadence.DEFAULT_STEPS
    both = frozenset({SMS, EMAIL})
    assert cadence.next_step(steps, 0, SMS, both) == 1  # the immediate email
    assert cadence.next_step(steps, 0, EMAIL, frozenset({EMAIL})) == 3  # no second email at once
    phone_only = cadence.next_step(steps, 0, SMS, frozenset({SMS}))
    assert phone_only is not None
    assert steps[phone_only] == Step(timedelta(days=1), SMS)
    assert cadence.next_step(steps, len(steps) - 1, SMS, both) is None
    assert cadence.Cadence(uuid.uuid4(), "loc", "", steps, True).steps == steps
