"""Trigger rules as data, the defaults every location starts with, and how one rule is
judged against a lead's events. Pure: no I/O.

Every window ends at `now`: a rule answers "did the lead just do something worth a
touch?", so evidence older than the window never fires. Events are judged by when
they happened, not by when we heard of them, so a late or out-of-order delivery
counts exactly as an in-order one would; the same event twice counts once.
"""

from __future__ import annotations

import itertools
import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from leadengine.ingest.v1 import ingest_service_pb2 as ingest_pb
from leadengine.intelligence.v1 import intelligence_service_pb2 as pb

SAME_LISTING = pb.TRIGGER_CONDITION_SAME_LISTING_VIEWS
EVENT_COUNT = pb.TRIGGER_CONDITION_EVENT_COUNT
RETURN = pb.TRIGGER_CONDITION_RETURN_AFTER_INACTIVITY
PRICE_BAND = pb.TRIGGER_CONDITION_PRICE_BAND_CHANGE

LISTING_VIEW = ingest_pb.EVENT_TYPE_LISTING_VIEW
FAVORITE = ingest_pb.EVENT_TYPE_FAVORITE
SAVED_SEARCH = ingest_pb.EVENT_TYPE_SAVED_SEARCH
EMAIL_CLICK = ingest_pb.EVENT_TYPE_EMAIL_CLICK

DAY = timedelta(days=1)


@dataclass(frozen=True)
class Rule:
    rule_id: str
    name: str
    condition: int
    min_count: int
    window: timedelta
    suppression: timedelta
    hot: bool
    event_types: tuple[int, ...] = ()
    listing_required: bool = False
    inactivity: timedelta = timedelta(0)
    price_change_percent: float = 0.0
    baseline: timedelta = timedelta(0)
    disabled: bool = False
    # 0: a built-in default the location has not overridden.
    version: int = 0
    location_id: str = ""
    update_time: datetime | None = None

    @property
    def is_default(self) -> bool:
        return self.version == 0

    @property
    def lookback(self) -> timedelta:
        """How far back this rule reads events."""
        return self.window + max(self.inactivity, self.baseline)

    def same_definition(self, other: Rule) -> bool:
        """Equal but for identity and bookkeeping: storing it again would change nothing."""
        keep = ("rule_id", "location_id", "version", "update_time")
        return all(getattr(self, f) == getattr(other, f) for f in self.__dataclass_fields__ if f not in keep)


# Thresholds follow kvCORE/BoldTrail's behavioural automation (domain.md §3); the
# suppression windows keep one kind of behaviour from touching a lead more than once a
# window. Hot ones are strong buying signals an agent should hear about at once.
DEFAULT_RULES: tuple[Rule, ...] = (
    Rule(
        "same-listing-3x-7d",
        "Same listing viewed 3 times in 7 days",
        SAME_LISTING,
        3,
        7 * DAY,
        7 * DAY,
        hot=True,
    ),
    Rule(
        "listings-5-in-24h",
        "5 listings viewed in 24 hours",
        EVENT_COUNT,
        5,
        DAY,
        3 * DAY,
        hot=True,
        event_types=(LISTING_VIEW,),
    ),
    Rule(
        "listings-10-in-7d",
        "10 listings viewed in 7 days",
        EVENT_COUNT,
        10,
        7 * DAY,
        7 * DAY,
        hot=False,
        event_types=(LISTING_VIEW,),
    ),
    Rule(
        "return-after-14d",
        "Back after 14 days or more away",
        RETURN,
        1,
        DAY,
        14 * DAY,
        hot=False,
        inactivity=14 * DAY,
    ),
    Rule("favorite", "Favourited a listing", EVENT_COUNT, 1, DAY, DAY, hot=True, event_types=(FAVORITE,)),
    Rule("saved-search", "Saved a search", EVENT_COUNT, 1, DAY, DAY, hot=False, event_types=(SAVED_SEARCH,)),
    Rule(
        "email-listing-click",
        "Clicked a listing in an email",
        EVENT_COUNT,
        1,
        DAY,
        DAY,
        hot=True,
        event_types=(EMAIL_CLICK,),
        listing_required=True,
    ),
    Rule(
        "price-band-change",
        "Viewing a different price band",
        PRICE_BAND,
        3,
        7 * DAY,
        14 * DAY,
        hot=False,
        price_change_percent=20.0,
        baseline=30 * DAY,
    ),
)


@dataclass(frozen=True)
class Observed:
    """One behavioural event as ingest recorded it."""

    event_id: str
    type: int  # ingest EventType
    occurred_time: datetime
    listing_id: str = ""
    price_usd: int = 0
    # The listing's address when the event's properties named one.
    listing_label: str = ""


@dataclass(frozen=True)
class Match:
    """Why a rule fires now."""

    description: str
    event_ids: tuple[str, ...]
    # The newest causing event: a rule fires again only on newer evidence.
    evidence_time: datetime
    listing_id: str = ""
    listing_label: str = ""
    extra: dict[str, str] = field(default_factory=dict)


_WORDS = ("zero", "once", "twice", "three times", "four times", "five times", "six times")


def times(n: int) -> str:
    return _WORDS[n] if n < len(_WORDS) else f"{n} times"


def span(d: timedelta) -> str:
    if d == DAY:
        return "24 hours"
    if d.days >= 1 and d == timedelta(days=d.days):
        return f"{d.days} days"
    return f"{d.total_seconds() / 3600:g} hours"


def label_of(listing_id: str, listing_label: str) -> str:
    return listing_label or (f"listing {listing_id}" if listing_id else "a listing")


def distinct(events: Sequence[Observed], now: datetime) -> list[Observed]:
    """Oldest first, nothing after now, and the same happening recorded twice (same type,
    listing and instant, e.g. a client retry under a new id) counted once."""
    seen: set[tuple[int, str, datetime]] = set()
    kept = []
    for e in sorted(events, key=lambda e: (e.occurred_time, e.event_id)):
        key = (e.type, e.listing_id, e.occurred_time)
        if e.occurred_time > now or key in seen:
            continue
        seen.add(key)
        kept.append(e)
    return kept


def _same_listing(rule: Rule, events: list[Observed], now: datetime) -> Match | None:
    since = now - rule.window
    views: dict[str, list[Observed]] = defaultdict(list)
    for e in events:
        if e.type == LISTING_VIEW and e.listing_id and e.occurred_time >= since:
            views[e.listing_id].append(e)
    hits = [v for v in views.values() if len(v) >= rule.min_count]
    if not hits:
        return None
    # The listing most recently looked at is the one on the lead's mind.
    chosen = max(hits, key=lambda v: (v[-1].occurred_time, v[-1].listing_id))
    label = next((e.listing_label for e in reversed(chosen) if e.listing_label), "")
    return Match(
        f"{label_of(chosen[0].listing_id, label)}, viewed {times(len(chosen))} in {span(rule.window)}",
        tuple(e.event_id for e in chosen),
        chosen[-1].occurred_time,
        chosen[0].listing_id,
        label,
    )


# (one event, several events) per event type, for EVENT_COUNT descriptions.
_PHRASES: dict[int, tuple[str, str]] = {
    LISTING_VIEW: ("viewed {label}", "viewed {n} listings"),
    FAVORITE: ("favourited {label}", "favourited {n} listings"),
    SAVED_SEARCH: ("saved a search", "saved {n} searches"),
    EMAIL_CLICK: ("clicked {label} in an email", "clicked {n} links in emails"),
}


def _event_count(rule: Rule, events: list[Observed], now: datetime) -> Match | None:
    since = now - rule.window
    hits = [
        e
        for e in events
        if e.type in rule.event_types
        and e.occurred_time >= since
        and (e.listing_id or not rule.listing_required)
    ]
    if len(hits) < max(rule.min_count, 1):
        return None
    latest = hits[-1]
    kinds = {e.type for e in hits}
    one, many = _PHRASES.get(latest.type, ("did {label}", "{n} events")) if len(kinds) == 1 else ("", "")
    if len(hits) == 1:
        label = label_of(latest.listing_id, latest.listing_label)
        what = one.format(label=label) if one else ingest_pb.EventType.Name(latest.type).lower()  # type: ignore[arg-type]
    else:
        what = (many or "{n} events").format(n=len(hits)) + f" in {span(rule.window)}"
    return Match(
        what,
        tuple(e.event_id for e in hits),
        latest.occurred_time,
        latest.listing_id if len(hits) == 1 else "",
        latest.listing_label if len(hits) == 1 else "",
    )


def _return(rule: Rule, events: list[Observed], now: datetime, known_since: datetime | None) -> Match | None:
    """The latest event within window that ended a quiet spell of at least `inactivity`
    since the sighting before it. The lead's creation counts as a sighting, so a first
    visit long after sign-up is a return; without it, a lone first event is not."""
    since = now - rule.window
    sightings: list[tuple[datetime, Observed | None]] = [(e.occurred_time, e) for e in events]
    if known_since is not None:
        sightings.append((known_since, None))
    sightings.sort(key=lambda s: s[0])
    found: Match | None = None
    for (before, _), (at, event) in itertools.pairwise(sightings):
        if event is not None and at >= since and at - before >= rule.inactivity:
            found = Match(f"back after {(at - before).days} days away", (event.event_id,), at)
    return found


def _around(usd: float) -> str:
    step = 1000 if usd < 100_000 else 5000
    return f"${round(usd / step) * step:,.0f}"


def _price_band(rule: Rule, events: list[Observed], now: datetime) -> Match | None:
    start = now - rule.window
    base_start = start - rule.baseline
    priced = [e for e in events if e.type == LISTING_VIEW and e.price_usd > 0]
    recent = [e for e in priced if e.occurred_time >= start]
    before = [e for e in priced if base_start <= e.occurred_time < start]
    need = max(rule.min_count, 1)
    if len(recent) < need or len(before) < need:
        return None
    now_median = statistics.median(e.price_usd for e in recent)
    was_median = statistics.median(e.price_usd for e in before)
    change = (now_median - was_median) / was_median * 100
    if abs(change) < rule.price_change_percent:
        return None
    direction = "up" if change > 0 else "down"
    return Match(
        f"now viewing homes around {_around(now_median)}, {direction} from around {_around(was_median)}",
        tuple(e.event_id for e in recent),
        recent[-1].occurred_time,
    )


def evaluate(
    rule: Rule, events: Sequence[Observed], now: datetime, *, known_since: datetime | None = None
) -> Match | None:
    """Whether `rule` fires on `events` as of `now`, and why. `events` may come in any
    order and repeat; see `distinct`."""
    if rule.disabled:
        return None
    kept = distinct(events, now)
    if rule.condition == SAME_LISTING:
        return _same_listing(rule, kept, now)
    if rule.condition == EVENT_COUNT:
        return _event_count(rule, kept, now)
    if rule.condition == RETURN:
        return _return(rule, kept, now, known_since)
    if rule.condition == PRICE_BAND:
        return _price_band(rule, kept, now)
    raise ValueError(f"rule {rule.rule_id} has unknown condition {rule.condition}")


def effective_rules(location_id: str, stored: Sequence[Rule]) -> list[Rule]:
    """The location's rules: its own, and each default it has not overridden; by rule_id."""
    own = {r.rule_id: r for r in stored}
    merged = [own.get(d.rule_id) or _for_location(d, location_id) for d in DEFAULT_RULES]
    merged += [r for r in stored if r.rule_id not in {d.rule_id for d in DEFAULT_RULES}]
    return sorted(merged, key=lambda r: r.rule_id)


def _for_location(rule: Rule, location_id: str) -> Rule:
    return Rule(**{**rule.__dict__, "location_id": location_id})
