"""IntelligenceService handlers: proto in, use-case calls, proto out. No rules, no SQL, no status codes."""

from __future__ import annotations

import uuid

from leadengine.intelligence.v1 import intelligence_service_pb2 as pb
from leadengine.intelligence.v1 import intelligence_service_pb2_grpc as pb_grpc

from services.intelligence import triggers
from services.intelligence.batch_servicer import BatchHandlers
from services.intelligence.lead_scoring import LeadScoring
from services.intelligence.repository import StoredScore
from services.intelligence.score_batches import ScoreBatches
from services.intelligence.trigger_check import TriggerCheck
from services.intelligence.trigger_firing import TriggerFiring
from services.intelligence.trigger_servicer import TriggerRuleHandlers
from shared import inputs, pagination, timestamps
from shared.rpc import Context

TIERS = {"cold": pb.SCORE_TIER_COLD, "warm": pb.SCORE_TIER_WARM, "hot": pb.SCORE_TIER_HOT}
TRIGGER_TYPES = {
    triggers.SINGLE_PROPERTY: pb.TRIGGER_TYPE_SINGLE_PROPERTY_INTEREST,
    triggers.BINGE: pb.TRIGGER_TYPE_BINGE_BROWSING,
    triggers.RETURN: pb.TRIGGER_TYPE_RETURN_AFTER_DORMANCY,
    triggers.FAVORITE: pb.TRIGGER_TYPE_FAVORITE,
}


def intelligence_to_proto(stored: StoredScore) -> pb.LeadIntelligence:
    return pb.LeadIntelligence(
        lead_id=str(stored.lead_id),
        location_id=stored.location_id,
        score=stored.score,
        tier=TIERS[stored.tier],
        factors=[
            pb.ScoreFactor(name=f.name, points=f.points, description=f.description) for f in stored.factors
        ],
        score_time=timestamps.to_proto(stored.score_time),
        model_version=stored.model_version,
    )


def trigger_to_proto(fired: triggers.Fired) -> pb.Trigger:
    return pb.Trigger(
        type=TRIGGER_TYPES[fired.type],
        description=fired.description,
        listing_id=fired.listing_id,
        fire_time=timestamps.to_proto(fired.fire_time),
    )


class IntelligenceServicer(TriggerRuleHandlers, BatchHandlers, pb_grpc.IntelligenceServiceServicer):
    def __init__(
        self,
        scoring: LeadScoring,
        trigger_check: TriggerCheck,
        trigger_firing: TriggerFiring,
        batches: ScoreBatches,
    ) -> None:
        self._scoring = scoring
        self._triggers = trigger_check
        self._trigger_firing = trigger_firing
        self._batches = batches

    def _intelligence_proto(self, stored: StoredScore) -> pb.LeadIntelligence:
        return intelligence_to_proto(stored)

    async def ScoreLead(self, request: pb.ScoreLeadRequest, context: Context) -> pb.ScoreLeadResponse:
        lead_id = inputs.parse_uuid(request.lead_id, "lead_id", what="lead id")
        snapshot = request.lead if request.HasField("lead") else None
        stored = await self._scoring.score(lead_id, inputs.request_key(request.request_id), snapshot)
        return pb.ScoreLeadResponse(intelligence=intelligence_to_proto(stored))

    async def GetLeadIntelligence(
        self, request: pb.GetLeadIntelligenceRequest, context: Context
    ) -> pb.GetLeadIntelligenceResponse:
        lead_id = inputs.parse_uuid(request.lead_id, "lead_id", what="lead id")
        stored = await self._scoring.latest(lead_id)
        return pb.GetLeadIntelligenceResponse(intelligence=intelligence_to_proto(stored))

    async def ListHighIntentLeads(
        self, request: pb.ListHighIntentLeadsRequest, context: Context
    ) -> pb.ListHighIntentLeadsResponse:
        location_id = inputs.require_text(request.location_id, "location_id")
        threshold = self._scoring.threshold(request.min_score)
        size = pagination.page_size(request.page_size)
        query = f"{location_id}|{threshold!r}"
        after = pagination.decode_cursor(
            request.page_token, lambda c: (float(c["s"]), uuid.UUID(c["id"])), query=query
        )
        found = await self._scoring.high_intent(location_id, threshold, after, size)
        page, token = pagination.page_of(
            found, size, lambda s: {"s": repr(s.score), "id": str(s.lead_id)}, query=query
        )
        return pb.ListHighIntentLeadsResponse(
            leads=[intelligence_to_proto(s) for s in page], next_page_token=token
        )

    async def EvaluateTriggers(
        self, request: pb.EvaluateTriggersRequest, context: Context
    ) -> pb.EvaluateTriggersResponse:
        lead_id = inputs.parse_uuid(request.lead_id, "lead_id", what="lead id")
        fired = await self._triggers.evaluate(lead_id)
        return pb.EvaluateTriggersResponse(triggers=[trigger_to_proto(f) for f in fired])
