"""Behavioural triggers over a lead's recent events. Pure: no I/O.

Thresholds follow what IDX-site CRMs ship (kvCORE/BoldTrail behavioural
automation): each trigger answers "did the lead just do something an agent
should hear about now?", so every window ends at `now`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from services.intelligence.scoring import Event

SINGLE_PROPERTY = "single_property_interest"
BINGE = "binge_browsing"
RETURN = "return_after_dormancy"
FAVORITE = "favorite"


@dataclass(frozen=True)
class TriggerRules:
    same_listing_views: int = 3
    same_listing_window: timedelta = timedelta(days=7)
    binge_views: int = 5
    binge_window: timedelta = timedelta(hours=24)
    dormancy: timedelta = timedelta(days=14)
    # A return fires while the returning event is this fresh; after that the
    # lead is simply active again.
    return_window: timedelta = timedelta(hours=24)
    favorite_window: timedelta = timedelta(hours=24)


@dataclass(frozen=True)
class Fired:
    type: str
    description: str
    fire_time: datetime
    listing_id: str = ""


def _single_property(events: Sequence[Event], now: datetime, rules: TriggerRules) -> list[Fired]:
    since = now - rules.same_listing_window
    views: dict[str, list[datetime]] = defaultdict(list)
    for e in events:
        if e.type == "listing_view" and e.listing_id and e.occurred_time >= since:
            views[e.listing_id].append(e.occurred_time)
    days = rules.same_listing_window.days
    return [
        Fired(
            SINGLE_PROPERTY,
            f"viewed listing {listing} {len(times)} times in the last {days} days",
            max(times),
            listing,
        )
        for listing, times in sorted(views.items())
        if len(times) >= rules.same_listing_views
    ]


def _binge(events: Sequence[Event], now: datetime, rules: TriggerRules) -> list[Fired]:
    since = now - rules.binge_window
    times = [e.occurred_time for e in events if e.type == "listing_view" and e.occurred_time >= since]
    if len(times) < rules.binge_views:
        return []
    hours = int(rules.binge_window.total_seconds() // 3600)
    return [Fired(BINGE, f"{len(times)} listing views in the last {hours} hours", max(times))]


def _return_after_dormancy(
    events: Sequence[Event], now: datetime, rules: TriggerRules, known_since: datetime | None
) -> list[Fired]:
    """The latest event that ended a quiet spell of at least `dormancy`. The lead's
    creation counts as a sighting, so a first visit long after sign-up is a return;
    with neither, a lone first event is not. Only an event can end a spell."""
    sightings = sorted(
        [(e.occurred_time, True) for e in events] + ([(known_since, False)] if known_since else [])
    )
    for (earlier, _), (later, is_event) in zip(
        reversed(sightings[:-1]), reversed(sightings[1:]), strict=True
    ):
        if later < now - rules.return_window:
            return []  # any return from here back is old news
        if is_event and later - earlier >= rules.dormancy:
            away = (later - earlier).days
            return [Fired(RETURN, f"came back after {away} days without activity", later)]
    return []


def _favorites(events: Sequence[Event], now: datetime, rules: TriggerRules) -> list[Fired]:
    since = now - rules.favorite_window
    latest: dict[tuple[str, str], datetime] = {}
    for e in events:
        if e.type in ("favorite", "saved_search") and e.occurred_time >= since:
            key = (e.type, e.listing_id)
            latest[key] = max(latest.get(key, e.occurred_time), e.occurred_time)
    fired = []
    for (kind, listing), when in sorted(latest.items()):
        if kind == "favorite":
            what = f"favourited listing {listing}" if listing else "favourited a listing"
        else:
            what = "saved a search"
        fired.append(Fired(FAVORITE, what, when, listing))
    return fired


def evaluate(
    events: Sequence[Event],
    now: datetime,
    rules: TriggerRules = TriggerRules(),
    *,
    known_since: datetime | None = None,
) -> list[Fired]:
    return [
        *_single_property(events, now, rules),
        *_binge(events, now, rules),
        *_return_after_dormancy(events, now, rules, known_since),
        *_favorites(events, now, rules),
    ]
