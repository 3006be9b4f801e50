"""IntelligenceService handler for scoring after imports. Mixed into IntelligenceServicer."""

from __future__ import annotations

from leadengine.intelligence.v1 import intelligence_service_pb2 as pb

from services.intelligence.import_scoring import ImportScoring
from shared import inputs
from shared.errors import FieldViolation, InvalidArgument
from shared.rpc import Context

MAX_LEAD_IDS = 20_000


class ImportScoringHandlers:
    _import_scoring: ImportScoring

    async def RequestLocationScoring(
        self, request: pb.RequestLocationScoringRequest, context: Context
    ) -> pb.RequestLocationScoringResponse:
        location_id = inputs.require_text(request.location_id, "location_id")
        if len(request.lead_ids) > MAX_LEAD_IDS:
            raise InvalidArgument(
                f"{len(request.lead_ids)} lead_ids; at most {MAX_LEAD_IDS:,} a request",
                violations=[
                    FieldViolation("lead_ids", f"at most {MAX_LEAD_IDS:,}; none for the whole location")
                ],
            )
        lead_ids = [inputs.parse_uuid(i, "lead_ids", what="lead id") for i in request.lead_ids]
        waiting = await self._import_scoring.request(location_id, lead_ids)
        return pb.RequestLocationScoringResponse(pending_requests=waiting)
