"""IntelligenceService handlers for whole locations and the conversion model: proto in, use-case
calls, proto out. Mixed into IntelligenceServicer."""

from __future__ import annotations

from leadengine.intelligence.v1 import intelligence_service_pb2 as pb
from leadengine.routing.v1 import routing_service_pb2 as routing_pb

from services.intelligence import points_config
from services.intelligence.lead_scoring import MODELS
from services.intelligence.listing import HighIntentListing
from services.intelligence.location_ops import LocationOps
from services.intelligence.outcomes import OutcomeRepository
from services.intelligence.scoring import Points
from shared import inputs, timestamps
from shared.cache import TwoLevelCache
from shared.errors import FieldViolation, InvalidArgument
from shared.rpc import Context

# Which outcomes train the model, and as what.
CONVERTED = {routing_pb.OUTCOME_WON: True, routing_pb.OUTCOME_LOST: False}


def points_to_proto(points: Points) -> pb.ScoringConfig:
    return pb.ScoringConfig(
        event_points=dict(points.events), fit_points=dict(points.fit), version=points.version
    )


def _request_id(raw: str) -> str:
    key = inputs.request_key(raw)
    if key is None:
        raise InvalidArgument(
            "request_id is required so a retry does not repeat the change",
            violations=[FieldViolation("request_id", "a unique id per change, reused on retry")],
        )
    return key


class LocationHandlers:
    _ops: LocationOps
    _outcomes: OutcomeRepository
    _listing: HighIntentListing
    _cache: TwoLevelCache

    async def ScoreLocation(
        self, request: pb.ScoreLocationRequest, context: Context
    ) -> pb.ScoreLocationResponse:
        location_id = inputs.require_text(request.location_id, "location_id")
        result = await self._ops.score_location(location_id)
        return pb.ScoreLocationResponse(scored_count=result.scored, removed_count=result.removed)

    async def ForgetLead(self, request: pb.ForgetLeadRequest, context: Context) -> pb.ForgetLeadResponse:
        lead_id = inputs.parse_uuid(request.lead_id, "lead_id", what="lead id")
        location_id = inputs.require_text(request.location_id, "location_id")
        return pb.ForgetLeadResponse(removed=await self._ops.forget(lead_id, location_id))

    async def UpsertScoringConfig(
        self, request: pb.UpsertScoringConfigRequest, context: Context
    ) -> pb.UpsertScoringConfigResponse:
        location_id = inputs.require_text(request.location_id, "location_id")
        points = points_config.validate(dict(request.config.event_points), dict(request.config.fit_points))
        stored, rescored = await self._ops.set_points(location_id, points, _request_id(request.request_id))
        return pb.UpsertScoringConfigResponse(config=points_to_proto(stored), rescored_count=rescored)

    async def GetScoringConfig(
        self, request: pb.GetScoringConfigRequest, context: Context
    ) -> pb.GetScoringConfigResponse:
        location_id = inputs.require_text(request.location_id, "location_id")
        return pb.GetScoringConfigResponse(config=points_to_proto(await self._ops.points(location_id)))

    async def ObserveOutcome(
        self, request: pb.ObserveOutcomeRequest, context: Context
    ) -> pb.ObserveOutcomeResponse:
        location_id = inputs.require_text(request.location_id, "location_id")
        lead_id = inputs.parse_uuid(request.lead_id, "lead_id", what="lead id")
        if (
            request.outcome == routing_pb.OUTCOME_UNSPECIFIED
            or request.outcome not in routing_pb.Outcome.values()
        ):
            raise InvalidArgument(
                "outcome must be set",
                violations=[FieldViolation("outcome", "one of OUTCOME_WON, OUTCOME_LOST, …")],
            )
        occurred = timestamps.from_proto(request.occurred_time)
        if occurred is None:
            raise InvalidArgument(
                "occurred_time is required",
                violations=[FieldViolation("occurred_time", "when the outcome happened")],
            )
        request_id = _request_id(request.request_id)
        points = await self._ops.points(location_id)
        observed = await self._outcomes.observe(
            location_id,
            lead_id,
            routing_pb.Outcome.Name(request.outcome),
            CONVERTED.get(request.outcome),
            occurred,
            request_id,
            points,
        )
        if observed.trained:
            await self._cache.invalidate(MODELS, location_id, None)
            await self._listing.forget_pages(location_id)
        return pb.ObserveOutcomeResponse(
            duplicate=observed.duplicate,
            trained=observed.trained,
            model_version=f"logreg-v{observed.model_version}",
        )

    async def GetModelStats(
        self, request: pb.GetModelStatsRequest, context: Context
    ) -> pb.GetModelStatsResponse:
        location_id = inputs.require_text(request.location_id, "location_id")
        stats = await self._outcomes.stats(location_id)
        return pb.GetModelStatsResponse(
            stats=pb.ModelStats(
                outcomes_seen=stats.outcomes_seen,
                auc=stats.auc,
                brier=stats.brier,
                calibration_error=stats.calibration_error,
                model_version=f"logreg-v{stats.model_version}",
            )
        )
