"""Every parser and validator content applies to caller text either accepts it or raises
InvalidArgument: override sources, market rows, language tags, threads."""

from __future__ import annotations

from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from services.content import facts, market, overrides
from services.content.settings_repository import LocationSettings
from services.content.writer import EMAIL, FIRST_TOUCH, LANGUAGES, SMS
from shared.errors import InvalidArgument

SETTINGS = LocationSettings("loc")
PIECES = [*"{}%#- abc_.()|'\"", "{{ brand }}", "{% if city %}", "{% endif %}", "{{ nope }}"]
jinja_ish = st.lists(st.sampled_from(PIECES), max_size=30).map("".join)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=300), jinja_ish), st.sampled_from([SMS, EMAIL]))
def test_any_override_source_is_accepted_or_refused_as_invalid(body: str, channel: str) -> None:
    refused: InvalidArgument | None = None
    try:
        override = overrides.validate_override(
            0, channel, FIRST_TOUCH, "en", "Hi" if channel == EMAIL else "", body, SETTINGS
        )
    except InvalidArgument as err:
        refused = err
    if refused is not None:
        assert refused.reason.isupper()
    else:
        assert override.body == body


@given(
    st.text(max_size=8),
    st.text(max_size=80),
    st.integers(min_value=-5, max_value=2_000_000_000),
    st.integers(min_value=-5, max_value=5000),
    st.integers(min_value=-5, max_value=20_000_000),
    st.text(max_size=12),
)
def test_any_market_row_is_a_fact_or_invalid(zip_code, city, price, dom, inventory, as_of) -> None:
    refused: InvalidArgument | None = None
    try:
        fact = market.validated(
            0,
            zip_code=zip_code,
            city=city,
            price=price,
            dom=dom,
            inventory=inventory,
            as_of=as_of,
            today=date(2026, 11, 27),
        )
    except InvalidArgument as err:
        refused = err
    if refused is not None:
        assert refused.violations
    else:
        assert fact.area_kind in ("zip", "city")
        assert fact.as_of_date <= date(2026, 11, 27)
        assert fact.median_price_usd > 0


def test_freshness_is_by_as_of_date_and_the_limit_is_inclusive() -> None:
    fact = market.validated(
        0,
        zip_code="78701",
        city="",
        price=1,
        dom=1,
        inventory=1,
        as_of="2026-10-13",
        today=date(2026, 11, 27),
    )
    assert market.fresh(fact, date(2026, 11, 27), 45)
    assert not market.fresh(fact, date(2026, 11, 28), 45)
    assert not market.fresh(None, date(2026, 11, 27), 45)


@given(st.text(max_size=40))
def test_any_language_tag_becomes_a_language_we_write(raw: str) -> None:
    assert facts.language(raw) in LANGUAGES


def test_language_tags_use_their_primary_subtag() -> None:
    assert [facts.language(t) for t in ("es", "ES-mx", "es_US", "en-GB", "fr", "", "spanish")] == [
        "es",
        "es",
        "es",
        "en",
        "en",
        "en",
        "en",
    ]


@given(st.lists(st.tuples(st.booleans(), st.text(max_size=1500)), max_size=40))
def test_a_thread_keeps_the_latest_messages_sanitised(entries) -> None:
    kept = facts.thread(entries)
    assert len(kept) <= facts.THREAD_MESSAGES
    for who, text in kept:
        assert who in ("lead", "us")
        assert text
        assert len(text) <= facts.THREAD_MESSAGE_CHARS
        assert "\n" not in text
