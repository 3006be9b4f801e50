"""An agent's median response time as a success-model feature: its bands, its weight in the
ranking (a slow agent ranks below an otherwise equal fast one), its words in the reasons, and
its learning from outcomes. Pure."""

from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from services.routing import matching, selection
from services.routing.matching import AgentProfile, LeadProfile
from services.routing.predictor import SuccessModel
from tests.unit.test_selection import NOW, agent, lead, leads

responses = st.none() | st.floats(min_value=0, max_value=7 * 86400, allow_nan=False)


def rank(the_lead: LeadProfile, roster: list[AgentProfile], model: SuccessModel | None = None):
    screened = matching.screen(the_lead, roster, NOW)
    return selection.decide(
        the_lead,
        matching.lead_features(the_lead),
        roster,
        screened,
        model or SuccessModel(),
        load_weight=1.0,
        round_robin=False,
    )


def test_bands_split_at_a_minute_and_at_the_default_sla() -> None:
    assert matching.response_feature(None) == ""
    assert matching.response_feature(0.0) == "response=under_1m"
    assert matching.response_feature(60.0) == "response=under_1m"
    assert matching.response_feature(61.0) == "response=1m_to_5m"
    assert matching.response_feature(300.0) == "response=1m_to_5m"
    assert matching.response_feature(301.0) == "response=over_5m"


def test_a_slow_agent_ranks_below_an_otherwise_equal_fast_one_and_the_reasons_say_why() -> None:
    # The slow agent waited longer since a last lead, which alone would win the tie.
    slow = agent("Sam", response_s=900.0)
    fast = agent("Fay", response_s=40.0, last_assign_time=NOW)
    decision = rank(lead(), [slow, fast])
    assert decision.chosen is not None
    assert decision.chosen.agent is fast
    assert [entry[0] for entry in decision.order] == [fast, slow]
    assert decision.order[0][1] > decision.order[1][1]
    assert "answers offers in a median 40s" in decision.reasons[0]
    slow_words = selection.explain(lead(), [], slow, decision.order[1][1], decision.order[1][2]).reasons
    assert "answers offers in a median 15m 00s (response=over_5m)" in slow_words


def test_an_agent_without_answers_is_neither_helped_nor_hurt() -> None:
    unknown = agent("Una")
    middling = agent("Mia", response_s=120.0)
    the_lead = lead()
    logit = selection.PairLogit(SuccessModel(), the_lead, matching.lead_features(the_lead))
    assert logit(unknown) == logit(middling)  # the 1-5 min band starts with no weight
    assert "response=" not in " ".join(matching.pair_features(the_lead, unknown))


@given(leads, st.lists(responses, min_size=1, max_size=6), st.lists(st.booleans(), min_size=1, max_size=20))
def test_the_fast_scorer_counts_response_time_as_the_model_does(
    the_lead: LeadProfile, times: list[float | None], outcomes: list[bool]
) -> None:
    roster = [agent(f"A{i}", response_s=t) for i, t in enumerate(times)]
    model = SuccessModel()
    features = matching.lead_features(the_lead)
    for one, won in zip(roster * 4, outcomes, strict=False):
        model.learn(features + matching.pair_features(the_lead, one), won)
    fast = selection.PairLogit(model, the_lead, features)
    for one in roster:
        assert abs(fast(one) - model.logit(features + matching.pair_features(the_lead, one))) < 1e-9


def test_outcomes_teach_the_model_what_slow_answers_cost() -> None:
    """The feature is part of what an assignment stores and RecordOutcome learns from: when slow
    agents' leads are lost and fast agents' leads are won, the gap between them widens."""
    model = SuccessModel()
    the_lead = lead()
    features = matching.lead_features(the_lead)
    slow, fast = agent("Sam", response_s=1200.0), agent("Fay", response_s=30.0)
    decision = rank(the_lead, [slow, fast], model)
    assert decision.chosen is not None
    assert "response=under_1m" in decision.chosen.features  # stored on the assignment

    def gap() -> float:
        logit = selection.PairLogit(model, the_lead, features)
        return logit(fast) - logit(slow)

    before = gap()
    for _ in range(30):
        for who, won in ((agent("x", response_s=1200.0), False), (agent("y", response_s=30.0), True)):
            model.learn(features + matching.pair_features(lead(lead_id=uuid.uuid4()), who), won)
    assert gap() > before
    assert model.weight("response=over_5m") < -0.3 < 0.2 < model.weight("response=under_1m")
