"""IntelligenceService handlers: proto in, domain calls, proto out. No SQL, no status codes."""

from __future__ import annotations

import math
import uuid
from datetime import timedelta
from typing import Any

from leadengine.intelligence.v1 import intelligence_service_pb2 as pb
from leadengine.intelligence.v1 import intelligence_service_pb2_grpc as pb_grpc

from services.intelligence import scoring, triggers
from services.intelligence.activity import ActivityReader
from services.intelligence.config import Config
from services.intelligence.repository import ScoreRepository
from shared import ids, pagination, timestamps
from shared.cache import MemoryCache
from shared.errors import FieldViolation, InvalidArgument, NotFound
from shared.rpc import Context

TIERS = {"cold": pb.SCORE_TIER_COLD, "warm": pb.SCORE_TIER_WARM, "hot": pb.SCORE_TIER_HOT}
TRIGGER_TYPES = {
    triggers.SINGLE_PROPERTY: pb.TRIGGER_TYPE_SINGLE_PROPERTY_INTEREST,
    triggers.BINGE: pb.TRIGGER_TYPE_BINGE_BROWSING,
    triggers.RETURN: pb.TRIGGER_TYPE_RETURN_AFTER_DORMANCY,
    triggers.FAVORITE: pb.TRIGGER_TYPE_FAVORITE,
}


def intelligence_to_proto(row: Any) -> pb.LeadIntelligence:
    return pb.LeadIntelligence(
        lead_id=str(row["lead_id"]),
        location_id=row["location_id"],
        score=row["score"],
        tier=TIERS[row["tier"]],
        factors=[
            pb.ScoreFactor(name=f["name"], points=f["points"], description=f["description"])
            for f in row["factors"]
        ],
        score_time=timestamps.to_proto(row["score_time"]),
        model_version=row["model_version"],
    )


def _min_score(raw: float, default: float) -> float:
    if math.isnan(raw) or raw < 0 or raw > 100:
        raise InvalidArgument(
            f"min_score {raw} is outside 0..100",
            violations=[FieldViolation("min_score", "0 (use the configured threshold) up to 100")],
        )
    return raw if raw > 0 else default


class IntelligenceServicer(pb_grpc.IntelligenceServiceServicer):
    def __init__(self, repo: ScoreRepository, activity: ActivityReader, cfg: Config) -> None:
        self._repo = repo
        self._activity = activity
        self._cfg = cfg
        self._rules = scoring.Rules(
            half_life_days=cfg.half_life_days,
            window_days=cfg.event_window_days,
            daily_cap=cfg.daily_event_cap,
            warm_threshold=cfg.warm_score,
            hot_threshold=cfg.hot_score,
        )
        self._trigger_rules = triggers.TriggerRules()
        self._cache = MemoryCache("intelligence_scores", ttl_s=cfg.cache_ttl_s)

    async def ScoreLead(self, request: pb.ScoreLeadRequest, context: Context) -> pb.ScoreLeadResponse:
        lead_id = ids.parse_uuid(request.lead_id, "lead_id", what="lead id")
        request_id = ids.request_key(request.request_id)
        if request_id:
            stored = await self._repo.get(lead_id)
            if stored is not None and stored["request_id"] == request_id:
                return pb.ScoreLeadResponse(intelligence=intelligence_to_proto(stored))
        lead = await self._activity.lead(lead_id, request.lead if request.HasField("lead") else None)
        now = timestamps.now()
        events = await self._activity.events(lead_id, now - timedelta(days=self._rules.window_days))
        result = scoring.score_lead(lead.profile, events, now, self._rules)
        row = await self._repo.save(lead_id, lead.location_id, result, now, request_id)
        await self._cache.invalidate(str(lead_id))
        return pb.ScoreLeadResponse(intelligence=intelligence_to_proto(row))

    async def GetLeadIntelligence(
        self, request: pb.GetLeadIntelligenceRequest, context: Context
    ) -> pb.GetLeadIntelligenceResponse:
        lead_id = ids.parse_uuid(request.lead_id, "lead_id", what="lead id")

        async def load() -> Any:
            row = await self._repo.get(lead_id)
            if row is None:
                raise NotFound(
                    f"lead {lead_id} has not been scored; call ScoreLead first",
                    reason="SCORE_NOT_FOUND",
                    metadata={"lead_id": str(lead_id)},
                )
            return row

        row = await self._cache.get_or_load(str(lead_id), load)
        return pb.GetLeadIntelligenceResponse(intelligence=intelligence_to_proto(row))

    async def ListHighIntentLeads(
        self, request: pb.ListHighIntentLeadsRequest, context: Context
    ) -> pb.ListHighIntentLeadsResponse:
        location_id = ids.require_text(request.location_id, "location_id")
        threshold = _min_score(request.min_score, self._cfg.high_intent_score)
        size = pagination.page_size(request.page_size)
        query = f"{location_id}|{threshold!r}"
        after = pagination.decode_cursor(
            request.page_token, lambda c: (float(c["s"]), uuid.UUID(c["id"])), query=query
        )
        rows = await self._repo.list_high_intent(location_id, threshold, after, size)
        page, token = pagination.page_of(
            rows, size, lambda r: {"s": repr(r["score"]), "id": str(r["lead_id"])}, query=query
        )
        return pb.ListHighIntentLeadsResponse(
            leads=[intelligence_to_proto(r) for r in page], next_page_token=token
        )

    async def EvaluateTriggers(
        self, request: pb.EvaluateTriggersRequest, context: Context
    ) -> pb.EvaluateTriggersResponse:
        lead_id = ids.parse_uuid(request.lead_id, "lead_id", what="lead id")
        lead = await self._activity.lead(lead_id)
        now = timestamps.now()
        # The scoring window, not just the trigger windows: a return is judged by the
        # gap before it, so the event that opened the gap must be read too.
        events = await self._activity.events(lead_id, now - timedelta(days=self._rules.window_days))
        fired = triggers.evaluate(events, now, self._trigger_rules, known_since=lead.create_time)
        return pb.EvaluateTriggersResponse(
            triggers=[
                pb.Trigger(
                    type=TRIGGER_TYPES[f.type],
                    description=f.description,
                    listing_id=f.listing_id,
                    fire_time=timestamps.to_proto(f.fire_time),
                )
                for f in fired
            ]
        )
