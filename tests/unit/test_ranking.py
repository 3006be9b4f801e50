"""The roster-matrix ranking RouteLead uses (ranking.py) decides exactly as the per-agent
reference (matching.screen + selection.rank), for any roster, lead, model and settings."""

from __future__ import annotations

import dataclasses

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from services.routing import matching, ranking, selection
from services.routing.matching import AgentProfile, LeadProfile
from services.routing.predictor import SuccessModel
from tests.unit.test_selection import NOW, agent, agents, leads, load_weights

timed_agents = st.builds(
    lambda a, r: dataclasses.replace(a, response_s=r),
    agents,
    st.none() | st.sampled_from([5.0, 120.0, 900.0]),
)
rosters = st.lists(timed_agents, max_size=10, unique_by=lambda a: a.agent_id)


def learned(the_lead: LeadProfile, roster: list[AgentProfile], outcomes: list[bool]) -> SuccessModel:
    model = SuccessModel()
    features = matching.lead_features(the_lead)
    for someone, won in zip(roster * 3, outcomes, strict=False):
        model.learn(features + matching.pair_features(the_lead, someone), won)
    return model


def both(the_lead, roster, model, load_weight, rr, passed=frozenset()):
    features = matching.lead_features(the_lead)
    kept = [a for a in roster if a.agent_id not in passed]
    reference = selection.decide(
        the_lead,
        features,
        kept,
        matching.screen(the_lead, kept, NOW),
        model,
        load_weight=load_weight,
        round_robin=rr,
    )
    m = ranking.RosterMatrix(roster)
    considered = np.array([a.agent_id not in passed for a in roster], dtype=np.bool_)
    screened = ranking.screen(the_lead, m, NOW, considered)
    order = ranking.rank(
        the_lead, features, m, screened.eligible, model, load_weight=load_weight, round_robin=rr
    )
    fast = selection.decide(
        the_lead, features, kept, screened, model, load_weight=load_weight, round_robin=rr, order=order
    )
    return reference, fast, screened


@given(leads, rosters, load_weights, st.booleans(), st.lists(st.booleans(), max_size=20), st.data())
def test_the_matrix_decides_as_the_reference(the_lead, roster, load_weight, rr, outcomes, data) -> None:
    model = learned(the_lead, roster, outcomes)
    passed = frozenset(data.draw(st.lists(st.sampled_from([a.agent_id for a in roster]))) if roster else [])
    reference, fast, screened = both(the_lead, roster, model, load_weight, rr, passed)
    assert [a.agent_id for a, _, _ in fast.order] == [a.agent_id for a, _, _ in reference.order]
    for (_, p1, s1), (_, p2, s2) in zip(fast.order, reference.order, strict=True):
        assert abs(p1 - p2) < 1e-12
        assert abs(s1 - s2) < 1e-12
    assert fast.reasons == reference.reasons
    assert (
        screened.excluded
        == matching.screen(the_lead, [a for a in roster if a.agent_id not in passed], NOW).excluded
    )


@given(leads, rosters, st.data())
def test_a_patched_matrix_equals_a_fresh_one(the_lead, roster, data) -> None:
    m = ranking.RosterMatrix(roster)
    moved = []
    for one in roster:
        if data.draw(st.booleans()):
            one = dataclasses.replace(
                one,
                active=data.draw(st.integers(0, 6)),
                available=data.draw(st.booleans()),
                response_s=data.draw(st.none() | st.sampled_from([5.0, 900.0])),
            )
            assert m.update(one)
        moved.append(one)
    fresh = ranking.RosterMatrix(moved)
    features = matching.lead_features(the_lead)
    everyone = np.ones(len(moved), dtype=np.bool_)
    a = ranking.screen(the_lead, m, NOW, everyone)
    b = ranking.screen(the_lead, fresh, NOW, everyone)
    assert a.excluded == b.excluded
    kw = {"load_weight": 1.0, "round_robin": False}
    got = ranking.rank(the_lead, features, m, a.eligible, SuccessModel(), **kw)
    want = ranking.rank(the_lead, features, fresh, b.eligible, SuccessModel(), **kw)
    assert list(got) == list(want)


def test_an_attribute_change_is_not_patched_in_place() -> None:
    one = agent("Ana", languages=frozenset({"en"}))
    m = ranking.RosterMatrix([one])
    assert not m.update(dataclasses.replace(one, languages=frozenset({"es"})))
    assert m.profiles[0].languages == frozenset({"en"})
