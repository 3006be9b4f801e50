"""GetCacheStats: the counters move with real lookups, per level."""

from __future__ import annotations

import uuid

import pytest
from leadengine.intelligence.v1 import intelligence_service_pb2 as pb

from tests.integration.test_intelligence import add_lead, score
from tests.support import mesh


@pytest.fixture(scope="module")
async def m(migrated_dsn):
    async with mesh(migrated_dsn, only=("ingest", "intelligence")) as running:
        yield running


async def stats(m) -> pb.GetCacheStatsResponse:
    return await m.clients.intelligence.GetCacheStats(pb.GetCacheStatsRequest(), timeout=5)


async def test_cached_reads_count_as_hits_and_first_reads_as_misses(m) -> None:
    location = f"loc-{uuid.uuid4().hex[:8]}"
    lead = await add_lead(m, location)
    await score(m, lead)
    listing = pb.ListHighIntentLeadsRequest(location_id=location, min_score=1)
    before = await stats(m)
    await m.clients.intelligence.ListHighIntentLeads(listing, timeout=5)
    after_first = await stats(m)
    # Intelligence warms pages in the background too, so only growth is asserted, never equality.
    assert after_first.miss_count > before.miss_count
    await m.clients.intelligence.ListHighIntentLeads(listing, timeout=5)
    after_second = await stats(m)
    # The same first page again comes from this process's memory.
    assert after_second.l1_hit_count > after_first.l1_hit_count
