"""The HighLevel install state: only our key makes one, it expires, and any text that is not
one we signed is refused with words for the person at the callback page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.coordinator.delivery import oauth_state
from services.coordinator.delivery.oauth_state import BadState

KEY = "k" * 40
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def test_a_state_we_signed_verifies_until_it_expires() -> None:
    token, state = oauth_state.issue(KEY, NOW + timedelta(minutes=15))
    assert oauth_state.verify(token, KEY, NOW) == state
    assert oauth_state.verify(token, KEY, NOW + timedelta(minutes=14)) == state
    with pytest.raises(BadState, match="expired"):
        oauth_state.verify(token, KEY, NOW + timedelta(minutes=15))


def test_each_state_is_new() -> None:
    first, a = oauth_state.issue(KEY, NOW)
    second, b = oauth_state.issue(KEY, NOW)
    assert first != second
    assert a.nonce != b.nonce


def test_another_key_or_an_altered_byte_is_refused() -> None:
    token, _ = oauth_state.issue(KEY, NOW + timedelta(minutes=5))
    with pytest.raises(BadState, match="not issued by us"):
        oauth_state.verify(token, "x" * 40, NOW)
    head, _, tail = token.partition(".")
    flipped = ("B" if head[3] == "A" else "A").join((head[:3], head[4:]))
    with pytest.raises(BadState):
        oauth_state.verify(f"{flipped}.{tail}", KEY, NOW)


def test_a_missing_state_says_where_to_start() -> None:
    with pytest.raises(BadState, match="no state"):
        oauth_state.verify("", KEY, NOW)


@given(st.text(max_size=400))
def test_any_text_verifies_or_raises_bad_state(text: str) -> None:
    try:
        oauth_state.verify(text, KEY, NOW)
    except BadState:
        return
    raise AssertionError(f"{text!r} verified without being signed")
