"""Scoring rules: bounds, monotonicity, decay, caps and explanations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.intelligence.scoring import (
    EVENT_WEIGHTS,
    FIT_MAX,
    Event,
    LeadProfile,
    Rules,
    decay,
    engagement_factors,
    fit_factors,
    score_lead,
)

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
RULES = Rules()
EMPTY = LeadProfile(
    budget_usd=0, preapproved=False, timeline_months=0, has_phone=False, has_email=False, source=""
)

profiles = st.builds(
    LeadProfile,
    budget_usd=st.integers(min_value=0, max_value=10**9),
    preapproved=st.booleans(),
    timeline_months=st.integers(min_value=0, max_value=120),
    has_phone=st.booleans(),
    has_email=st.booleans(),
    source=st.sampled_from(["", "web_form", "portal", "ghl", "referral", "open_house", "import", "other"]),
)
events_st = st.builds(
    Event,
    type=st.sampled_from([*EVENT_WEIGHTS, "unknown_kind"]),
    occurred_time=st.integers(min_value=-120 * 86_400, max_value=3_600).map(
        lambda s: NOW + timedelta(seconds=s)
    ),
    listing_id=st.sampled_from(["", "L1", "L2"]),
)


def ev(kind: str, days_ago: float, listing: str = "") -> Event:
    return Event(kind, NOW - timedelta(days=days_ago), listing)


@settings(max_examples=300)
@given(profiles, st.lists(events_st, max_size=80))
def test_score_is_within_bounds_and_tiered(profile: LeadProfile, events: list[Event]) -> None:
    result = score_lead(profile, events, NOW, RULES)
    assert 0 <= result.score <= 100
    expected = "hot" if result.score >= 70 else "warm" if result.score >= 40 else "cold"
    assert result.tier == expected
    assert sum(f.points for f in result.factors) == pytest.approx(result.score, abs=0.1)


@settings(max_examples=300)
@given(profiles, st.lists(events_st, max_size=60), events_st)
def test_one_more_event_never_lowers_the_score(
    profile: LeadProfile, events: list[Event], extra: Event
) -> None:
    before = score_lead(profile, events, NOW, RULES).score
    after = score_lead(profile, [*events, extra], NOW, RULES).score
    assert after >= before


@given(
    st.sampled_from(sorted(EVENT_WEIGHTS)),
    st.floats(min_value=0, max_value=80),
    st.floats(min_value=0.01, max_value=10),
)
def test_an_older_event_is_worth_less(kind: str, age_days: float, older_by: float) -> None:
    newer = score_lead(EMPTY, [ev(kind, age_days)], NOW, RULES).score
    older = score_lead(EMPTY, [ev(kind, age_days + older_by)], NOW, RULES).score
    assert older <= newer
    fresh = engagement_factors([ev(kind, age_days)], NOW, RULES)[0].points
    stale = engagement_factors([ev(kind, age_days + older_by)], NOW, RULES)[0].points
    assert stale < fresh


def test_half_life_halves_an_events_worth() -> None:
    assert decay(timedelta(days=14), 14) == pytest.approx(0.5)
    assert decay(timedelta(days=28), 14) == pytest.approx(0.25)
    assert decay(timedelta(days=-3), 14) == 1.0  # a future timestamp is fresh, not a bonus
    fresh = engagement_factors([ev("favorite", 0)], NOW, RULES)[0].points
    aged = engagement_factors([ev("favorite", 14)], NOW, RULES)[0].points
    assert aged == pytest.approx(fresh / 2)
    assert engagement_factors([ev("favorite", 7)], NOW, Rules(half_life_days=7))[0].points == pytest.approx(
        4.0
    )


def test_events_outside_the_window_and_unknown_kinds_count_nothing() -> None:
    assert engagement_factors([ev("appointment", 91), ev("unknown_kind", 0)], NOW, RULES) == []
    assert engagement_factors([ev("appointment", 89)], NOW, RULES) != []


def test_daily_cap_ignores_the_21st_event_of_a_kind_in_a_day() -> None:
    day = [Event("page_view", NOW - timedelta(minutes=i)) for i in range(25)]
    (factor,) = engagement_factors(day, NOW, RULES)
    twenty = engagement_factors(day[:20], NOW, RULES)[0]
    assert factor.points == pytest.approx(twenty.points)
    assert "5 more ignored" in factor.description
    # The same 25 spread over two days all count.
    spread = [Event("page_view", NOW - timedelta(days=i % 2, minutes=i)) for i in range(25)]
    assert engagement_factors(spread, NOW, RULES)[0].points > factor.points


def test_engagement_is_capped_at_sixty_and_shown_as_a_factor() -> None:
    events = [Event("appointment", NOW - timedelta(minutes=i)) for i in range(10)]
    result = score_lead(EMPTY, events, NOW, RULES)
    assert result.score == 60
    cap = [f for f in result.factors if f.name == "engagement_cap"]
    assert cap
    assert cap[0].points == pytest.approx(-140, abs=0.1)


def test_best_possible_fit_is_forty_and_explained() -> None:
    best = LeadProfile(
        budget_usd=450_000,
        preapproved=True,
        timeline_months=2,
        has_phone=True,
        has_email=True,
        source="referral",
    )
    factors = fit_factors(best)
    assert sum(f.points for f in factors) == FIT_MAX
    assert {f.name for f in factors} == {"preapproved", "budget", "timeline", "phone", "email", "source"}
    assert any("$450,000" in f.description for f in factors)
    assert fit_factors(EMPTY) == []


@pytest.mark.parametrize(
    ("months", "points"),
    [(0, None), (1, 10.0), (3, 10.0), (4, 6.0), (6, 6.0), (7, 3.0), (12, 3.0), (13, None)],
)
def test_timeline_points_shrink_with_distance(months: int, points: float | None) -> None:
    profile = LeadProfile(0, False, months, False, False, "")
    got = [f.points for f in fit_factors(profile) if f.name == "timeline"]
    assert got == ([] if points is None else [points])


def test_tiers_follow_configured_thresholds() -> None:
    profile = LeadProfile(100_000, True, 2, True, True, "referral")  # 40 points
    assert score_lead(profile, [], NOW, RULES).tier == "warm"
    assert score_lead(profile, [], NOW, Rules(warm_threshold=10, hot_threshold=40)).tier == "hot"
    assert score_lead(EMPTY, [], NOW, RULES).tier == "cold"


def test_same_inputs_same_score_and_version_names_the_rules() -> None:
    events = [ev("listing_view", 1, "L1"), ev("favorite", 3, "L1")]
    a = score_lead(EMPTY, events, NOW, RULES)
    b = score_lead(EMPTY, list(reversed(events)), NOW, RULES)
    assert a == b
    assert a.model_version == "rules-v1-hl14d-cap20"
    assert Rules(half_life_days=7).version != a.model_version
