"""Every state rule of compliance.md §2 as a table, on ordinary days and on both DST
change days, in the state's own zone; and the opening after a closed moment.

Expected values are written out by hand (local wall times), not computed by the code
under test: 2026-03-08 is the spring-forward Sunday (02:00 -> 03:00), 2026-11-01 the
fall-back Sunday (02:00 -> 01:00), 2026-03-09 / 2026-11-02 the Mondays after.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from services.coordinator.compliance import rules
from services.coordinator.compliance.rules import FEDERAL, STATE_RULES

ZONE = {
    "FL": "America/New_York", "OK": "America/Chicago", "MD": "America/New_York", "TX": "America/Chicago",
    "VA": "America/New_York", "WA": "America/Los_Angeles", "CT": "America/New_York", "AL": "America/Chicago",
    "LA": "America/Chicago", "MS": "America/Chicago", "KY": "America/New_York", "MI": "America/Detroit",
    "MN": "America/Chicago", "NM": "America/Denver", "MA": "America/New_York", "NV": "America/Los_Angeles",
    "RI": "America/New_York",
}  # fmt: skip
# state: (first allowed minute, first closed minute) on a Monday; Sunday's when it differs.
HOURS = {
    "FL": ((8, 0), (20, 0)), "OK": ((8, 0), (20, 0)), "MD": ((8, 0), (20, 0)), "TX": ((9, 0), (21, 0)),
    "VA": ((8, 0), (21, 0)), "WA": ((8, 0), (20, 0)), "CT": ((9, 0), (20, 0)), "AL": ((8, 0), (20, 0)),
    "LA": ((8, 0), (20, 0)), "MS": ((8, 0), (20, 0)), "KY": ((10, 0), (21, 0)), "MI": ((9, 0), (21, 0)),
    "MN": ((9, 0), (21, 0)), "NM": ((9, 0), (21, 0)), "MA": ((8, 0), (20, 0)), "NV": ((9, 0), (20, 0)),
    "RI": ((9, 0), (18, 0)),
}  # fmt: skip
SUNDAY = {"TX": ((12, 0), (21, 0)), "AL": None, "LA": None, "MS": None, "RI": None}
DST_SUNDAYS = (date(2026, 3, 8), date(2026, 11, 1))
DST_MONDAYS = (date(2026, 3, 9), date(2026, 11, 2))
ORDINARY_SUNDAY = date(2026, 6, 14)


def at(day: date, hm: tuple[int, int], zone: str, minutes: int = 0) -> datetime:
    hour, minute = hm
    total = hour * 60 + minute + minutes
    return datetime.combine(day, time(total // 60, total % 60), tzinfo=ZoneInfo(zone)).astimezone(UTC)


def allowed(state: str, instant: datetime) -> bool:
    zone = ZoneInfo(ZONE[state])
    return rules.allowed(instant, (zone,), rules.rules_for([state], None))


def test_every_state_in_the_table_is_tested() -> None:
    assert set(HOURS) == set(STATE_RULES)


@pytest.mark.parametrize("day", [*DST_MONDAYS, date(2026, 6, 15)])
@pytest.mark.parametrize("state", sorted(HOURS))
def test_weekday_window_edges(state: str, day: date) -> None:
    opens, closes = HOURS[state]
    zone = ZONE[state]
    assert not allowed(state, at(day, opens, zone, -1))
    assert allowed(state, at(day, opens, zone))
    assert allowed(state, at(day, closes, zone, -1))
    assert not allowed(state, at(day, closes, zone))


@pytest.mark.parametrize("day", [*DST_SUNDAYS, ORDINARY_SUNDAY])
@pytest.mark.parametrize("state", sorted(HOURS))
def test_sunday_window_edges_on_dst_days(state: str, day: date) -> None:
    hours = SUNDAY.get(state, HOURS[state])
    zone = ZONE[state]
    if hours is None:  # no Sunday texts at all
        assert not any(allowed(state, at(day, (h, 0), zone)) for h in range(24))
        return
    opens, closes = hours
    assert not allowed(state, at(day, opens, zone, -1))
    assert allowed(state, at(day, opens, zone))
    assert allowed(state, at(day, closes, zone, -1))
    assert not allowed(state, at(day, closes, zone))


def test_texas_sunday_noon_is_eleven_the_day_before_fall_back_in_utc_terms() -> None:
    # Fall back: 12:00 CST on 2026-11-01 is 18:00 UTC, but 17:00 UTC on the Sunday before.
    assert allowed("TX", datetime(2026, 11, 1, 18, 0, tzinfo=UTC))
    assert not allowed("TX", datetime(2026, 11, 1, 17, 59, tzinfo=UTC))
    assert allowed("TX", datetime(2026, 10, 25, 17, 0, tzinfo=UTC))


@pytest.mark.parametrize(
    ("state", "holiday"),
    [
        ("AL", date(2026, 11, 26)),
        ("LA", date(2026, 7, 3)),
        ("RI", date(2026, 9, 7)),
        ("AL", date(2026, 1, 19)),
    ],
)
def test_no_holiday_states_keep_holidays_quiet(state: str, holiday: date) -> None:
    """Thanksgiving, Independence Day observed (Jul 4 2026 is a Saturday), Labor Day, MLK Day."""
    assert not any(allowed(state, at(holiday, (h, 0), ZONE[state])) for h in range(24))
    assert allowed("FL", at(holiday, (12, 0), ZONE["FL"]))


@pytest.mark.parametrize(
    ("state", "holiday"),
    [
        ("AL", date(2027, 4, 26)),  # Confederate Memorial Day: fourth Monday of April
        ("AL", date(2027, 6, 7)),  # Jefferson Davis' birthday: first Monday of June
        ("LA", date(2027, 2, 9)),  # Mardi Gras: Easter 2027 is March 28
        ("LA", date(2027, 3, 26)),  # Good Friday
        ("RI", date(2027, 8, 9)),  # Victory Day: second Monday of August
    ],
)
def test_the_states_own_holidays_are_quiet_too(state: str, holiday: date) -> None:
    assert not any(allowed(state, at(holiday, (h, 0), ZONE[state])) for h in range(24))
    assert allowed(
        state,
        at(
            holiday.replace(day=holiday.day - 7 if holiday.day > 7 else holiday.day + 7), (12, 0), ZONE[state]
        ),
    )


@pytest.mark.parametrize(
    ("year", "easter"),
    [
        (2024, date(2024, 3, 31)),
        (2025, date(2025, 4, 20)),
        (2026, date(2026, 4, 5)),
        (2038, date(2038, 4, 25)),
    ],
)
def test_easter(year: int, easter: date) -> None:
    assert rules._easter(year) == easter


def test_federal_rule_applies_everywhere() -> None:
    assert FEDERAL in rules.rules_for([], None)
    ny = ZoneInfo("America/New_York")
    assert not rules.allowed(at(date(2026, 3, 8), (7, 59), "America/New_York"), (ny,), (FEDERAL,))
    assert rules.allowed(at(date(2026, 3, 8), (8, 0), "America/New_York"), (ny,), (FEDERAL,))


@pytest.mark.parametrize(
    ("state", "closed", "opening"),
    [
        # Spring forward: 08:00 EDT on 2026-03-08 is 12:00 UTC (13:00 the day before).
        ("FL", datetime(2026, 3, 8, 6, 0, tzinfo=UTC), datetime(2026, 3, 8, 12, 0, tzinfo=UTC)),
        ("FL", datetime(2026, 3, 8, 1, 30, tzinfo=UTC), datetime(2026, 3, 8, 12, 0, tzinfo=UTC)),  # 20:30 EST
        # Fall back: 08:00 EST on 2026-11-01 is 13:00 UTC.
        ("FL", datetime(2026, 11, 1, 11, 0, tzinfo=UTC), datetime(2026, 11, 1, 13, 0, tzinfo=UTC)),
        # Texas, Saturday night 22:00 CDT before spring forward -> Sunday 12:00 CDT = 17:00 UTC.
        ("TX", datetime(2026, 3, 8, 3, 0, tzinfo=UTC), datetime(2026, 3, 8, 17, 0, tzinfo=UTC)),
        # Alabama, Saturday 21:00 CST -> Monday 08:00 CDT (Sunday closed) = 13:00 UTC.
        ("AL", datetime(2026, 3, 8, 3, 0, tzinfo=UTC), datetime(2026, 3, 9, 13, 0, tzinfo=UTC)),
        # Louisiana, Wednesday before Thanksgiving 20:30 -> Friday 08:00 CST = 14:00 UTC.
        ("LA", datetime(2026, 11, 26, 2, 30, tzinfo=UTC), datetime(2026, 11, 27, 14, 0, tzinfo=UTC)),
        # Rhode Island, Saturday 17:00 EDT -> Monday 09:00 EDT (Sunday closed) = 13:00 UTC.
        ("RI", datetime(2026, 6, 13, 21, 0, tzinfo=UTC), datetime(2026, 6, 15, 13, 0, tzinfo=UTC)),
    ],
)
def test_next_opening_across_dst_and_closed_days(state: str, closed: datetime, opening: datetime) -> None:
    zone = ZoneInfo(ZONE[state])
    applied = rules.rules_for([state], None)
    assert not rules.allowed(closed, (zone,), applied)
    assert rules.next_opening(closed, (zone,), applied) == opening


def test_intersection_of_two_zones_and_two_states() -> None:
    """A Florida number (Eastern) for a lead who lives in Texas (Central/Mountain):
    08:00-20:00 Eastern and 09:00-21:00 in both Texas zones, i.e. 11:00-20:00 Eastern."""
    zones = tuple(ZoneInfo(z) for z in ("America/New_York", "America/Chicago", "America/Denver"))
    applied = rules.rules_for(["FL", "TX"], None)
    monday = date(2026, 6, 15)
    assert not rules.allowed(at(monday, (10, 59), "America/New_York"), zones, applied)
    assert rules.allowed(at(monday, (11, 0), "America/New_York"), zones, applied)
    assert rules.allowed(at(monday, (19, 59), "America/New_York"), zones, applied)
    assert not rules.allowed(at(monday, (20, 0), "America/New_York"), zones, applied)
    assert rules.next_opening(at(monday, (7, 0), "America/New_York"), zones, applied) == at(
        monday, (11, 0), "America/New_York"
    )


def test_configured_quiet_hours_narrow_the_window() -> None:
    ny = (ZoneInfo("America/New_York"),)
    narrow = rules.rules_for([], rules.configured(time(9, 30), time(18, 0)))
    monday = date(2026, 6, 15)
    assert not rules.allowed(at(monday, (9, 0), "America/New_York"), ny, narrow)
    assert rules.allowed(at(monday, (9, 30), "America/New_York"), ny, narrow)
    assert not rules.allowed(at(monday, (18, 0), "America/New_York"), ny, narrow)


def test_the_rules_name_their_sources_and_version() -> None:
    assert rules.RULES_VERSION
    for rule in (FEDERAL, *STATE_RULES.values()):
        assert rule.source
        assert rule.describe().startswith(rule.name)
    assert {k for k, r in STATE_RULES.items() if r.cap_24h == 3} == {"FL", "OK", "MD"}
