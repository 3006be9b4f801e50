"""A high-intent page's LeadIntelligence protos, as LeadScoring.view + intelligence_to_proto build
one lead's (a unit test holds the two equal), but with what the page's rows share built once.

The listing itself now writes wire bytes from row templates (page_wire); this message path is
the readable definition those bytes are tested against (tests/unit/test_page_wire.py).

Profiling ListHighIntentLeads (py-spy, BENCHMARKS.md) showed the uncached page's time going to
Python, not PostgreSQL: per row, the model's inputs went into a numpy vector for a 20-term dot
product (numpy's per-call cost dominating), and the score time and model version were made
again for every lead. Here those are made once per page, the probability comes from the few
features a lead has set (Model.predict_values), and rows sharing a profile share its fit
factors.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from leadengine.intelligence.v1 import intelligence_service_pb2 as pb

from services.intelligence import conversion, score_parts
from services.intelligence.conversion import Model
from services.intelligence.high_intent import Ranked
from services.intelligence.scoring import (
    Factor,
    LeadProfile,
    Points,
    Rules,
    explain_engagement,
    fit_factors,
    tier_for,
)
from services.intelligence.views import TIERS
from shared import timestamps


def _protos(factors: list[Factor]) -> list[pb.ScoreFactor]:
    # Rounded as total_score rounds them: the factors shown add up to the score shown.
    return [
        pb.ScoreFactor(name=f.name, points=round(f.points, 2), description=f.description) for f in factors
    ]


def page_protos(
    ranked: Sequence[Ranked], points: Points, model: Model, rules: Rules, as_of: datetime, model_version: str
) -> list[pb.LeadIntelligence]:
    """The rows as of the listing's time; each row's score is the listing's own (the index's
    arithmetic, the one the page is ordered by), rounded, and its tier follows from it."""
    lam_t = score_parts.rate(rules.half_life_days) * score_parts.day_number(as_of)
    score_time = timestamps.to_proto(as_of)
    fit_by_profile: dict[LeadProfile, list[pb.ScoreFactor]] = {}
    result = []
    for row in ranked:
        stored = row.stored
        profile = stored.parts.profile
        fit = fit_by_profile.get(profile)
        if fit is None:
            fit = fit_by_profile[profile] = _protos(fit_factors(profile, points))
        earned = score_parts.earned_at(stored.parts.kinds, points, lam_t)
        score = round(row.score, 2)
        result.append(
            pb.LeadIntelligence(
                lead_id=str(stored.lead_id),
                location_id=stored.location_id,
                score=score,
                tier=TIERS[tier_for(score, rules)],
                factors=fit + _protos(explain_engagement(earned, rules, points)),
                score_time=score_time,
                model_version=model_version,
                conversion_probability=model.predict_values(
                    conversion.lead_feature_values(stored.parts, stored.eng_key, as_of, rules)
                ),
            )
        )
    return result
