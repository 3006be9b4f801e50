"""Routing's selection rules: who gets a lead, and why. Pure, so property-tested."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.routing.selection import Candidate, choose
from shared.errors import FailedPrecondition

T0 = datetime(2026, 1, 1, tzinfo=UTC)

last_assign_times = st.none() | st.builds(
    lambda minutes: T0 + timedelta(minutes=minutes), st.integers(min_value=0, max_value=60 * 24 * 365)
)
candidates = st.builds(
    Candidate,
    agent_id=st.uuids().map(str),
    name=st.sampled_from(["Ana", "Ben", "Cleo", "Dev", "Eli"]),
    available=st.booleans(),
    capacity=st.integers(min_value=0, max_value=5),
    active=st.integers(min_value=0, max_value=6),
    # Few distinct times, so ties on the wait are common too.
    last_assign_time=st.none()
    | st.sampled_from([T0, T0 + timedelta(hours=1), T0 + timedelta(days=3)])
    | last_assign_times,
)
rosters = st.lists(candidates, max_size=8, unique_by=lambda c: c.agent_id)


def eligible(c: Candidate) -> bool:
    return c.available and c.active < c.capacity


def waited_at_least_as_long(a: Candidate, b: Candidate) -> bool:
    """a has waited at least as long as b since a last lead; never assigned = waited longest."""
    if a.last_assign_time is None:
        return True
    return b.last_assign_time is not None and a.last_assign_time <= b.last_assign_time


def agent(name: str, *, active: int = 0, capacity: int = 5, available: bool = True, last=None) -> Candidate:
    return Candidate(str(uuid.uuid4()), name, available, capacity, active, last)


@given(rosters)
def test_a_lead_goes_to_an_available_agent_with_room_or_to_no_one(roster: list[Candidate]) -> None:
    if not any(eligible(c) for c in roster):
        with pytest.raises(FailedPrecondition) as exc:
            choose(roster, location_id="loc-1")
        assert exc.value.reason == "NO_AGENT_AVAILABLE"
        assert exc.value.metadata == {"location_id": "loc-1"}
        return
    best = choose(roster, location_id="loc-1").agent
    assert best in roster
    assert best.available
    assert best.active < best.capacity


@given(rosters)
def test_no_eligible_agent_holds_fewer_open_leads(roster: list[Candidate]) -> None:
    if not any(eligible(c) for c in roster):
        return
    best = choose(roster, location_id="loc-1").agent
    assert all(best.active <= c.active for c in roster if eligible(c))


@given(rosters)
def test_a_tie_on_open_leads_goes_to_whoever_waited_longest(roster: list[Candidate]) -> None:
    if not any(eligible(c) for c in roster):
        return
    best = choose(roster, location_id="loc-1").agent
    tied = [c for c in roster if eligible(c) and c.active == best.active]
    assert all(waited_at_least_as_long(best, c) for c in tied)


@given(rosters)
def test_reasons_name_the_chosen_agent_first(roster: list[Candidate]) -> None:
    if not any(eligible(c) for c in roster):
        return
    decision = choose(roster, location_id="loc-1")
    assert decision.reasons
    assert decision.reasons[0].startswith(decision.agent.name)
    assert f"{decision.agent.active} of {decision.agent.capacity}" in decision.reasons[0]


@given(rosters)
def test_the_choice_does_not_depend_on_the_order_agents_are_read(roster: list[Candidate]) -> None:
    if not any(eligible(c) for c in roster):
        return
    assert choose(roster, location_id="l").agent == choose(roster[::-1], location_id="l").agent


def test_never_assigned_beats_a_long_wait() -> None:
    waited = agent("Ana", last=T0 - timedelta(days=365))
    fresh = agent("Ben", last=None)
    decision = choose([waited, fresh], location_id="loc-1")
    assert decision.agent == fresh
    assert any("tie on open leads with Ana" in r for r in decision.reasons)


def test_skipped_agents_are_explained() -> None:
    full = agent("Full", active=2, capacity=2)
    off = agent("Off", available=False)
    decision = choose([full, off, agent("Ana", active=1)], location_id="loc-1")
    assert decision.agent.name == "Ana"
    assert "skipped at capacity: Full" in decision.reasons
    assert "skipped as unavailable: Off" in decision.reasons


def test_an_empty_location_is_told_to_add_an_agent() -> None:
    with pytest.raises(FailedPrecondition) as exc:
        choose([], location_id="loc-1")
    assert exc.value.reason == "NO_AGENT_AVAILABLE"
