"""Trigger rules as data: each default at the edge of its threshold and window, and the
same answer whatever order events arrive in and however often each is repeated."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from services.intelligence import trigger_rules as tr
from services.intelligence.trigger_rules import DEFAULT_RULES, Observed, evaluate

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
RULES = {r.rule_id: r for r in DEFAULT_RULES}
_ids = iter(range(1_000_000))


def ev(kind: int, ago: timedelta, listing: str = "", price: int = 0, label: str = "") -> Observed:
    return Observed(f"e{next(_ids)}", kind, NOW - ago, listing, price, label)


def view(listing: str, ago: timedelta, price: int = 0, label: str = "") -> Observed:
    return ev(tr.LISTING_VIEW, ago, listing, price, label)


def test_every_default_the_issue_names_exists() -> None:
    assert set(RULES) == {
        "same-listing-3x-7d", "listings-5-in-24h", "listings-10-in-7d", "return-after-14d",
        "favorite", "saved-search", "email-listing-click", "price-band-change",
    }  # fmt: skip


def test_same_listing_fires_on_the_third_view_within_7_days_and_names_the_listing() -> None:
    rule = RULES["same-listing-3x-7d"]
    two = [view("L1", DAY, label="12 Oak St"), view("L1", 2 * DAY)]
    assert evaluate(rule, two, NOW) is None
    third_too_old = [*two, view("L1", 7 * DAY + timedelta(seconds=1))]
    assert evaluate(rule, third_too_old, NOW) is None
    three = [*two, view("L1", 6 * DAY)]
    match = evaluate(rule, three, NOW)
    assert match is not None
    assert match.description == "12 Oak St, viewed three times in 7 days"
    assert match.listing_id == "L1"
    assert sorted(match.event_ids) == sorted(e.event_id for e in three)
    assert match.evidence_time == NOW - DAY


def test_the_same_view_twice_counts_once_and_future_events_not_at_all() -> None:
    rule = RULES["same-listing-3x-7d"]
    once = view("L1", DAY)
    again = Observed("other-id", once.type, once.occurred_time, once.listing_id)
    assert evaluate(rule, [once, again, view("L1", 2 * DAY)], NOW) is None
    assert evaluate(rule, [once, view("L1", 2 * DAY), view("L1", -timedelta(hours=1))], NOW) is None


def test_five_listings_in_24_hours_and_ten_in_7_days() -> None:
    four = [view(f"L{i}", timedelta(hours=i + 1)) for i in range(4)]
    assert evaluate(RULES["listings-5-in-24h"], four, NOW) is None
    five = [*four, view("L9", timedelta(hours=23))]
    match = evaluate(RULES["listings-5-in-24h"], five, NOW)
    assert match is not None
    assert match.description == "viewed 5 listings in 24 hours"
    nine = [view(f"L{i}", timedelta(days=i * 0.7)) for i in range(9)]
    assert evaluate(RULES["listings-10-in-7d"], nine, NOW) is None
    assert evaluate(RULES["listings-10-in-7d"], [*nine, view("Lx", 6 * DAY)], NOW) is not None


def test_return_after_14_days_counts_creation_as_a_sighting() -> None:
    rule = RULES["return-after-14d"]
    assert evaluate(rule, [ev(tr.LISTING_VIEW, timedelta(hours=1))], NOW) is None
    match = evaluate(rule, [ev(tr.LISTING_VIEW, timedelta(hours=1))], NOW, known_since=NOW - 20 * DAY)
    assert match is not None
    assert match.description.startswith("back after 19 days")
    short = [ev(tr.LISTING_VIEW, 13 * DAY), ev(tr.LISTING_VIEW, timedelta(hours=1))]
    assert evaluate(rule, short, NOW, known_since=NOW - 30 * DAY) is None


def test_favourite_saved_search_and_email_listing_click() -> None:
    fav = evaluate(RULES["favorite"], [ev(tr.FAVORITE, timedelta(hours=2), "L7", label="9 Elm Rd")], NOW)
    assert fav is not None
    assert fav.description == "favourited 9 Elm Rd"
    assert evaluate(RULES["favorite"], [ev(tr.FAVORITE, 2 * DAY, "L7")], NOW) is None
    assert evaluate(RULES["saved-search"], [ev(tr.SAVED_SEARCH, timedelta(hours=1))], NOW) is not None
    click = RULES["email-listing-click"]
    assert evaluate(click, [ev(tr.EMAIL_CLICK, timedelta(hours=1))], NOW) is None  # no listing named
    hit = evaluate(click, [ev(tr.EMAIL_CLICK, timedelta(hours=1), "L3")], NOW)
    assert hit is not None
    assert hit.description == "clicked listing L3 in an email"


def test_price_band_change_needs_a_clear_move_of_the_median() -> None:
    rule = RULES["price-band-change"]
    before = [view(f"B{i}", (10 + i) * DAY, price=500_000) for i in range(3)]
    same = [view(f"N{i}", DAY * i + DAY, price=550_000) for i in range(3)]
    assert evaluate(rule, before + same, NOW) is None  # +10 %: the same band
    up = [view(f"U{i}", DAY * i + DAY, price=850_000) for i in range(3)]
    match = evaluate(rule, before + up, NOW)
    assert match is not None
    assert match.description == "now viewing homes around $850,000, up from around $500,000"
    assert evaluate(rule, before[:2] + up, NOW) is None  # too little history to call it a change


def test_a_disabled_rule_never_fires() -> None:
    rule = tr.Rule(**{**RULES["favorite"].__dict__, "disabled": True})
    assert evaluate(rule, [ev(tr.FAVORITE, timedelta(hours=1), "L1")], NOW) is None


def test_a_location_override_replaces_its_default_and_keeps_the_others() -> None:
    custom = tr.Rule(**{**RULES["favorite"].__dict__, "min_count": 2, "version": 1, "location_id": "loc"})
    rules = tr.effective_rules("loc", [custom])
    assert [r.rule_id for r in rules] == sorted(RULES)
    assert next(r for r in rules if r.rule_id == "favorite").min_count == 2
    assert all(r.is_default for r in rules if r.rule_id != "favorite")


EVENTS = st.lists(
    st.builds(
        Observed,
        event_id=st.uuids().map(str),
        type=st.sampled_from([tr.LISTING_VIEW, tr.FAVORITE, tr.SAVED_SEARCH, tr.EMAIL_CLICK, 1]),
        occurred_time=st.integers(min_value=-60 * 86_400, max_value=3600).map(
            lambda s: NOW + timedelta(seconds=s)
        ),
        listing_id=st.sampled_from(["", "A", "B"]),
        price_usd=st.sampled_from([0, 300_000, 900_000]),
    ),
    max_size=40,
)


@given(EVENTS, st.randoms(use_true_random=False))
def test_order_and_redelivery_never_change_what_fires(events: list[Observed], rnd: random.Random) -> None:
    shuffled = [*events, *rnd.sample(events, len(events) // 2)]  # half of them delivered twice
    rnd.shuffle(shuffled)
    for rule in DEFAULT_RULES:
        first = evaluate(rule, events, NOW, known_since=NOW - 90 * DAY)
        second = evaluate(rule, shuffled, NOW, known_since=NOW - 90 * DAY)
        assert (first is None) == (second is None), rule.rule_id
        if first is not None and second is not None:
            assert (first.description, first.evidence_time) == (second.description, second.evidence_time)
            assert first.evidence_time <= NOW
