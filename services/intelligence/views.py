"""Intelligence views as protos: the one conversion every RPC that returns a score uses."""

from __future__ import annotations

from leadengine.intelligence.v1 import intelligence_service_pb2 as pb

from services.intelligence.lead_scoring import View
from shared import timestamps

TIERS = {"cold": pb.SCORE_TIER_COLD, "warm": pb.SCORE_TIER_WARM, "hot": pb.SCORE_TIER_HOT}
TIER_NAMES = {value: name for name, value in TIERS.items()}


def intelligence_to_proto(view: View) -> pb.LeadIntelligence:
    return pb.LeadIntelligence(
        lead_id=str(view.lead_id),
        location_id=view.location_id,
        score=view.score,
        tier=TIERS[view.tier],
        factors=[
            pb.ScoreFactor(name=f.name, points=f.points, description=f.description) for f in view.factors
        ],
        score_time=timestamps.to_proto(view.score_time),
        model_version=view.model_version,
        conversion_probability=view.conversion_probability,
    )
