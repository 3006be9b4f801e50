"""The synthetic data `leadengine seed` loads: valid, consistent with its zone, reproducible."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import phonenumbers
from hypothesis import given, settings
from hypothesis import strategies as st
from leadengine.ingest.v1 import ingest_service_pb2 as ingest_pb
from phonenumbers import timezone as phone_timezone

from cli import seed, synthetic
from shared.contact import normalize_email, normalize_phone, zone_for

SAMPLE = list(synthetic.leads(seed=3, start=0, count=3000))


def test_every_city_area_code_is_valid_and_in_the_city_zone() -> None:
    for city in synthetic.CITIES:
        ZoneInfo(city.zone)  # a real IANA zone
        for code in city.area_codes:
            number = phonenumbers.parse(f"+1{code}5550100")
            assert phonenumbers.is_valid_number(number), (city.name, code)
            assert phone_timezone.time_zones_for_number(number) == (city.zone,), (city.name, code)


def test_lead_phones_are_valid_fictional_e164_matching_the_lead_zone() -> None:
    for lead in SAMPLE:
        number = phonenumbers.parse(lead.phone)
        assert phonenumbers.is_valid_number(number), lead.phone
        assert phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) == lead.phone
        assert normalize_phone(lead.phone, "lead.phone") == lead.phone
        assert lead.phone[5:9] == "5550"  # 555-0100..0199: reserved for fiction
        assert 100 <= int(lead.phone[8:]) <= 199
        # The coordinator's quiet-hours zone, from the phone alone, is the lead's zone.
        assert zone_for("", lead.phone) == ZoneInfo(lead.timezone)
        city = synthetic.city_named(lead.city)
        assert (city.state, city.zone) == (lead.state, lead.timezone)
        assert lead.phone[2:5] in city.area_codes


def test_leads_spread_over_us_zones_with_realistic_fields() -> None:
    zones = Counter(lead.timezone for lead in SAMPLE)
    assert {"America/New_York", "America/Chicago", "America/Denver", "America/Phoenix"} <= set(zones)
    assert "America/Los_Angeles" in zones
    assert max(zones.values()) < len(SAMPLE) * 0.6
    assert 0.75 < sum(lead.sms_consent for lead in SAMPLE) / len(SAMPLE) < 0.95
    assert 0.8 < sum(lead.email_consent for lead in SAMPLE) / len(SAMPLE) < 1.0
    assert len({lead.source for lead in SAMPLE}) >= 5
    assert all(lead.budget_usd >= 50_000 and lead.budget_usd % 5000 == 0 for lead in SAMPLE)
    for lead in SAMPLE:
        assert normalize_email(lead.email, "lead.email") == lead.email
        assert lead.email.rsplit("@", 1)[1] in ("example.com", "example.net", "example.org")


def test_external_contact_ids_are_unique() -> None:
    assert len({lead.external_contact_id for lead in SAMPLE}) == len(SAMPLE)
    other_seed = {lead.external_contact_id for lead in synthetic.leads(seed=4, start=0, count=100)}
    assert other_seed.isdisjoint(lead.external_contact_id for lead in SAMPLE)


def test_same_seed_same_leads_other_seed_other_leads() -> None:
    again = list(synthetic.leads(seed=3, start=0, count=3000))
    assert again == SAMPLE
    other = list(synthetic.leads(seed=4, start=0, count=3000))
    assert sum(a.phone == b.phone and a.email == b.email for a, b in zip(other, SAMPLE, strict=True)) < 30


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10**6), start=st.integers(0, 2500), count=st.integers(0, 600))
def test_lead_i_does_not_depend_on_the_chunk_it_is_generated_in(seed: int, start: int, count: int) -> None:
    whole = list(synthetic.leads(seed, 0, start + count))
    chunk = list(synthetic.leads(seed, start, count))
    assert chunk == whole[start:]
    assert [lead.index for lead in chunk] == list(range(start, start + count))


def test_lead_proto_carries_every_field() -> None:
    lead = SAMPLE[0]
    proto = seed.lead_proto(lead, "loc-1")
    assert proto.location_id == "loc-1"
    assert proto.external_contact_id == lead.external_contact_id
    assert ingest_pb.LeadSource.Name(proto.source) == lead.source
    assert list(proto.tags) == list(lead.tags)
    assert (proto.phone, proto.timezone, proto.sms_consent) == (lead.phone, lead.timezone, lead.sms_consent)
    assert proto.country == "US"


def test_agents_are_stable_per_seed_and_location() -> None:
    first = synthetic.agents(5, "loc-a", 4)
    assert first == synthetic.agents(5, "loc-a", 4)
    assert len({a.request_id for a in first}) == 4
    assert {a.request_id for a in first}.isdisjoint(a.request_id for a in synthetic.agents(5, "loc-b", 4))
    for agent in first:
        assert phonenumbers.is_valid_number(phonenumbers.parse(agent.phone))
        assert zone_for("", agent.phone) == ZoneInfo(agent.timezone)


def test_events_are_reproducible_and_point_at_seeded_leads() -> None:
    now = datetime(2025, 3, 1, 12, tzinfo=UTC)
    events = synthetic.events(9, lead_count=500, count=200, now=now)
    assert events == synthetic.events(9, lead_count=500, count=200, now=now)
    assert len({e.event_id for e in events}) == 200
    assert all(0 <= e.lead_index < 500 for e in events)
    assert all(now - timedelta(days=30) <= e.occurred_time <= now for e in events)
    for e in events:
        ingest_pb.EventType.Value(e.type)  # a real enum value
        assert bool(e.listing_id) == (e.type in ("EVENT_TYPE_LISTING_VIEW", "EVENT_TYPE_FAVORITE"))
    assert synthetic.events(9, lead_count=0, count=10, now=now) == []


def test_daytime_city_is_daytime_whenever_any_us_city_is() -> None:
    start = datetime(2025, 1, 15, tzinfo=UTC)
    for minutes in range(0, 24 * 60, 20):
        now = start + timedelta(minutes=minutes)
        city, daytime = synthetic.daytime_city(now)
        local_hours = [now.astimezone(ZoneInfo(c.zone)).hour for c in synthetic.CITIES]
        assert daytime == any(9 <= h < 20 for h in local_hours), now
        if daytime:
            assert 9 <= now.astimezone(ZoneInfo(city.zone)).hour < 20
    # 18:00 UTC is mid-afternoon on the east coast and morning in the west.
    _, daytime = synthetic.daytime_city(datetime(2025, 1, 15, 18, tzinfo=UTC))
    assert daytime
