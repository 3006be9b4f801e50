"""How a lead's score is computed, with the words that explain it. Pure: no I/O.

Two axes, as mature CRMs do it: fit (what the lead told us: budget, pre-approval,
timeline, how to reach them, where they came from) is worth at most 40 points;
engagement (what the lead did, each event decaying with a half-life) at most 60.
Nothing here may read a protected-class attribute or a proxy for one (name,
language, neighbourhood): only the fields of LeadProfile exist for scoring.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

RULES_VERSION = "rules-v1"
FIT_MAX = 40.0
ENGAGEMENT_MAX = 60.0

# Points for one fresh event of each kind. Direct contact outweighs browsing.
EVENT_WEIGHTS: dict[str, float] = {
    "page_view": 1.0,
    "listing_view": 3.0,
    "search": 2.0,
    "saved_search": 6.0,
    "favorite": 8.0,
    "email_open": 1.0,
    "email_click": 3.0,
    "form_submit": 10.0,
    "call": 12.0,
    "sms_reply": 10.0,
    "appointment": 20.0,
}

_EVENT_NOUNS: dict[str, str] = {
    "page_view": "page view",
    "listing_view": "listing view",
    "search": "search",
    "saved_search": "saved search",
    "favorite": "favourite",
    "email_open": "email open",
    "email_click": "email click",
    "form_submit": "form submission",
    "call": "call",
    "sms_reply": "text reply",
    "appointment": "appointment",
}

# Sources by how often they turn into a conversation; unknown sources earn nothing.
SOURCE_POINTS: dict[str, float] = {
    "referral": 6.0,
    "open_house": 5.0,
    "web_form": 4.0,
    "portal": 3.0,
    "ghl": 2.0,
    "other": 1.0,
    "import": 0.0,
}


# Points per fit attribute; a location may change any of them (UpsertScoringConfig).
FIT_POINTS: dict[str, float] = {
    "preapproved": 12.0,
    "budget": 6.0,
    "timeline_3m": 10.0,
    "timeline_6m": 6.0,
    "timeline_12m": 3.0,
    "phone": 3.0,
    "email": 3.0,
    **{f"source_{name}": points for name, points in SOURCE_POINTS.items()},
}


@dataclass(frozen=True)
class Points:
    """A location's points: the defaults unless it set its own (version > 0)."""

    events: Mapping[str, float] = field(default_factory=lambda: dict(EVENT_WEIGHTS))
    fit: Mapping[str, float] = field(default_factory=lambda: dict(FIT_POINTS))
    version: int = 0

    def event(self, kind: str) -> float:
        return self.events.get(kind, 0.0)


DEFAULT_POINTS = Points()


@dataclass(frozen=True)
class LeadProfile:
    budget_usd: int
    preapproved: bool
    timeline_months: int  # 0 = unknown
    has_phone: bool
    has_email: bool
    source: str  # lower-case LeadSource name without prefix, "" when unknown


@dataclass(frozen=True)
class Event:
    type: str  # lower-case EventType name without prefix, e.g. "listing_view"
    occurred_time: datetime  # timezone-aware
    listing_id: str = ""


@dataclass(frozen=True)
class Factor:
    name: str
    points: float
    description: str


@dataclass(frozen=True)
class Rules:
    half_life_days: float = 14.0
    window_days: int = 90
    # Like Marketo: at most this many events of one kind count per UTC day, so a
    # bot refreshing a page cannot buy a lead a high score.
    daily_cap: int = 20
    warm_threshold: float = 40.0
    hot_threshold: float = 70.0

    @property
    def version(self) -> str:
        return f"{RULES_VERSION}-hl{self.half_life_days:g}d-cap{self.daily_cap}"


@dataclass(frozen=True)
class Score:
    score: float
    tier: str  # "cold", "warm", "hot"
    factors: list[Factor]
    model_version: str


def decay(age: timedelta, half_life_days: float) -> float:
    """Weight of an event this old: 1 when fresh, 0.5 after one half-life. Events
    stamped in the future (clock skew) count as fresh, never more."""
    days = max(age.total_seconds(), 0.0) / 86_400
    return math.pow(0.5, days / half_life_days)


def timeline_band(months: int) -> str | None:
    """The fit attribute a timeline earns: within 3, 6 or 12 months, else none."""
    if months <= 0:
        return None
    if months <= 3:
        return "timeline_3m"
    if months <= 6:
        return "timeline_6m"
    if months <= 12:
        return "timeline_12m"
    return None


def fit_factors(profile: LeadProfile, points: Points = DEFAULT_POINTS) -> list[Factor]:
    """What the lead told us, worth at most FIT_MAX points in all (a fit_cap factor shows the
    excess when a location's points add up to more)."""
    candidates: list[tuple[str, str, str]] = []  # factor name, fit attribute, explanation
    if profile.preapproved:
        candidates.append(("preapproved", "preapproved", "pre-approved for a mortgage"))
    if profile.budget_usd > 0:
        candidates.append(("budget", "budget", f"stated a budget of ${profile.budget_usd:,}"))
    band = timeline_band(profile.timeline_months)
    if band is not None:
        months = profile.timeline_months
        candidates.append(
            ("timeline", band, f"plans to move within {months} month{'(s)' if months <= 3 else 's'}")
        )
    if profile.has_phone:
        candidates.append(("phone", "phone", "gave a phone number"))
    if profile.has_email:
        candidates.append(("email", "email", "gave an email address"))
    if profile.source:
        candidates.append(
            ("source", f"source_{profile.source}", f"came from {profile.source.replace('_', ' ')}")
        )
    factors = [
        Factor(name, points.fit.get(attribute, 0.0), text)
        for name, attribute, text in candidates
        if points.fit.get(attribute, 0.0) > 0
    ]
    total = sum(f.points for f in factors)
    if total > FIT_MAX + CAP_TOLERANCE:
        factors.append(Factor("fit_cap", FIT_MAX - total, f"fit counts for at most {FIT_MAX:g} points"))
    return factors


def engagement_factors(
    events: Iterable[Event], now: datetime, rules: Rules, points: Points = DEFAULT_POINTS
) -> list[Factor]:
    oldest = now - timedelta(days=rules.window_days)
    # Weights per (kind, UTC day); only the daily_cap heaviest of a day count, so
    # one more event never lowers a score.
    per_day: dict[tuple[str, object], list[float]] = defaultdict(list)
    for event in events:
        if points.event(event.type) <= 0 or event.occurred_time < oldest:
            continue
        day = event.occurred_time.date()
        per_day[(event.type, day)].append(decay(now - event.occurred_time, rules.half_life_days))
    earned: dict[str, float] = defaultdict(float)
    counted: dict[str, int] = defaultdict(int)
    capped: dict[str, int] = defaultdict(int)
    for (kind, _day), weights in per_day.items():
        kept = sorted(weights, reverse=True)[: rules.daily_cap]
        earned[kind] += points.event(kind) * sum(kept)
        counted[kind] += len(kept)
        capped[kind] += len(weights) - len(kept)
    return explain_engagement(
        {kind: (earned[kind], counted[kind], capped[kind]) for kind in earned}, rules, points
    )


CAP_TOLERANCE = 1e-9


def explain_engagement(
    earned: Mapping[str, tuple[float, int, int]], rules: Rules, points: Points = DEFAULT_POINTS
) -> list[Factor]:
    """One factor per kind from (points now, events counted, events over the daily cap), heaviest
    first, and an engagement_cap factor when they add up to more than ENGAGEMENT_MAX."""
    factors: list[Factor] = []
    for kind in sorted(earned, key=lambda k: (-earned[k][0], k)):
        worth, counted, capped = earned[kind]
        noun = _EVENT_NOUNS.get(kind, kind.replace("_", " "))
        text = (
            f"{counted} {noun}(s) in the last {rules.window_days} days, worth "
            f"{points.event(kind):g} each when fresh and half as much every {rules.half_life_days:g} days"
        )
        if capped:
            text += f"; {capped} more ignored (over {rules.daily_cap} a day)"
        factors.append(Factor(kind, worth, text))
    total = sum(f.points for f in factors)
    # Decayed points summed in another order can land a hair above the cap when they meet it
    # exactly; a "-0.0 points" cap factor would explain nothing.
    if total > ENGAGEMENT_MAX + CAP_TOLERANCE:
        factors.append(
            Factor(
                "engagement_cap",
                ENGAGEMENT_MAX - total,
                f"engagement counts for at most {ENGAGEMENT_MAX:g} points",
            )
        )
    return factors


def tier_for(score: float, rules: Rules) -> str:
    if score >= rules.hot_threshold:
        return "hot"
    if score >= rules.warm_threshold:
        return "warm"
    return "cold"


def score_lead(
    profile: LeadProfile,
    events: Sequence[Event],
    now: datetime,
    rules: Rules,
    points: Points = DEFAULT_POINTS,
) -> Score:
    """0..100; the factors add up to the score (before rounding), so each one
    shows exactly what it contributed."""
    return total_score(fit_factors(profile, points) + engagement_factors(events, now, rules, points), rules)


def total_score(factors: list[Factor], rules: Rules) -> Score:
    total = min(max(sum(f.points for f in factors), 0.0), 100.0)
    score = round(total, 2)
    rounded = [Factor(f.name, round(f.points, 2), f.description) for f in factors]
    return Score(score=score, tier=tier_for(score, rules), factors=rounded, model_version=rules.version)
