"""Scoring a lead (ScoreLead) and serving stored scores (GetLeadIntelligence, ListHighIntentLeads).

ScoreLead reads the lead (unless the caller sent it) and its events from ingest
(`ActivityReader`), scores them with the pure `scoring` rules and stores the result;
a retried request_id gets the stored score.
"""

from __future__ import annotations

import math
import uuid
from datetime import timedelta

from leadengine.ingest.v1 import ingest_service_pb2 as ingest_pb

from services.intelligence import scoring
from services.intelligence.activity import ActivityReader
from services.intelligence.repository import ScoreRepository, StoredScore
from shared import timestamps
from shared.cache import MemoryCache
from shared.errors import FieldViolation, InvalidArgument, NotFound


class LeadScoring:
    def __init__(
        self,
        repo: ScoreRepository,
        activity: ActivityReader,
        rules: scoring.Rules,
        *,
        high_intent_score: float,
        cache_ttl_s: float,
    ) -> None:
        self._repo = repo
        self._activity = activity
        self._rules = rules
        self._high_intent_score = high_intent_score
        self._cache = MemoryCache("intelligence_scores", ttl_s=cache_ttl_s)

    async def score(
        self, lead_id: uuid.UUID, request_id: str | None, snapshot: ingest_pb.Lead | None = None
    ) -> StoredScore:
        """Score the lead (the caller's snapshot of it when sent, else ingest's) and its recent
        events, and store the result; a retried request_id returns the stored score as is."""
        if request_id:
            stored = await self._repo.get(lead_id)
            if stored is not None and stored.request_id == request_id:
                return stored
        lead = await self._activity.lead(lead_id, snapshot)
        now = timestamps.now()
        events = await self._activity.events(lead_id, now - timedelta(days=self._rules.window_days))
        result = scoring.score_lead(lead.profile, events, now, self._rules)
        saved = await self._repo.save(lead_id, lead.location_id, result, now, request_id)
        await self._cache.invalidate(str(lead_id))
        return saved

    async def latest(self, lead_id: uuid.UUID) -> StoredScore:
        """The stored score, from the in-process cache when fresh enough."""

        async def load() -> StoredScore:
            stored = await self._repo.get(lead_id)
            if stored is None:
                raise NotFound(
                    f"lead {lead_id} has not been scored; call ScoreLead first",
                    reason="SCORE_NOT_FOUND",
                    metadata={"lead_id": str(lead_id)},
                )
            return stored

        found: StoredScore = await self._cache.get_or_load(str(lead_id), load)
        return found

    def threshold(self, min_score: float) -> float:
        """The caller's min_score, or the configured high-intent score when it sends 0."""
        if math.isnan(min_score) or min_score < 0 or min_score > 100:
            raise InvalidArgument(
                f"min_score {min_score} is outside 0..100",
                violations=[FieldViolation("min_score", "0 (use the configured threshold) up to 100")],
            )
        return min_score if min_score > 0 else self._high_intent_score

    async def high_intent(
        self, location_id: str, threshold: float, after: tuple[float, uuid.UUID] | None, limit: int
    ) -> list[StoredScore]:
        """Up to limit + 1 scores of at least `threshold` after `after` (score, lead_id), highest first."""
        return await self._repo.list_high_intent(location_id, threshold, after, limit)
