"""Where the recipient is (zone and state signals, conflicts) and every gate's verdict
with caps: compliance.recipient and compliance.evaluation, pure."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from hypothesis import given
from hypothesis import strategies as st

from services.coordinator.compliance import evaluation, gates, places, rules
from services.coordinator.compliance.evaluation import Caps, History, Limits
from services.coordinator.compliance.gates import EMAIL, SMS, Action, ContactFacts
from services.coordinator.compliance.recipient import resolve

MIAMI = "+13055550100"  # 305: Florida, Eastern
TULSA = "+19185550100"  # 918: Oklahoma, Central
LA = "+12135550100"  # 213: California, Pacific
TOLL_FREE = "+18005550100"
NO_SENDS = History()
LIMITS = Limits(Caps(), rules.configured(time(8), time(21)))
# Monday 2026-06-15, 16:00 UTC: 12:00 in New York, 11:00 in Chicago, 09:00 in Los Angeles.
NOON_EAST = datetime(2026, 6, 15, 16, 0, tzinfo=UTC)


def facts(phone: str = MIAMI, **kw: object) -> ContactFacts:
    return ContactFacts(phone=phone, sms_consent=True, email="a@example.com", email_consent=True, **kw)  # type: ignore[arg-type]


# -- recipient ------------------------------------------------------------------


def test_the_area_code_table_covers_the_states() -> None:
    table = places.area_codes()
    assert len(table) > 300
    assert table["305"][0] == "FL"
    assert table["405"][0] == "OK"
    assert table["410"][0] == "MD"
    assert {state for state, _ in table.values()} >= set(places.STATE_ZONES)


def test_zone_and_state_from_the_area_code_alone() -> None:
    found = resolve(timezone="", phone=TULSA)
    assert (found.zones, found.states) == (("America/Chicago",), ("OK",))
    assert any("area code 918" in why for why in found.why)


def test_the_leads_zone_agreeing_with_the_area_code_is_no_conflict() -> None:
    found = resolve(timezone="America/New_York", phone=MIAMI, state="FL")
    assert found.zones == ("America/New_York",)
    assert found.states == ("FL",)
    assert not any("conflict" in why for why in found.why)


def test_a_florida_area_code_counts_as_florida_wherever_the_lead_lives() -> None:
    found = resolve(timezone="America/Los_Angeles", phone=MIAMI, state="CA")
    assert set(found.states) == {"FL", "CA"}
    assert set(found.zones) == {"America/Los_Angeles", "America/New_York"}
    assert any(why.startswith("conflict") for why in found.why)


def test_conflicting_state_adds_its_zones() -> None:
    found = resolve(timezone="", phone=MIAMI, state="TX")
    assert set(found.zones) == {"America/New_York", "America/Chicago", "America/Denver"}
    assert set(found.states) == {"FL", "TX"}


def test_zip_code_places_the_lead() -> None:
    found = resolve(timezone="", phone=TOLL_FREE, postal_code="73301")
    assert found.states == ("TX",)
    assert set(found.zones) == {"America/Chicago", "America/Denver"}


def test_nothing_known_is_unknown() -> None:
    found = resolve(timezone="", phone=TOLL_FREE)
    assert not found.known
    assert resolve(timezone="Not/AZone", phone="").known is False


@given(
    timezone=st.sampled_from(["", "America/Chicago", "Europe/Paris", "bad"]),
    phone=st.sampled_from(["", MIAMI, TULSA, LA, TOLL_FREE, "+442071838750"]),
    state=st.sampled_from(["", "FL", "TX", "ca", "ZZ"]),
    postal=st.sampled_from(["", "33101", "9021", "abcde", "10001-1234"]),
)
def test_resolution_is_total_and_every_state_is_explained(
    timezone: str, phone: str, state: str, postal: str
) -> None:
    found = resolve(timezone=timezone, phone=phone, state=state, postal_code=postal)
    for code in found.states:
        assert any(f"state {code}" in why for why in found.why)
    assert len(set(found.zones)) == len(found.zones)


# -- gates ----------------------------------------------------------------------


def run(
    channel: int = SMS,
    who: ContactFacts | None = None,
    now: datetime = NOON_EAST,
    history: History = NO_SENDS,
    limits: Limits = LIMITS,
    **where: str,
) -> evaluation.Evaluation:
    lead = who or facts()
    place = resolve(timezone=where.get("timezone", ""), phone=lead.phone, state=where.get("state", ""))
    return evaluation.evaluate(channel, lead.address(channel), lead, place, now, limits, history)  # type: ignore[arg-type]


def verdict(result: evaluation.Evaluation, gate: str) -> str:
    return next(v.verdict for v in result.verdicts if v.gate == gate)


def test_every_gate_is_recorded_when_all_pass() -> None:
    result = run()
    assert result.decision.action is Action.SEND
    assert [v.gate for v in result.verdicts] == [
        "suppression",
        "opt_out",
        "consent",
        "address",
        "recipient_zone",
        "time_window",
        "frequency_cap",
        "state_cap",
    ]
    assert all(v.verdict == evaluation.PASS for v in result.verdicts)
    assert result.rules_version == rules.RULES_VERSION


def test_unknown_zone_holds_texts_but_not_email() -> None:
    lead = facts(TOLL_FREE)
    held = run(SMS, lead)
    assert held.decision == gates.Gate(Action.HOLD, gates.ZONE_UNKNOWN)
    assert verdict(held, "recipient_zone") == evaluation.HOLD
    assert run(EMAIL, lead).decision.action is Action.SEND


def test_a_suppressed_number_is_blocked_before_the_clock() -> None:
    result = run(who=facts(sms_suppressed="lead sent STOP"))
    assert result.decision.action is Action.BLOCK
    assert verdict(result, "suppression") == evaluation.FAIL


def test_florida_cap_three_per_24h_to_one_number() -> None:
    """Three texts to the number in the last 24 h, from any lead: the fourth waits
    until the oldest of them is 24 h old (and the window is open then)."""
    sent = (NOON_EAST - timedelta(hours=20), NOON_EAST - timedelta(hours=2), NOON_EAST - timedelta(hours=1))
    result = run(history=History(phone_sends=sent))
    assert result.decision.action is Action.SCHEDULE
    assert result.decision.scheduled_time == sent[0] + timedelta(hours=24)
    assert "FL cap 3" in result.decision.reason
    assert verdict(result, "state_cap") == evaluation.WAIT
    two = run(history=History(phone_sends=sent[1:]))
    assert two.decision.action is Action.SEND


def test_no_state_cap_outside_fl_ok_md() -> None:
    sent = tuple(NOON_EAST - timedelta(hours=h) for h in (1, 2, 3, 4))
    result = run(who=facts(LA), history=History(phone_sends=sent))
    assert result.decision.action is Action.SEND
    assert verdict(result, "state_cap") == evaluation.SKIP


def test_frequency_cap_per_lead_per_day_and_week() -> None:
    limits = Limits(Caps(sms_day=2, sms_week=3), LIMITS.window)
    day = (NOON_EAST - timedelta(hours=1), NOON_EAST - timedelta(minutes=30))
    result = run(who=facts(LA), history=History(lead_sends=day), limits=limits)
    assert result.decision.action is Action.SCHEDULE
    assert result.decision.scheduled_time == day[0] + timedelta(hours=24)
    week = (NOON_EAST - timedelta(days=6), NOON_EAST - timedelta(days=3), NOON_EAST - timedelta(days=2))
    result = run(who=facts(LA), history=History(lead_sends=week), limits=limits)
    assert result.decision.scheduled_time == week[0] + timedelta(days=7)
    assert "per 7 days" in result.decision.reason


def test_email_caps_apply_to_email() -> None:
    limits = Limits(Caps(email_day=1), LIMITS.window)
    result = run(EMAIL, history=History(lead_sends=(NOON_EAST - timedelta(hours=1),)), limits=limits)
    assert result.decision.action is Action.SCHEDULE


def test_a_cap_release_in_quiet_hours_waits_for_the_window() -> None:
    # Released at 23:00 Eastern: the next opening is 08:00 Eastern the day after.
    sent = tuple(NOON_EAST + timedelta(hours=h) - timedelta(hours=24) for h in (11, 12, 13))
    result = run(history=History(phone_sends=sent), now=NOON_EAST + timedelta(hours=6))
    assert result.decision.scheduled_time == datetime(2026, 6, 16, 12, 0, tzinfo=UTC)


def test_quiet_hours_reason_names_the_zone_and_rule() -> None:
    night = datetime(2026, 6, 16, 3, 0, tzinfo=UTC)  # 23:00 Eastern
    result = run(now=night)
    assert result.decision.action is Action.SCHEDULE
    assert "America/New_York" in result.decision.reason
    assert result.decision.scheduled_time == datetime(2026, 6, 16, 12, 0, tzinfo=UTC)
    assert verdict(result, "time_window") == evaluation.WAIT
