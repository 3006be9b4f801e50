"""IntelligenceService handler for scoring after imports. Mixed into IntelligenceServicer."""

from __future__ import annotations

from leadengine.intelligence.v1 import intelligence_service_pb2 as pb

from services.intelligence.import_scoring import ImportScoring
from shared import inputs
from shared.rpc import Context


class ImportScoringHandlers:
    _import_scoring: ImportScoring

    async def RequestLocationScoring(
        self, request: pb.RequestLocationScoringRequest, context: Context
    ) -> pb.RequestLocationScoringResponse:
        location_id = inputs.require_text(request.location_id, "location_id")
        waiting = await self._import_scoring.request(location_id)
        return pb.RequestLocationScoringResponse(pending_requests=waiting)
