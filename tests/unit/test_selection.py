"""Routing's selection rules: who may take a lead, who gets it, and why. Pure, so property-tested."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st
from leadengine.ingest.v1 import ingest_service_pb2 as ingest_pb

from services.routing import matching, selection
from services.routing.agents import Window
from services.routing.matching import AgentProfile, LeadProfile
from services.routing.predictor import SuccessModel

T0 = datetime(2026, 1, 1, tzinfo=UTC)  # a Thursday
NOW = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)  # a Monday, 15:00 UTC

last_assign_times = st.none() | st.sampled_from([T0, T0 + timedelta(hours=1), T0 + timedelta(days=3)])
agents = st.builds(
    AgentProfile,
    agent_id=st.uuids(),
    name=st.sampled_from(["Ana", "Ben", "Cleo", "Dev", "Eli"]),
    available=st.booleans(),
    capacity=st.integers(min_value=1, max_value=5),
    active=st.integers(min_value=0, max_value=6),
    last_assign_time=last_assign_times,
    timezone=st.sampled_from(["", "America/New_York", "Asia/Tokyo"]),
    languages=st.frozensets(st.sampled_from(["en", "es", "zh"]), max_size=2),
    specialties=st.frozensets(st.sampled_from(["buyer", "seller", "luxury"]), max_size=2),
    territories=st.frozensets(st.sampled_from(["78701", "austin"]), max_size=1),
    min_price_usd=st.sampled_from([0, 200_000]),
    max_price_usd=st.sampled_from([0, 900_000]),
    working_hours=st.sampled_from([(), (Window(1, 9 * 60, 17 * 60),), (Window(2, 0, 1440),)]),
    team_id=st.just(""),
)
rosters = st.lists(agents, max_size=8, unique_by=lambda a: a.agent_id)
leads = st.builds(
    LeadProfile,
    lead_id=st.uuids(),
    location_id=st.just("loc-1"),
    source=st.sampled_from([0, 1, 2]),
    intent=st.sampled_from(list(ingest_pb.LeadIntent.values())),
    language=st.sampled_from(["", "en", "es"]),
    postal_code=st.sampled_from(["", "78701"]),
    city=st.sampled_from(["", "austin"]),
    budget_usd=st.sampled_from([0, 300_000, 2_000_000]),
    score=st.floats(min_value=0, max_value=100),
)
load_weights = st.sampled_from([0.0, 0.5, 1.0, 3.0])


def decide(lead: LeadProfile, roster: list[AgentProfile], *, load_weight: float = 1.0, rr: bool = False):
    screened = matching.screen(lead, roster, NOW)
    return selection.decide(
        lead,
        matching.lead_features(lead),
        roster,
        screened,
        SuccessModel(),
        load_weight=load_weight,
        round_robin=rr,
    )


def agent(name: str, **kw: object) -> AgentProfile:
    values: dict[str, object] = {
        "agent_id": uuid.uuid4(),
        "name": name,
        "available": True,
        "capacity": 5,
        "active": 0,
        "last_assign_time": None,
        "timezone": "",
        "languages": frozenset(),
        "specialties": frozenset(),
        "territories": frozenset(),
        "min_price_usd": 0,
        "max_price_usd": 0,
        "working_hours": (),
        "team_id": "",
    }
    values.update(kw)
    return AgentProfile(**values)  # type: ignore[arg-type]


def lead(**kw: object) -> LeadProfile:
    values: dict[str, object] = {
        "lead_id": uuid.uuid4(),
        "location_id": "loc-1",
        "source": 0,
        "intent": 0,
        "language": "",
        "postal_code": "",
        "city": "",
        "budget_usd": 0,
        "score": 50.0,
    }
    values.update(kw)
    return LeadProfile(**values)  # type: ignore[arg-type]


@given(leads, rosters, load_weights, st.booleans())
def test_a_lead_goes_to_an_eligible_agent_or_to_the_pond(
    the_lead: LeadProfile, roster: list[AgentProfile], load_weight: float, rr: bool
) -> None:
    decision = decide(the_lead, roster, load_weight=load_weight, rr=rr)
    speakers = [a for a in roster if a.available and the_lead.language in a.languages]
    if decision.chosen is None:
        assert "the lead waits in the location's pond" in decision.reasons
        assert not decision.order
        return
    best = decision.chosen.agent
    assert best in roster
    assert best.available
    assert best.active < best.capacity  # never past capacity
    assert matching.in_working_hours(best, NOW)
    if the_lead.language and speakers:
        assert the_lead.language in best.languages
    assert 0.0 < decision.chosen.predicted < 1.0


@given(leads, rosters, load_weights)
def test_no_eligible_agent_scores_higher_and_ties_go_to_fewer_open_leads(
    the_lead: LeadProfile, roster: list[AgentProfile], load_weight: float
) -> None:
    decision = decide(the_lead, roster, load_weight=load_weight)
    if decision.chosen is None:
        return
    best = decision.chosen
    assert all(score <= best.score for _, _, score in decision.order)
    tied = [a for a, _, score in decision.order if score == best.score]
    assert all(best.agent.active <= a.active for a in tied)


@given(leads, rosters)
def test_round_robin_takes_whoever_waited_longest(the_lead: LeadProfile, roster: list[AgentProfile]) -> None:
    decision = decide(the_lead, roster, rr=True)
    if decision.chosen is None:
        return
    best = decision.chosen.agent
    for other, _, _ in decision.order:
        if best.last_assign_time is not None:
            assert other.last_assign_time is not None
            assert best.last_assign_time <= other.last_assign_time


@given(leads, rosters, load_weights)
def test_the_choice_does_not_depend_on_the_order_agents_are_read(
    the_lead: LeadProfile, roster: list[AgentProfile], load_weight: float
) -> None:
    a = decide(the_lead, roster, load_weight=load_weight).chosen
    b = decide(the_lead, roster[::-1], load_weight=load_weight).chosen
    assert (a and a.agent) == (b and b.agent)


def test_with_equal_predictions_the_less_loaded_agent_wins() -> None:
    busy, idle = agent("Busy", active=3), agent("Idle", active=1)
    decision = decide(lead(), [busy, idle])
    assert decision.chosen is not None
    assert decision.chosen.agent == idle
    assert decision.reasons[0].startswith("Idle ranks first of 2")


def test_a_load_weight_of_zero_ranks_by_predicted_success_alone() -> None:
    match = agent("Match", active=4, languages=frozenset({"es"}), territories=frozenset({"78701"}))
    other = agent("Other", active=0, languages=frozenset({"es"}))
    the_lead = lead(language="es", postal_code="78701")
    assert decide(the_lead, [match, other], load_weight=0.0).chosen.agent == match  # type: ignore[union-attr]
    assert decide(the_lead, [match, other], load_weight=3.0).chosen.agent == other  # type: ignore[union-attr]


def test_language_is_a_hard_constraint_only_when_someone_speaks_it() -> None:
    es = agent("Sofia", active=4, languages=frozenset({"es"}))
    en = agent("Ben", languages=frozenset({"en"}))
    chosen = decide(lead(language="es"), [es, en]).chosen
    assert chosen is not None
    assert chosen.agent == es
    assert decide(lead(language="fr"), [es, en]).chosen is not None  # nobody speaks it: anyone


def test_working_hours_are_on_the_agents_own_clock() -> None:
    # NOW is Monday 15:00 UTC: 10:00 in New York, 00:00 Tuesday in Tokyo.
    ny = agent("NY", timezone="America/New_York", working_hours=(Window(1, 9 * 60, 17 * 60),))
    tokyo = agent("Tokyo", timezone="Asia/Tokyo", working_hours=(Window(1, 9 * 60, 17 * 60),))
    assert matching.in_working_hours(ny, NOW)
    assert not matching.in_working_hours(tokyo, NOW)
    decision = decide(lead(), [ny, tokyo])
    assert decision.chosen is not None
    assert decision.chosen.agent == ny
    assert "skipped outside working hours: Tokyo" in decision.reasons


def test_skipped_agents_are_explained_and_nobody_eligible_is_the_pond() -> None:
    full = agent("Full", active=2, capacity=2)
    off = agent("Off", available=False)
    decision = decide(lead(), [full, off])
    assert decision.chosen is None
    assert "skipped at capacity: Full" in decision.reasons
    assert "skipped unavailable: Off" in decision.reasons
    assert decision.reasons[-1] == "the lead waits in the location's pond"


def test_an_empty_location_is_told_to_add_an_agent() -> None:
    decision = decide(lead(), [])
    assert decision.chosen is None
    assert "has no agents" in decision.reasons[0]


@given(leads, rosters, st.lists(st.booleans(), min_size=1, max_size=30))
def test_the_fast_scorer_equals_the_model_on_the_pair_features(
    the_lead: LeadProfile, roster: list[AgentProfile], outcomes: list[bool]
) -> None:
    model = SuccessModel()
    features = matching.lead_features(the_lead)
    for agent, won in zip(roster * 5, outcomes, strict=False):  # a model that has learned something
        model.learn(features + matching.pair_features(the_lead, agent), won)
    fast = selection.PairLogit(model, the_lead, features)
    for agent in roster:
        assert abs(fast(agent) - model.logit(features + matching.pair_features(the_lead, agent))) < 1e-9
