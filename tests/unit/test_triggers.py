"""Behavioural triggers, each at the edge of its threshold and window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from services.intelligence.scoring import Event
from services.intelligence.triggers import BINGE, FAVORITE, RETURN, SINGLE_PROPERTY, evaluate

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)


def view(listing: str, ago: timedelta) -> Event:
    return Event("listing_view", NOW - ago, listing)


def fired(events: list[Event], known_since: datetime | None = None) -> list[str]:
    return [f.type for f in evaluate(events, NOW, known_since=known_since)]


# --- single-property interest: same listing viewed >= 3 times in 7 days -------------


def test_third_view_of_a_listing_fires_the_second_does_not() -> None:
    two = [view("L1", timedelta(days=1)), view("L1", timedelta(days=2))]
    assert SINGLE_PROPERTY not in fired(two)
    three = [*two, view("L1", timedelta(days=7))]  # exactly at the window's edge: inside
    (trigger,) = [f for f in evaluate(three, NOW) if f.type == SINGLE_PROPERTY]
    assert trigger.listing_id == "L1"
    assert trigger.fire_time == NOW - timedelta(days=1)


def test_a_view_just_outside_seven_days_does_not_count() -> None:
    events = [
        view("L1", timedelta(days=1)),
        view("L1", timedelta(days=2)),
        view("L1", timedelta(days=7) + SECOND),
    ]
    assert SINGLE_PROPERTY not in fired(events)


def test_views_of_different_listings_do_not_add_up() -> None:
    events = [view("L1", timedelta(hours=1)), view("L2", timedelta(hours=2)), view("L3", timedelta(hours=3))]
    assert SINGLE_PROPERTY not in fired(events)
    events += [view("L2", timedelta(hours=4)), view("L2", timedelta(hours=5)), view("", timedelta(hours=6))]
    assert [f.listing_id for f in evaluate(events, NOW) if f.type == SINGLE_PROPERTY] == ["L2"]


# --- binge: >= 5 listing views in 24 h ------------------------------------------------


def test_fifth_view_in_a_day_fires_binge() -> None:
    four = [view(f"L{i}", timedelta(hours=i)) for i in range(4)]
    assert BINGE not in fired(four)
    assert BINGE in fired([*four, view("L9", timedelta(hours=24))])  # edge: exactly 24 h ago counts


def test_a_view_just_over_a_day_ago_is_not_binge() -> None:
    events = [view(f"L{i}", timedelta(hours=i)) for i in range(4)] + [
        view("L9", timedelta(hours=24) + SECOND)
    ]
    assert BINGE not in fired(events)


def test_other_event_kinds_are_not_listing_views() -> None:
    events = [Event("page_view", NOW - timedelta(minutes=i)) for i in range(10)]
    assert fired(events) == []


# --- return after dormancy: an event after >= 14 days without any --------------------


def test_return_after_exactly_fourteen_days_fires() -> None:
    events = [
        Event("page_view", NOW - timedelta(days=14, hours=1)),
        Event("page_view", NOW - timedelta(hours=1)),
    ]
    (trigger,) = [f for f in evaluate(events, NOW) if f.type == RETURN]
    assert trigger.fire_time == NOW - timedelta(hours=1)
    assert "14 days" in trigger.description


def test_a_gap_one_second_short_of_fourteen_days_does_not_fire() -> None:
    events = [
        Event("page_view", NOW - timedelta(days=14, hours=1) + SECOND),
        Event("page_view", NOW - timedelta(hours=1)),
    ]
    assert RETURN not in fired(events)


def test_an_old_return_is_not_news() -> None:
    events = [Event("page_view", NOW - timedelta(days=40)), Event("page_view", NOW - timedelta(days=2))]
    assert RETURN not in fired(events)
    # ...even when the lead kept browsing after coming back.
    assert RETURN not in fired([*events, Event("page_view", NOW - timedelta(hours=1))])


def test_creation_counts_as_the_last_sighting() -> None:
    lone = [Event("listing_view", NOW - timedelta(hours=2), "L1")]
    assert RETURN not in fired(lone)  # a first event with nothing known before it
    assert RETURN in fired(lone, known_since=NOW - timedelta(days=30))
    assert RETURN not in fired(lone, known_since=NOW - timedelta(days=3))


# --- favourite: any favourite or saved search in the last 24 h -----------------------


def test_favorite_and_saved_search_fire_within_a_day() -> None:
    events = [
        Event("favorite", NOW - timedelta(hours=24), "L7"),
        Event("saved_search", NOW - timedelta(hours=3)),
        Event("favorite", NOW - timedelta(hours=24) - SECOND, "L8"),
    ]
    got = [(f.type, f.listing_id) for f in evaluate(events, NOW)]
    assert got == [(FAVORITE, "L7"), (FAVORITE, "")]


def test_no_events_no_triggers() -> None:
    assert evaluate([], NOW) == []
    assert evaluate([], NOW, known_since=NOW - timedelta(days=100)) == []


@given(
    st.lists(
        st.builds(
            Event,
            type=st.sampled_from(["listing_view", "favorite", "saved_search", "page_view", "call"]),
            occurred_time=st.integers(min_value=-40 * 86_400, max_value=0).map(
                lambda s: NOW + timedelta(seconds=s)
            ),
            listing_id=st.sampled_from(["", "A", "B"]),
        ),
        max_size=40,
    )
)
def test_triggers_never_fire_in_the_future_or_depend_on_order(events: list[Event]) -> None:
    forward = evaluate(events, NOW)
    assert forward == evaluate(list(reversed(events)), NOW)
    assert all(f.fire_time <= NOW for f in forward)


def test_creation_after_old_events_is_not_itself_a_return() -> None:
    events = [Event("page_view", NOW - timedelta(days=30))]
    assert RETURN not in fired(events, known_since=NOW - timedelta(hours=1))
    # ...but an event after it, following a long quiet spell, is.
    backdated = [*events, Event("page_view", NOW - timedelta(hours=2))]
    assert RETURN in fired(backdated, known_since=NOW - timedelta(hours=1))
