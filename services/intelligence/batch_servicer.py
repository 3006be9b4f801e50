"""IntelligenceService handlers for reading scores in bulk: proto in, repository call, proto
out. Mixed into IntelligenceServicer, which supplies intelligence_to_proto."""

from __future__ import annotations

from leadengine.intelligence.v1 import intelligence_service_pb2 as pb

from services.intelligence.repository import StoredScore
from services.intelligence.score_batches import ScoreBatches
from shared import inputs
from shared.errors import FieldViolation, InvalidArgument
from shared.rpc import Context

MAX_BATCH = 1000


class BatchHandlers:
    _batches: ScoreBatches

    async def _intelligence_protos(self, found: list[StoredScore]) -> list[pb.LeadIntelligence]:
        """The scores as of now (decay applied), as GetLeadIntelligence answers them."""
        raise NotImplementedError

    async def BatchGetLeadIntelligence(
        self, request: pb.BatchGetLeadIntelligenceRequest, context: Context
    ) -> pb.BatchGetLeadIntelligenceResponse:
        location_id = inputs.require_text(request.location_id, "location_id")
        if len(request.lead_ids) > MAX_BATCH:
            raise InvalidArgument(
                f"lead_ids has {len(request.lead_ids)} ids; the limit is {MAX_BATCH}",
                reason="TOO_MANY_IDS",
                violations=[FieldViolation("lead_ids", f"at most {MAX_BATCH} ids")],
            )
        lead_ids = [inputs.parse_uuid(raw, "lead_ids", what="lead id") for raw in request.lead_ids]
        found = await self._batches.get_many(location_id, lead_ids) if lead_ids else []
        return pb.BatchGetLeadIntelligenceResponse(intelligence=await self._intelligence_protos(found))
