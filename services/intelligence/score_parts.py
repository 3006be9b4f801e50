"""A score kept as parts that stay true as time passes. Pure: no I/O.

Engagement decays exponentially, so a lead's engagement at any time t is
exp(key - rate * t) for one number `key` = ln(sum of fresh points x e^(rate x t_i)),
with t in days since EPOCH and rate = ln 2 / half-life. The key never changes
while the lead does nothing, so an index on it orders a location's leads of one
fit by engagement at every moment; a read computes the score as of now from
(fit, key), never from a number that was true only when it was written.

Per event kind we keep `log_mass` = ln(sum of e^(rate x t_i)) over the events that
count, so new points per kind rescore a lead without reading its events again.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from services.intelligence.scoring import (
    DEFAULT_POINTS,
    ENGAGEMENT_MAX,
    FIT_MAX,
    Event,
    LeadProfile,
    Points,
    Rules,
    Score,
    explain_engagement,
    fit_factors,
    timeline_band,
    total_score,
)

EPOCH = datetime(2020, 1, 1, tzinfo=UTC)
NO_ENGAGEMENT = -math.inf


def day_number(t: datetime) -> float:
    return (t - EPOCH).total_seconds() / 86_400


def rate(half_life_days: float) -> float:
    return math.log(2) / half_life_days


def log_sum_exp(values: Iterable[float]) -> float:
    """ln(sum(e^v)) without overflow; -inf for no values."""
    items = [v for v in values if v != NO_ENGAGEMENT]
    if not items:
        return NO_ENGAGEMENT
    top = max(items)
    return top + math.log(sum(math.exp(v - top) for v in items))


@dataclass(frozen=True)
class KindMass:
    counted: int
    capped: int  # events of the kind over the daily cap, ignored
    log_mass: float  # ln(sum of e^(rate x t_i)) over the counted events


@dataclass(frozen=True)
class Parts:
    profile: LeadProfile
    kinds: Mapping[str, KindMass]


def measure(events: Iterable[Event], now: datetime, rules: Rules) -> dict[str, KindMass]:
    """Per kind, the events that count at `now`: inside the window, at most daily_cap a UTC day
    (the latest of a day, which weigh most at every later time). An event stamped in the future
    counts as happening now, never more."""
    oldest = now - timedelta(days=rules.window_days)
    lam = rate(rules.half_life_days)
    per_day: dict[tuple[str, object], list[float]] = defaultdict(list)
    for event in events:
        if event.occurred_time < oldest:
            continue
        when = min(event.occurred_time, now)
        per_day[(event.type, event.occurred_time.date())].append(lam * day_number(when))
    exponents: dict[str, list[float]] = defaultdict(list)
    capped: dict[str, int] = defaultdict(int)
    for (kind, _day), values in per_day.items():
        kept = sorted(values, reverse=True)[: rules.daily_cap]
        exponents[kind].extend(kept)
        capped[kind] += len(values) - len(kept)
    return {
        kind: KindMass(len(values), capped[kind], log_sum_exp(values)) for kind, values in exponents.items()
    }


def fit_points(profile: LeadProfile, points: Points) -> float:
    return min(sum(f.points for f in fit_factors(profile, points) if f.name != "fit_cap"), FIT_MAX)


def engagement_key(kinds: Mapping[str, KindMass], points: Points) -> float:
    return log_sum_exp(
        math.log(points.event(kind)) + mass.log_mass for kind, mass in kinds.items() if points.event(kind) > 0
    )


def engagement_at(key: float, at: datetime, rules: Rules) -> float:
    """Engagement points at `at` before the ENGAGEMENT_MAX cap."""
    if key == NO_ENGAGEMENT:
        return 0.0
    return math.exp(key - rate(rules.half_life_days) * day_number(at))


def score_at(fit: float, key: float, at: datetime, rules: Rules) -> float:
    """The score, unrounded, from the two indexed parts."""
    return min(max(fit + min(engagement_at(key, at, rules), ENGAGEMENT_MAX), 0.0), 100.0)


def earned_at(
    kinds: Mapping[str, KindMass], points: Points, lam_t: float
) -> dict[str, tuple[float, int, int]]:
    """Per kind that earns points: (points now, events counted, events capped), at the time whose
    rate x day number is lam_t."""
    return {
        kind: (points.event(kind) * math.exp(mass.log_mass - lam_t), mass.counted, mass.capped)
        for kind, mass in kinds.items()
        if points.event(kind) > 0 and mass.log_mass != NO_ENGAGEMENT
    }


def evaluate(parts: Parts, points: Points, rules: Rules, at: datetime) -> Score:
    """The score and its factors as of `at`."""
    earned = earned_at(parts.kinds, points, rate(rules.half_life_days) * day_number(at))
    return total_score(fit_factors(parts.profile, points) + explain_engagement(earned, rules, points), rules)


# Stored forms (jsonb): the profile with the fit attributes it earns, so SQL can rescore it.


def fit_attributes(profile: LeadProfile) -> list[str]:
    attributes = []
    if profile.preapproved:
        attributes.append("preapproved")
    if profile.budget_usd > 0:
        attributes.append("budget")
    band = timeline_band(profile.timeline_months)
    if band is not None:
        attributes.append(band)
    if profile.has_phone:
        attributes.append("phone")
    if profile.has_email:
        attributes.append("email")
    if profile.source:
        attributes.append(f"source_{profile.source}")
    return attributes


def profile_to_json(profile: LeadProfile) -> dict[str, Any]:
    return {
        "budget_usd": profile.budget_usd,
        "preapproved": profile.preapproved,
        "timeline_months": profile.timeline_months,
        "has_phone": profile.has_phone,
        "has_email": profile.has_email,
        "source": profile.source,
        "attrs": fit_attributes(profile),
    }


def profile_from_json(data: Mapping[str, Any]) -> LeadProfile:
    return LeadProfile(
        budget_usd=int(data.get("budget_usd", 0)),
        preapproved=bool(data.get("preapproved", False)),
        timeline_months=int(data.get("timeline_months", 0)),
        has_phone=bool(data.get("has_phone", False)),
        has_email=bool(data.get("has_email", False)),
        source=str(data.get("source", "")),
    )


def kinds_to_json(kinds: Mapping[str, KindMass]) -> dict[str, dict[str, float]]:
    return {k: {"n": m.counted, "capped": m.capped, "m": m.log_mass} for k, m in kinds.items()}


def kinds_from_json(data: Mapping[str, Any]) -> dict[str, KindMass]:
    return {k: KindMass(int(v["n"]), int(v["capped"]), float(v["m"])) for k, v in data.items()}


__all__ = ["DEFAULT_POINTS", "Parts", "evaluate", "measure"]
