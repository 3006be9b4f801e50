"""The coordinator's compliance gates: consent, channel choice and the lead's local clock."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.coordinator.compliance import gates, rules
from services.coordinator.compliance.evaluation import Caps, History, Limits, evaluate
from services.coordinator.compliance.gates import Action, ContactFacts, Gate
from services.coordinator.compliance.recipient import Recipient
from services.coordinator.compliance.rules import TimeRule
from shared.contact import zone_for

FEDERAL: tuple[TimeRule, ...] = (rules.FEDERAL,)


def window(start: time, end: time) -> tuple[TimeRule, ...]:
    return (rules.configured(start, end),)


def in_window(now: datetime, zone: ZoneInfo, applied: tuple[TimeRule, ...]) -> bool:
    return rules.allowed(now, (zone,), applied)


def next_opening(now: datetime, zone: ZoneInfo, applied: tuple[TimeRule, ...]) -> datetime:
    found = rules.next_opening(now, (zone,), applied)
    assert found is not None
    return found


def gate(channel: int, address: str, facts: ContactFacts, zone: ZoneInfo | None, now: datetime) -> Gate:
    """The production gates with caps out of the way: only consent and the clock decide."""
    place = Recipient(zones=(zone.key,), states=(), why=()) if zone is not None else None
    limits = Limits(Caps(99, 99, 99, 99), None)
    return evaluate(channel, address, facts, place, now, limits, History()).decision  # type: ignore[arg-type]


NY = ZoneInfo("America/New_York")
LA = ZoneInfo("America/Los_Angeles")
PHONE = "+15125550100"  # Austin: America/Chicago by area code


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# -- the window ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("wall", "open_"),
    [
        (time(7, 59, 59), False),
        (time(8, 0), True),
        (time(14, 0), True),
        (time(20, 59, 59), True),
        (time(21, 0), False),
        (time(0, 0), False),
    ],
)
def test_federal_window_is_eight_to_nine_local(wall: time, open_: bool) -> None:
    assert all(hours is not None and hours.contains(wall) is open_ for hours in rules.FEDERAL.days)


def test_uses_the_leads_local_time_not_utc() -> None:
    now = utc(2026, 7, 1, 13, 0)  # 09:00 in New York (EDT), 06:00 in Los Angeles (PDT)
    assert in_window(now, NY, FEDERAL)
    assert not in_window(now, LA, FEDERAL)
    assert next_opening(now, LA, FEDERAL) == utc(2026, 7, 1, 15, 0)


def test_spring_forward_opens_at_eight_daylight_time() -> None:
    # 2026-03-08: New York jumps 02:00 EST -> 03:00 EDT; 08:00 EDT is 12:00 UTC, not 13:00.
    before_jump = utc(2026, 3, 8, 6, 30)  # 01:30 EST
    assert not in_window(before_jump, NY, FEDERAL)
    assert next_opening(before_jump, NY, FEDERAL) == utc(2026, 3, 8, 12, 0)
    # 20:30 EST the evening before is still open; 21:30 EST is not, and waits for 08:00 EDT.
    assert in_window(utc(2026, 3, 8, 1, 30), NY, FEDERAL)
    assert next_opening(utc(2026, 3, 8, 2, 30), NY, FEDERAL) == utc(2026, 3, 8, 12, 0)


def test_fall_back_opens_at_eight_standard_time() -> None:
    # 2026-11-01: New York repeats 01:00-02:00 and ends at UTC-5; 08:00 EST is 13:00 UTC.
    first_one_thirty = utc(2026, 11, 1, 5, 30)  # 01:30 EDT
    second_one_thirty = utc(2026, 11, 1, 6, 30)  # 01:30 EST
    for now in (first_one_thirty, second_one_thirty):
        assert not in_window(now, NY, FEDERAL)
        assert next_opening(now, NY, FEDERAL) == utc(2026, 11, 1, 13, 0)
    assert not in_window(utc(2026, 11, 1, 12, 59), NY, FEDERAL)  # 07:59 EST
    assert in_window(utc(2026, 11, 1, 12, 0), NY, FEDERAL) is False  # 07:00 EST
    assert in_window(utc(2026, 11, 1, 13, 0), NY, FEDERAL)


def test_opening_inside_a_dst_gap_is_the_end_of_the_gap() -> None:
    # A window opening at 02:30 on spring-forward day: 02:30 never happens, 03:00 EDT does.
    early = window(time(2, 30), time(20, 0))
    assert next_opening(utc(2026, 3, 8, 5, 0), NY, early) == utc(2026, 3, 8, 7, 0)


def test_zone_that_skipped_a_day() -> None:
    # Samoa went from 2011-12-29 23:59 (UTC-10) straight to 2011-12-31 00:00 (UTC+14).
    apia = ZoneInfo("Pacific/Apia")
    evening = datetime(2011, 12, 29, 22, 0, tzinfo=apia)
    opening = next_opening(evening, apia, FEDERAL)
    assert opening == datetime(2011, 12, 31, 8, 0, tzinfo=apia)


ZONES = [
    "America/New_York", "America/Chicago", "America/Denver", "America/Phoenix", "America/Los_Angeles",
    "America/Anchorage", "Pacific/Honolulu", "America/St_Johns", "Europe/London", "Asia/Kolkata",
    "Australia/Lord_Howe", "Pacific/Chatham", "Pacific/Apia", "Pacific/Kiritimati", "UTC",
]  # fmt: skip

# hypothesis takes naive bounds and attaches the zone itself.
instants = st.datetimes(
    min_value=utc(2010, 1, 1).replace(tzinfo=None),
    max_value=utc(2035, 12, 31).replace(tzinfo=None),
    timezones=st.just(UTC),
)
wall_times = st.times().map(lambda t: t.replace(microsecond=0))


@settings(max_examples=300, deadline=None)
@given(now=instants, zone=st.sampled_from(ZONES).map(ZoneInfo))
def test_next_opening_is_the_first_open_instant(now: datetime, zone: ZoneInfo) -> None:
    opening = next_opening(now, zone, FEDERAL)
    assert opening >= now
    assert in_window(opening, zone, FEDERAL)
    assert opening.astimezone(zone).hour == 8 or opening == now
    assert opening - now <= timedelta(hours=13)  # 21:00 -> 08:00, plus at most an hour of DST
    if opening != now:
        assert not in_window(opening - timedelta(seconds=1), zone, FEDERAL)
        probe = now
        while probe < opening:  # nothing in between was open
            assert not in_window(probe, zone, FEDERAL)
            probe += timedelta(minutes=10)


@settings(max_examples=300, deadline=None)
@given(now=instants, zone=st.sampled_from(ZONES).map(ZoneInfo), start=wall_times, end=wall_times)
def test_next_opening_any_window(now: datetime, zone: ZoneInfo, start: time, end: time) -> None:
    if start >= end:  # windows are within one local day
        return
    hours = window(start, end)
    opening = next_opening(now, zone, hours)
    assert opening >= now
    assert in_window(opening, zone, hours)
    if opening != now:
        assert not in_window(opening - timedelta(seconds=1), zone, hours)
        assert opening - now <= timedelta(days=2)


# -- channel choice -------------------------------------------------------------

facts_strategy = st.builds(
    ContactFacts,
    phone=st.sampled_from(["", PHONE]),
    email=st.sampled_from(["", "ana@example.com"]),
    timezone=st.sampled_from(["", "America/Chicago"]),
    sms_consent=st.booleans(),
    email_consent=st.booleans(),
    sms_opted_out=st.booleans(),
    email_opted_out=st.booleans(),
)


@given(facts=facts_strategy)
def test_channel_choice_honours_consent_and_opt_outs(facts: ContactFacts) -> None:
    sms_ok = bool(facts.phone) and facts.sms_consent and not facts.sms_opted_out
    email_ok = bool(facts.email) and facts.email_consent and not facts.email_opted_out
    chosen = gates.choose_channel(facts)
    if sms_ok:
        assert chosen == gates.SMS
    elif email_ok:
        assert chosen == gates.EMAIL
    else:
        assert chosen is None
    if facts.sms_opted_out:
        assert chosen != gates.SMS
    if facts.email_opted_out:
        assert chosen != gates.EMAIL


def test_opted_out_sms_falls_back_to_email() -> None:
    facts = ContactFacts(phone=PHONE, email="a@example.com", sms_consent=True, email_consent=True,
                         sms_opted_out=True)  # fmt: skip
    assert gates.choose_channel(facts) == gates.EMAIL


# -- the gate at send time ------------------------------------------------------

TEXTABLE = ContactFacts(phone=PHONE, timezone="America/Chicago", sms_consent=True)


def test_gate_sends_in_window_and_schedules_at_night() -> None:
    zone = ZoneInfo("America/Chicago")
    noon = utc(2026, 7, 1, 17, 0)  # 12:00 CDT
    assert gate(gates.SMS, PHONE, TEXTABLE, zone, noon).action is Action.SEND
    night = utc(2026, 7, 2, 3, 0)  # 22:00 CDT
    held = gate(gates.SMS, PHONE, TEXTABLE, zone, night)
    assert held.action is Action.SCHEDULE
    assert held.scheduled_time == utc(2026, 7, 2, 13, 0)  # 08:00 CDT


def test_gate_holds_sms_for_review_when_zone_unknown() -> None:
    toll_free = "+18005550199"
    facts = ContactFacts(phone=toll_free, sms_consent=True)
    zone = zone_for("", toll_free)
    assert zone is None
    decision = gate(gates.SMS, toll_free, facts, zone, utc(2026, 7, 1, 17))
    assert decision.action is Action.HOLD
    assert decision.reason == gates.ZONE_UNKNOWN


def test_gate_blocks_revoked_consent_and_opt_out() -> None:
    zone = ZoneInfo("America/Chicago")
    noon = utc(2026, 7, 1, 17, 0)
    for facts in (
        ContactFacts(phone=PHONE, sms_consent=False),
        ContactFacts(phone=PHONE, sms_consent=True, sms_opted_out=True),
    ):
        assert gate(gates.SMS, PHONE, facts, zone, noon).action is Action.BLOCK


def test_gate_blocks_when_number_changed() -> None:
    decision = gate(gates.SMS, "+12125550123", TEXTABLE, ZoneInfo("America/Chicago"), utc(2026, 7, 1, 17))
    assert decision.action is Action.BLOCK
    assert "changed" in decision.reason


def test_email_ignores_quiet_hours_but_not_consent() -> None:
    facts = ContactFacts(email="a@example.com", email_consent=True)
    midnight_ny = utc(2026, 7, 1, 4, 0)
    assert gate(gates.EMAIL, "a@example.com", facts, None, midnight_ny).action is (Action.SEND)
    opted = ContactFacts(email="a@example.com", email_consent=True, email_opted_out=True)
    assert gate(gates.EMAIL, "a@example.com", opted, None, midnight_ny).action is (Action.BLOCK)
