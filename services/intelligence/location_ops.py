"""Whole-location operations: bulk scoring, forgetting a deleted lead, per-location points.

Each keeps the caches honest: what it changed is invalidated in both levels and in every
replica, and the location's high-intent page is warmed again after a bulk change.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

from services.intelligence.bulk import BulkResult, BulkScoring
from services.intelligence.lead_scoring import POINTS, SCORES, LocationState
from services.intelligence.listing import HighIntentListing
from services.intelligence.points_config import PointsRepository
from services.intelligence.repository import ScoreRepository
from services.intelligence.scoring import Points, Rules
from shared.cache import TwoLevelCache

NAMED_INVALIDATION = 10_000


class LocationOps:
    def __init__(
        self,
        scores: ScoreRepository,
        points: PointsRepository,
        bulk: BulkScoring,
        listing: HighIntentListing,
        state: LocationState,
        rules: Rules,
        cache: TwoLevelCache,
    ) -> None:
        self._scores = scores
        self._points = points
        self._bulk = bulk
        self._listing = listing
        self._state = state
        self._rules = rules
        self._cache = cache

    async def score_location(self, location_id: str) -> BulkResult:
        points = await self._points.get(location_id)  # the stored points, not a cached copy
        model = await self._state.model(location_id)
        version = f"{self._rules.version}/points-v{points.version}/logreg-v{model.version}"
        result = await self._bulk.run(location_id, points, version)
        await self._cache.invalidate(SCORES, location_id, None)
        await self._listing.warm(location_id)
        return result

    async def score_leads(self, location_id: str, chunks: AsyncIterator[list[str]]) -> BulkResult:
        """score_location for just these leads (an import's): the rest keep their stored parts,
        which a new model or new points do not make stale (both are applied when read or when
        the points change)."""
        points = await self._points.get(location_id)
        model = await self._state.model(location_id)
        version = f"{self._rules.version}/points-v{points.version}/logreg-v{model.version}"
        named: list[str] = []

        async def noted() -> AsyncIterator[list[str]]:
            async for chunk in chunks:
                named.extend(chunk)
                yield chunk

        result = await self._bulk.run(location_id, points, version, noted())
        # Past a batch's worth, one message that drops the location's scores beats naming each.
        await self._cache.invalidate(SCORES, location_id, named if len(named) <= NAMED_INVALIDATION else None)
        await self._listing.warm(location_id)
        return result

    async def forget(self, lead_id: uuid.UUID, location_id: str) -> bool:
        removed = await self._scores.forget(lead_id, location_id)
        await self._cache.invalidate(SCORES, location_id, [str(lead_id)])
        await self._listing.forget_pages(location_id)
        return removed

    async def set_points(self, location_id: str, points: Points, request_id: str) -> tuple[Points, int]:
        stored, rescored = await self._points.upsert(location_id, points, request_id)
        await self._cache.invalidate(POINTS, location_id, None)
        await self._cache.invalidate(SCORES, location_id, None)
        await self._listing.warm(location_id)
        return stored, rescored

    async def points(self, location_id: str) -> Points:
        return await self._state.points(location_id)
