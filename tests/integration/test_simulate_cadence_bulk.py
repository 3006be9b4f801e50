"""SimulateCadence over 10,000 synthetic leads through gRPC: not one planned text
outside its recipient's legal window, checked by an oracle written here from
compliance.md §2-3 (its own hours table and zone choice, not the engine's rules).

31 days from Sunday 2026-10-25 cross the fall-back change (2026-11-01) and Veterans
Day; leads sit in every state with its own rule, in single- and multi-zone states,
with and without an explicit zone or a conflicting state, and some leads share a
number. Throughput (leads x days per second) is printed, never asserted.
"""

from __future__ import annotations

import random
import time
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from leadengine.common.v1 import common_pb2
from leadengine.coordinator.v1 import coordinator_service_pb2 as pb
from leadengine.ingest.v1 import ingest_service_pb2 as ingest_pb

from shared import timestamps
from shared.clients import Peers
from tests.support import Mesh

LEADS = 10_000
DAYS = 31
START = datetime(2026, 10, 25, 13, 0, tzinfo=UTC)
ET, CT, MT, PT = "America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles"
# (area code, its state, its zone) by hand; None: a toll-free number (no place at all).
NUMBERS = [
    ("305", "FL", ET), ("813", "FL", ET), ("405", "OK", CT), ("918", "OK", CT), ("410", "MD", ET),
    ("512", "TX", CT), ("915", "TX", MT), ("703", "VA", ET), ("206", "WA", PT), ("203", "CT", ET),
    ("205", "AL", CT), ("504", "LA", CT), ("601", "MS", CT), ("502", "KY", ET),
    ("313", "MI", ET), ("612", "MN", CT), ("505", "NM", MT), ("617", "MA", ET),
    ("702", "NV", PT), ("401", "RI", ET),
    ("212", "NY", ET), ("213", "CA", PT), ("602", "AZ", "America/Phoenix"), ("808", "HI", "Pacific/Honolulu"),
    ("303", "CO", MT), ("800", None, None),
]  # fmt: skip
STATE_ZONES = {"FL": {ET, CT}, "TX": {CT, MT}, "CA": {PT}, "NY": {ET}, "AL": {CT}, "RI": {ET}, "OK": {CT}}
EXPLICIT = [ET, CT, MT, PT, "America/Phoenix"]
# Local hours (first allowed, first closed) by weekday (Mon=0); absent: every day alike.
FEDERAL = (8, 21)
HOURS = {
    "FL": (8, 20), "OK": (8, 20), "MD": (8, 20), "TX": (9, 21), "VA": (8, 21), "WA": (8, 20), "CT": (9, 20),
    "AL": (8, 20), "LA": (8, 20), "MS": (8, 20), "KY": (10, 21), "MI": (9, 21), "MN": (9, 21), "NM": (9, 21),
    "MA": (8, 20), "NV": (9, 20), "RI": (9, 18),
}  # fmt: skip
SUNDAY = {"TX": (12, 21), "AL": None, "LA": None, "MS": None, "RI": None}
SATURDAY = {"RI": (10, 17)}
HOLIDAYS = {"AL", "LA", "RI"}
HOLIDAY_DATES = {date(2026, 11, 11)}


def synthetic(rng: random.Random) -> tuple[list[ingest_pb.Lead], list[tuple[set[str], set[str]]]]:
    """Leads, and for each the zones and states the oracle holds it to."""
    leads, truth = [], []
    shared = [f"+1{NUMBERS[i % 5][0]}555{100 + i:04d}" for i in range(20)]  # Florida, Oklahoma, Maryland...
    for i in range(LEADS):
        npa, state, zone = rng.choice(NUMBERS)
        phone = (
            rng.choice(shared) if i % 50 == 0 else f"+1{npa}{rng.randint(2, 9)}{rng.randint(0, 999_999):06d}"
        )
        if phone in shared:
            npa = phone[2:5]
            state, zone = next((s, z) for n, s, z in NUMBERS if n == npa)
        explicit = rng.choice(EXPLICIT) if rng.random() < 0.4 else ""
        lead_state = rng.choice(sorted(STATE_ZONES)) if rng.random() < 0.3 else ""
        zones: set[str] = set()
        states = {s for s in (state, lead_state) if s}
        # The signals in order; a later one whose zones miss the first's adds its own.
        for signal in (
            {explicit} if explicit else set(),
            {zone} if zone else set(),
            STATE_ZONES.get(lead_state, set()),
        ):
            if signal and (not zones or not signal & zones):
                zones |= signal
        leads.append(
            ingest_pb.Lead(
                first_name=f"Lead {i}",
                phone=phone,
                email=f"lead{i}@example.com",
                timezone=explicit,
                state=lead_state,
                sms_consent=rng.random() < 0.9,
            )
        )
        truth.append((zones, states))
    return leads, truth


def legal(at: datetime, zones: set[str], states: set[str]) -> bool:
    for name in zones:
        local = at.astimezone(ZoneInfo(name))
        windows = [FEDERAL]
        for state in states:
            if state not in HOURS:
                continue
            if state in HOLIDAYS and local.date() in HOLIDAY_DATES:
                return False
            day = {6: SUNDAY, 5: SATURDAY}.get(local.weekday(), {})
            hours = day[state] if state in day else HOURS[state]
            if hours is None:
                return False
            windows.append(hours)
        minutes = local.hour * 60 + local.minute
        if not all(start * 60 <= minutes < end * 60 for start, end in windows):
            return False
    return True


async def test_ten_thousand_leads_get_no_text_outside_their_legal_window(m: Mesh) -> None:
    leads, truth = synthetic(random.Random(9))
    # The mesh's clients cap every call at a few seconds; this one may take minutes.
    peers = Peers({"coordinator": m.addr["coordinator"]}, default_timeout_s=600.0)
    began = time.perf_counter()
    try:
        resp = await peers.coordinator.SimulateCadence(
            pb.SimulateCadenceRequest(
                location_id="loc-bulk-sim",
                leads=leads,
                start_time=timestamps.to_proto(START),
                horizon_days=DAYS,
            ),
            timeout=600,
        )
    finally:
        await peers.close()
    elapsed = time.perf_counter() - began
    print(
        f"SimulateCadence: {LEADS} leads x {DAYS} days in {elapsed:.1f} s = {LEADS * DAYS / elapsed:,.0f}"
        f" lead-days/s; {len(resp.planned)} planned messages"
    )
    texts = [p for p in resp.planned if p.channel == common_pb2.CHANNEL_SMS and p.HasField("send_time")]
    outside = []
    per_number: dict[str, list[datetime]] = defaultdict(list)
    for p in texts:
        at = timestamps.from_proto(p.send_time)
        assert at is not None
        zones, states = truth[p.lead_index]
        if not zones or not legal(at, zones, states):
            outside.append((p.lead_index, at.isoformat(), sorted(zones), sorted(states)))
        per_number[leads[p.lead_index].phone].append(at)
    assert outside == []
    assert len(texts) > 20_000  # the run planned real traffic, not nothing
    held = [p for p in resp.planned if p.channel == common_pb2.CHANNEL_SMS and not p.HasField("send_time")]
    assert held  # toll-free numbers without a zone
    assert all(not truth[p.lead_index][0] for p in held if p.status == pb.COMMUNICATION_STATUS_SCHEDULED)
    for phone, sends in per_number.items():  # FL/OK/MD: at most 3 per rolling 24 h per number
        if phone[2:5] in {"305", "813", "405", "918", "410"}:
            sends.sort()
            assert all(sum(1 for s in sends if t - timedelta(hours=24) < s <= t) <= 3 for t in sends), phone
