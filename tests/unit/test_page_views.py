"""The high-intent page's protos are the ones GetLeadIntelligence's path would build for each
row (LeadScoring.view, the listing's own score and tier, intelligence_to_proto)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.intelligence import conversion
from services.intelligence.conversion import FEATURES, Model
from services.intelligence.high_intent import Ranked
from services.intelligence.lead_scoring import LeadScoring, View
from services.intelligence.page_views import page_protos
from services.intelligence.repository import StoredScore
from services.intelligence.score_parts import Parts, engagement_key, fit_points, measure, score_at
from services.intelligence.scoring import FIT_POINTS, Event, Points, Rules, tier_for
from services.intelligence.views import intelligence_to_proto
from tests.unit.test_score_parts import recent_events
from tests.unit.test_scoring import NOW, profiles

RULES = Rules()
POINTS = [Points(), Points(fit={**FIT_POINTS, "preapproved": 30.0, "phone": 0.0}, version=4)]
TRAINED = Model.prior().learn(np.array([[1.0] * len(FEATURES)]), np.array([1.0]))


def row(profile, events: list[Event], points: Points) -> Ranked:
    parts = Parts(profile, measure(events, NOW - timedelta(days=2), RULES))
    key = engagement_key(parts.kinds, points)
    fit = fit_points(profile, points)
    stored = StoredScore(uuid.uuid4(), "loc-1", parts, fit, key, points.version, NOW, None)
    return Ranked(stored, score_at(fit, key, NOW, RULES))


def old_path(ranked: list[Ranked], points: Points, model: Model) -> list:
    scoring = LeadScoring(None, None, RULES, None, None)  # type: ignore[arg-type]
    protos = []
    for r in ranked:
        view = scoring.view(r.stored, points, model, NOW)
        score = round(r.score, 2)
        protos.append(
            intelligence_to_proto(View(**{**view.__dict__, "score": score, "tier": tier_for(score, RULES)}))
        )
    return protos


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(profiles, st.lists(recent_events, max_size=15)), min_size=1, max_size=8),
    st.sampled_from(POINTS),
    st.sampled_from([Model.prior(), TRAINED]),
)
def test_page_rows_equal_the_single_lead_path(leads, points: Points, model: Model) -> None:
    ranked = [row(profile, events, points) for profile, events in leads]
    version = LeadScoring(None, None, RULES, None, None).model_version(points, model)  # type: ignore[arg-type]
    new = page_protos(ranked, points, model, RULES, NOW, version)
    old = old_path(ranked, points, model)
    assert len(new) == len(old)
    for a, b in zip(new, old, strict=True):
        # The probability is a dot product summed in another order: equal up to float rounding.
        assert a.conversion_probability == pytest.approx(b.conversion_probability, rel=1e-12, abs=1e-15)
        b.conversion_probability = a.conversion_probability
        assert a == b


@given(profiles, st.floats(min_value=0, max_value=200), st.sampled_from([Model.prior(), TRAINED]))
def test_predict_by_name_equals_the_vector_prediction(profile, engagement: float, model: Model) -> None:
    behaviour = {"browse": engagement / 3, "contact": 1.0}
    by_name = model.predict_values(conversion.feature_values(profile, engagement, behaviour))
    by_vector = model.predict(conversion.features(profile, engagement, behaviour))
    assert by_name == pytest.approx(by_vector, rel=1e-12, abs=1e-15)
