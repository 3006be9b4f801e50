"""The high-intent page as wire bytes (page_wire) decodes to exactly the protos page_protos builds
(which test_page_views holds equal to the single-lead path), whether each row's template is
built for the page or reused from an earlier, older listing."""

from __future__ import annotations

import uuid
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from leadengine.intelligence.v1 import intelligence_service_pb2 as pb

from services.intelligence import page_wire, score_parts
from services.intelligence.conversion import Model
from services.intelligence.page_views import page_protos
from services.intelligence.scoring import tier_for
from shared import timestamps
from tests.unit.test_page_views import POINTS, RULES, TRAINED, row
from tests.unit.test_score_parts import recent_events
from tests.unit.test_scoring import NOW, profiles


def wire_page(
    ranked, points, model, as_of, version, templates, location="loc-1"
) -> pb.ListHighIntentLeadsResponse:
    lam_t = score_parts.rate(RULES.half_life_days) * score_parts.day_number(as_of)
    score_time = page_wire.timestamp_bytes(as_of)
    tail = page_wire.page_tail(score_time, version)
    rows = []
    for r in ranked:
        s = r.stored
        key = (s.lead_id, 1, points.version, model.version)
        template = templates.get(key)
        if template is None:
            template = page_wire.build_template(s.lead_id, location, s.parts, s.eng_key, points, model, RULES)
            templates.put(key, template)
        tier = page_wire.TIER_VALUES[tier_for(round(r.score, 2), RULES)]
        rows.append(template.render(lam_t, r.score, tier, tail))
    return pb.ListHighIntentLeadsResponse.FromString(page_wire.response_bytes(rows, "tok", score_time))


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.tuples(profiles, st.lists(recent_events, max_size=15)), min_size=1, max_size=8),
    st.sampled_from(POINTS),
    st.sampled_from([Model.prior(), TRAINED]),
    st.floats(min_value=0, max_value=40),
)
def test_wire_rows_equal_the_page_protos(leads, points, model, later_days: float) -> None:
    ranked = [row(profile, events, points) for profile, events in leads]
    templates = page_wire.RowTemplates(100)
    for as_of in (NOW, NOW + timedelta(days=later_days)):  # the second listing reuses templates
        lam_t = score_parts.rate(RULES.half_life_days) * score_parts.day_number(as_of)
        at_time = [
            type(r)(r.stored, score_parts.score_at(r.stored.fit, r.stored.eng_key, as_of, RULES))
            for r in ranked
        ]
        decoded = wire_page(at_time, points, model, as_of, "v-test", templates)
        expected = page_protos(at_time, points, model, RULES, as_of, "v-test")
        assert list(decoded.leads) == expected
        assert decoded.next_page_token == "tok"
        assert decoded.score_time == timestamps.to_proto(as_of)
        assert lam_t > 0
    assert templates.hits == len(ranked)  # the second listing built nothing


def test_a_new_row_version_or_model_is_a_miss() -> None:
    templates = page_wire.RowTemplates(2)
    lead = uuid.uuid4()
    r = row(score_parts.profile_from_json({"budget_usd": 1, "has_phone": True}), [], POINTS[0])
    built = page_wire.build_template(
        lead, "loc", r.stored.parts, r.stored.eng_key, POINTS[0], Model.prior(), RULES
    )
    templates.put((lead, 7, 0, 0), built)
    assert templates.get((lead, 7, 0, 0)) is built
    assert templates.get((lead, 8, 0, 0)) is None  # the row was written again
    assert templates.get((lead, 7, 0, 1)) is None  # the model was retrained
    templates.put((uuid.uuid4(), 1, 0, 0), built)
    templates.put((uuid.uuid4(), 1, 0, 0), built)
    assert len(templates) == 2  # bounded: the least recently used went
    assert templates.get((lead, 7, 0, 0)) is None
