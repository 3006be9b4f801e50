"""Synthetic but believable leads, agents and behaviour events. Pure: no I/O.

Everything is drawn from a random.Random seeded per block of BLOCK leads, so
lead i is the same whatever the chunk size, the stream it travels in or the
leads generated before it: `--seed 7` always loads the same book.

Nobody real can be reached: phone numbers are in the 555-0100..0199 range the
North American Numbering Plan reserves for fiction, and emails use the
example.com/.net/.org domains reserved by RFC 2606.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import accumulate
from zoneinfo import ZoneInfo

BLOCK = 1000  # leads per independently seeded block

# Fixed namespace so ids derived from (seed, index) are stable across runs.
_NAMESPACE = uuid.UUID("6f1f3a52-8d55-4c6e-9a43-3f5b2c1d7e90")


@dataclass(frozen=True, slots=True)
class City:
    name: str
    state: str
    zone: str  # IANA
    area_codes: tuple[str, ...]  # each maps to exactly this zone in libphonenumber
    median_price_usd: int
    weight: int  # relative share of leads, roughly metro size


CITIES: tuple[City, ...] = (
    City("New York", "NY", "America/New_York", ("212", "646", "718"), 780_000, 20),
    City("Boston", "MA", "America/New_York", ("617",), 820_000, 5),
    City("Philadelphia", "PA", "America/New_York", ("215", "267"), 290_000, 6),
    City("Washington", "DC", "America/New_York", ("202",), 610_000, 6),
    City("Atlanta", "GA", "America/New_York", ("404", "678"), 410_000, 7),
    City("Miami", "FL", "America/New_York", ("305", "786"), 590_000, 7),
    City("Tampa", "FL", "America/New_York", ("813",), 420_000, 4),
    City("Orlando", "FL", "America/New_York", ("407",), 400_000, 3),
    City("Charlotte", "NC", "America/New_York", ("704", "980"), 400_000, 3),
    City("Raleigh", "NC", "America/New_York", ("919",), 450_000, 2),
    City("Columbus", "OH", "America/New_York", ("614",), 300_000, 2),
    City("Louisville", "KY", "America/New_York", ("502",), 260_000, 1),
    City("Chicago", "IL", "America/Chicago", ("312", "773"), 340_000, 10),
    City("Austin", "TX", "America/Chicago", ("512", "737"), 550_000, 4),
    City("Dallas", "TX", "America/Chicago", ("214", "469", "972"), 420_000, 8),
    City("Houston", "TX", "America/Chicago", ("713", "281", "832"), 330_000, 8),
    City("San Antonio", "TX", "America/Chicago", ("210",), 290_000, 3),
    City("Nashville", "TN", "America/Chicago", ("615",), 470_000, 2),
    City("Memphis", "TN", "America/Chicago", ("901",), 230_000, 1),
    City("Minneapolis", "MN", "America/Chicago", ("612",), 350_000, 4),
    City("Kansas City", "MO", "America/Chicago", ("816",), 290_000, 2),
    City("New Orleans", "LA", "America/Chicago", ("504",), 270_000, 1),
    City("Oklahoma City", "OK", "America/Chicago", ("405",), 230_000, 1),
    City("Omaha", "NE", "America/Chicago", ("402",), 290_000, 1),
    City("Milwaukee", "WI", "America/Chicago", ("414",), 250_000, 1),
    City("Denver", "CO", "America/Denver", ("303", "720"), 590_000, 4),
    City("Salt Lake City", "UT", "America/Denver", ("801",), 540_000, 2),
    City("Albuquerque", "NM", "America/Denver", ("505",), 330_000, 1),
    City("Phoenix", "AZ", "America/Phoenix", ("602", "480"), 440_000, 6),
    City("Tucson", "AZ", "America/Phoenix", ("520",), 360_000, 1),
    City("Los Angeles", "CA", "America/Los_Angeles", ("213", "310"), 950_000, 14),
    City("San Diego", "CA", "America/Los_Angeles", ("619", "858"), 900_000, 4),
    City("San Francisco", "CA", "America/Los_Angeles", ("415",), 1_250_000, 5),
    City("Sacramento", "CA", "America/Los_Angeles", ("916",), 520_000, 3),
    City("Seattle", "WA", "America/Los_Angeles", ("206",), 820_000, 5),
    City("Portland", "OR", "America/Los_Angeles", ("503",), 530_000, 3),
    City("Las Vegas", "NV", "America/Los_Angeles", ("702",), 440_000, 3),
    City("Honolulu", "HI", "Pacific/Honolulu", ("808",), 830_000, 1),
)
_CITY_CUM = list(accumulate(c.weight for c in CITIES))  # cumulative: choices() skips re-summing

FIRST_NAMES = (
    "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David", "Elizabeth",
    "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah", "Christopher",
    "Karen", "Daniel", "Lisa", "Matthew", "Nancy", "Anthony", "Sandra", "Mark", "Ashley", "Steven",
    "Emily", "Andrew", "Michelle", "Joshua", "Amanda", "Kevin", "Melissa", "Brian", "Stephanie", "Ryan",
    "Rebecca", "Jacob", "Laura", "Nicholas", "Emma", "Eric", "Olivia", "Jonathan", "Sophia", "Luis",
    "Maria", "Carlos", "Ana", "Jose", "Sofia", "Juan", "Camila", "Wei", "Mei", "Hiroshi", "Yuki",
    "Priya", "Arjun", "Aisha", "Omar", "Fatima", "Ahmed", "Kwame", "Amara", "Dmitri", "Elena",
    "Noah", "Ava", "Liam", "Isabella", "Ethan", "Mia", "Mason", "Harper", "Lucas", "Evelyn",
    "Aiden", "Chloe", "Jackson", "Grace", "Mateo", "Zoe", "Elijah", "Nora", "Leah", "Hannah",
)  # fmt: skip
LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
    "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore",
    "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez",
    "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright", "Scott", "Torres", "Nguyen",
    "Hill", "Flores", "Green", "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell", "Mitchell",
    "Carter", "Roberts", "Kim", "Patel", "Chen", "Singh", "Wang", "Shah", "Tanaka", "Cohen", "Murphy",
    "O'Brien", "Sullivan", "Kowalski", "Novak", "Okafor", "Mensah", "Haddad", "Rossi", "Silva",
    "Santos", "Morales", "Ortiz", "Reyes", "Cruz", "Ward", "Price", "Bennett", "Brooks", "Foster",
)  # fmt: skip
_EMAIL_DOMAINS = ("example.com", "example.net", "example.org")

# Names of leadengine.ingest.v1.LeadSource values, weighted by how teams get leads.
SOURCES = ("LEAD_SOURCE_WEB_FORM", "LEAD_SOURCE_PORTAL", "LEAD_SOURCE_GHL", "LEAD_SOURCE_REFERRAL",
           "LEAD_SOURCE_OPEN_HOUSE", "LEAD_SOURCE_OTHER")  # fmt: skip
_SOURCE_CUM = list(accumulate((35, 30, 15, 10, 6, 4)))
_TIMELINES = (0, 1, 3, 6, 12, 18, 24)  # months; 0 = unknown
_TIMELINE_CUM = list(accumulate((15, 10, 25, 25, 15, 5, 5)))
_INTENTS = (("buyer",), ("seller",), ("buyer", "seller"), ("buyer", "first-time-buyer"),
            ("buyer", "relocation"), ("investor",))  # fmt: skip
_INTENT_CUM = list(accumulate((45, 20, 10, 12, 8, 5)))

# Names of leadengine.ingest.v1.EventType values a website produces.
EVENT_TYPES = ("EVENT_TYPE_LISTING_VIEW", "EVENT_TYPE_PAGE_VIEW", "EVENT_TYPE_SEARCH",
               "EVENT_TYPE_SAVED_SEARCH", "EVENT_TYPE_FAVORITE", "EVENT_TYPE_EMAIL_OPEN",
               "EVENT_TYPE_EMAIL_CLICK")  # fmt: skip
_EVENT_CUM = list(accumulate((40, 20, 15, 4, 6, 10, 5)))


@dataclass(frozen=True, slots=True)
class SyntheticLead:
    index: int
    external_contact_id: str
    first_name: str
    last_name: str
    email: str
    phone: str  # E.164
    city: str
    state: str
    timezone: str
    source: str  # LeadSource value name
    tags: tuple[str, ...]
    budget_usd: int
    timeline_months: int
    preapproved: bool
    sms_consent: bool
    email_consent: bool


@dataclass(frozen=True, slots=True)
class SyntheticAgent:
    external_user_id: str
    request_id: str  # stable, so re-seeding is a no-op
    name: str
    email: str
    phone: str
    timezone: str
    capacity: int


@dataclass(frozen=True, slots=True)
class SyntheticEvent:
    event_id: str  # stable UUID: recording it twice is a no-op
    lead_index: int
    type: str  # EventType value name
    occurred_time: datetime
    listing_id: str = ""
    listing_price_usd: int = 0


def fictional_phone(rng: random.Random, area_code: str) -> str:
    return f"+1{area_code}55501{rng.randrange(100):02d}"


def city_named(name: str) -> City:
    for city in CITIES:
        if city.name == name:
            return city
    raise KeyError(f"no synthetic city named {name!r}")


def external_contact_id(seed: int, index: int) -> str:
    """Unique per (seed, index): re-importing the same seed skips what is already there."""
    return f"syn-{seed}-{index:08d}"


def _block_rng(seed: int, kind: str, block: int) -> random.Random:
    # String seeds hash with SHA-512, so they do not depend on PYTHONHASHSEED.
    return random.Random(f"leadengine:{kind}:{seed}:{block}")  # noqa: S311 - test data, not secrets


def _lead(rng: random.Random, seed: int, index: int) -> SyntheticLead:
    city = rng.choices(CITIES, cum_weights=_CITY_CUM)[0]
    first = rng.choice(FIRST_NAMES)
    last = rng.choice(LAST_NAMES)
    local = f"{first}.{last}".lower().replace("'", "")
    tags = rng.choices(_INTENTS, cum_weights=_INTENT_CUM)[0]
    # Budgets cluster around the local median, skewed up as real asks are.
    budget = int(city.median_price_usd * rng.lognormvariate(0.0, 0.35)) // 5000 * 5000
    return SyntheticLead(
        index=index,
        external_contact_id=external_contact_id(seed, index),
        first_name=first,
        last_name=last,
        email=f"{local}{index}@{rng.choice(_EMAIL_DOMAINS)}",
        phone=fictional_phone(rng, rng.choice(city.area_codes)),
        city=city.name,
        state=city.state,
        timezone=city.zone,
        source=rng.choices(SOURCES, cum_weights=_SOURCE_CUM)[0],
        tags=tags,
        budget_usd=max(budget, 50_000),
        timeline_months=rng.choices(_TIMELINES, cum_weights=_TIMELINE_CUM)[0],
        preapproved=rng.random() < 0.3,
        sms_consent=rng.random() < 0.85,
        email_consent=rng.random() < 0.92,
    )


def leads(seed: int, start: int, count: int) -> Iterator[SyntheticLead]:
    """Leads start..start+count-1, lazily; lead i is the same in every call."""
    end = start + count
    index = start
    while index < end:
        block = index // BLOCK
        rng = _block_rng(seed, "lead", block)
        # Leads before `index` in this block still consume the RNG, to keep lead i stable.
        for skipped in range(block * BLOCK, index):
            _lead(rng, seed, skipped)
        for i in range(index, min(end, (block + 1) * BLOCK)):
            yield _lead(rng, seed, i)
        index = (block + 1) * BLOCK


def agents(seed: int, location_id: str, count: int, *, zone: str = "America/Chicago") -> list[SyntheticAgent]:
    rng = _block_rng(seed, f"agent:{location_id}", 0)
    city = next(c for c in CITIES if c.zone == zone)
    result = []
    for i in range(count):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        external = f"syn-agent-{seed}-{i:04d}"
        result.append(
            SyntheticAgent(
                external_user_id=external,
                request_id=str(uuid.uuid5(_NAMESPACE, f"agent/{location_id}/{external}")),
                name=f"{first} {last}",
                email=f"{first}.{last}".lower().replace("'", "") + f".agent{i}@example.com",
                phone=fictional_phone(rng, rng.choice(city.area_codes)),
                timezone=zone,
                capacity=rng.randrange(40, 81),
            )
        )
    return result


def events(seed: int, lead_count: int, count: int, now: datetime) -> list[SyntheticEvent]:
    """count events over a sample of the first lead_count leads, in the 30 days before now.

    Few leads get many events, as on a real site: a handful of shoppers binge.
    """
    if lead_count <= 0 or count <= 0:
        return []
    rng = _block_rng(seed, "event", 0)
    hot = rng.sample(range(lead_count), k=min(lead_count, max(1, count // 5)))
    result = []
    for n in range(count):
        lead_index = rng.choice(hot)
        kind = rng.choices(EVENT_TYPES, cum_weights=_EVENT_CUM)[0]
        occurred = now - timedelta(seconds=rng.randrange(30 * 24 * 3600))
        listing = kind in ("EVENT_TYPE_LISTING_VIEW", "EVENT_TYPE_FAVORITE")
        result.append(
            SyntheticEvent(
                event_id=str(uuid.uuid5(_NAMESPACE, f"event/{seed}/{n}")),
                lead_index=lead_index,
                type=kind,
                occurred_time=occurred,
                listing_id=f"MLS-{rng.randrange(10_000_000):07d}" if listing else "",
                listing_price_usd=rng.randrange(150, 2500) * 1000 if listing else 0,
            )
        )
    return result


def daytime_city(now: datetime, *, start_hour: int = 9, end_hour: int = 20) -> tuple[City, bool]:
    """A city where it is daytime at `now`, so a first text is not held for quiet hours.

    Prefers the local time closest to mid-afternoon. When no US zone is in the
    window (around 07:00-12:00 UTC), returns the nearest one and False.
    """

    def rank(city: City) -> tuple[bool, float, int]:
        local = now.astimezone(ZoneInfo(city.zone))
        hour = local.hour + local.minute / 60
        inside = start_hour <= hour < end_hour
        # Hours to the window's edges, around the clock (23:30 is half an hour from 00:00).
        to_edge = min(min(abs(hour - h), 24 - abs(hour - h)) for h in (start_hour, end_hour))
        return (not inside, abs(hour - 14.5) if inside else to_edge, -city.weight)

    best = min(CITIES, key=rank)
    local = now.astimezone(ZoneInfo(best.zone))
    return best, start_hour <= local.hour < end_hour
