"""IntelligenceService handlers: proto in, use-case calls, proto out. No rules, no SQL, no status codes."""

from __future__ import annotations

from leadengine.intelligence.v1 import intelligence_service_pb2 as pb
from leadengine.intelligence.v1 import intelligence_service_pb2_grpc as pb_grpc

from services.intelligence.batch_servicer import BatchHandlers
from services.intelligence.cache_stats_servicer import CacheStatsHandlers
from services.intelligence.import_scoring import ImportScoring
from services.intelligence.import_servicer import ImportScoringHandlers
from services.intelligence.lead_scoring import LeadScoring
from services.intelligence.listing import HighIntentListing
from services.intelligence.location_ops import LocationOps
from services.intelligence.location_servicer import LocationHandlers
from services.intelligence.outcomes import OutcomeRepository
from services.intelligence.repository import StoredScore
from services.intelligence.score_batches import ScoreBatches
from services.intelligence.trigger_firing import TriggerFiring
from services.intelligence.trigger_preview import rule_trigger_to_proto
from services.intelligence.trigger_servicer import TriggerRuleHandlers
from services.intelligence.views import TIER_NAMES, intelligence_to_proto
from shared import inputs, pagination, tenancy, timestamps
from shared.cache import TwoLevelCache
from shared.errors import FieldViolation, InvalidArgument
from shared.rpc import Context


class IntelligenceServicer(
    TriggerRuleHandlers,
    BatchHandlers,
    LocationHandlers,
    CacheStatsHandlers,
    ImportScoringHandlers,
    pb_grpc.IntelligenceServiceServicer,
):
    def __init__(
        self,
        scoring: LeadScoring,
        listing: HighIntentListing,
        ops: LocationOps,
        outcomes: OutcomeRepository,
        cache: TwoLevelCache,
        trigger_firing: TriggerFiring,
        batches: ScoreBatches,
        import_scoring: ImportScoring,
    ) -> None:
        self._scoring = scoring
        self._import_scoring = import_scoring
        self._listing = listing
        self._ops = ops
        self._outcomes = outcomes
        self._cache = cache
        self._trigger_firing = trigger_firing
        self._batches = batches

    async def _intelligence_protos(self, found: list[StoredScore]) -> list[pb.LeadIntelligence]:
        return [intelligence_to_proto(await self._scoring.view_now(s)) for s in found]

    async def ScoreLead(self, request: pb.ScoreLeadRequest, context: Context) -> pb.ScoreLeadResponse:
        lead_id = inputs.parse_uuid(request.lead_id, "lead_id", what="lead id")
        snapshot = request.lead if request.HasField("lead") else None
        view = await self._scoring.score(lead_id, inputs.request_key(request.request_id), snapshot)
        return pb.ScoreLeadResponse(intelligence=intelligence_to_proto(view))

    async def GetLeadIntelligence(
        self, request: pb.GetLeadIntelligenceRequest, context: Context
    ) -> pb.GetLeadIntelligenceResponse:
        lead_id = inputs.parse_uuid(request.lead_id, "lead_id", what="lead id")
        location_id = inputs.require_text(request.location_id, "location_id")
        view = await self._scoring.latest(lead_id, location_id)
        return pb.GetLeadIntelligenceResponse(intelligence=intelligence_to_proto(view))

    # Returns the serialised response (wire.py sends bytes as they are): see page_wire.
    async def ListHighIntentLeads(  # type: ignore[override]
        self, request: pb.ListHighIntentLeadsRequest, context: Context
    ) -> bytes:
        location_id = inputs.require_text(request.location_id, "location_id")
        tier = TIER_NAMES.get(request.tier) if request.tier else None
        if request.tier and tier is None:
            raise InvalidArgument(
                f"tier {request.tier} is not a ScoreTier",
                violations=[FieldViolation("tier", "a ScoreTier or unset")],
            )
        band = self._listing.band(request.min_score, tier)
        size = pagination.page_size(request.page_size)
        return await self._listing.page(location_id, band, size, request.page_token)

    async def EvaluateTriggers(
        self, request: pb.EvaluateTriggersRequest, context: Context
    ) -> pb.EvaluateTriggersResponse:
        lead_id = inputs.parse_uuid(request.lead_id, "lead_id", what="lead id")
        # The location's rules, judged exactly as FireTriggers would now, with nothing recorded.
        found = await self._trigger_firing.preview(lead_id, tenancy.required_location(request.location_id))
        now = timestamps.now()
        return pb.EvaluateTriggersResponse(triggers=[rule_trigger_to_proto(r, m, now) for r, m in found])
