"""IntelligenceService.GetCacheStats: the process's cache counters, for benches and operators.
Mixed into IntelligenceServicer, which supplies the cache."""

from __future__ import annotations

from leadengine.intelligence.v1 import intelligence_service_pb2 as pb

from shared.cache import TwoLevelCache
from shared.rpc import Context


class CacheStatsHandlers:
    _cache: TwoLevelCache

    async def GetCacheStats(
        self, request: pb.GetCacheStatsRequest, context: Context
    ) -> pb.GetCacheStatsResponse:
        counts = self._cache.counts
        return pb.GetCacheStatsResponse(
            l1_hit_count=counts["l1_hit"], l2_hit_count=counts["l2_hit"], miss_count=counts["miss"]
        )
