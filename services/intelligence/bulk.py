"""ScoreLocation: every lead of a location scored in batches, after an import or on demand.

Leads come from ingest (ListLeads, page after page; the next page is already on its way
while this one is written), never from ingest's tables. Each batch is COPY'd into a
temporary table and merged into `scores` with one INSERT … ON CONFLICT: a lead's fit is
recomputed from its profile, its stored engagement (event masses) is kept, since events
reach us one by one through ScoreLead. A score ScoreLead wrote after the run began is
left alone. Scores of leads ingest no longer lists (deleted) are removed at the end.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime

from leadengine.ingest.v1 import ingest_service_pb2 as ingest_pb
from prometheus_client import Counter

from services.intelligence import score_parts
from services.intelligence.activity import lead_from_proto
from services.intelligence.scoring import ENGAGEMENT_MAX, Points, Rules
from shared import deadlines, timestamps
from shared.clients import Peers
from shared.clients.base import Client
from shared.db import Conn, Database

log = logging.getLogger(__name__)

BULK_SCORED = Counter("intelligence_bulk_scored_total", "Leads scored by ScoreLocation.")
_PAGE = 500  # ListLeads' largest page
_BATCH = 10_000  # leads per COPY + merge

# The stored score column is the score as of the row's score_time ($7 = rate per day).
_AT_SCORE_TIME = (
    f"least(100, EXCLUDED.fit + least({ENGAGEMENT_MAX}::float8, exp(s.eng_key - $7::float8 *"
    " extract(epoch FROM s.score_time - '2020-01-01T00:00Z'::timestamptz) / 86400)))"
)
_MERGE = f"""
INSERT INTO scores AS s (lead_id, location_id, score, tier, factors, model_version, score_time, profile,
                         kinds, fit, eng_key, config_version)
SELECT b.lead_id, $1, b.fit, CASE WHEN b.fit >= $4 THEN 'hot' WHEN b.fit >= $3 THEN 'warm' ELSE 'cold' END,
       '[]'::jsonb, $5, $2, b.profile::jsonb, '{{}}'::jsonb, b.fit, '-Infinity'::float8, $6
FROM bulk_batch b
ON CONFLICT (lead_id) DO UPDATE SET location_id = EXCLUDED.location_id, profile = EXCLUDED.profile,
    fit = EXCLUDED.fit, config_version = EXCLUDED.config_version,
    score = round(({_AT_SCORE_TIME})::numeric, 2)::float8,
    tier = CASE WHEN {_AT_SCORE_TIME} >= $4 THEN 'hot' WHEN {_AT_SCORE_TIME} >= $3 THEN 'warm' ELSE 'cold' END
WHERE s.score_time <= EXCLUDED.score_time
"""
_SWEEP = """
DELETE FROM scores s WHERE s.location_id = $1 AND s.score_time < $2
AND NOT EXISTS (SELECT 1 FROM bulk_seen v WHERE v.lead_id = s.lead_id)
"""


class LeadPages(Client):
    """ListLeads as a stream of pages, one request ahead of the reader."""

    peer = "ingest"

    def __init__(self, peers: Peers) -> None:
        self._peers = peers

    async def _page(self, location_id: str, token: str) -> ingest_pb.ListLeadsResponse:
        request = ingest_pb.ListLeadsRequest(location_id=location_id, page_size=_PAGE, page_token=token)
        return await self._call("ListLeads", self._peers.ingest.ListLeads, request, budget_s=10.0)

    async def leads(self, location_id: str) -> AsyncIterator[list[ingest_pb.Lead]]:
        pending = asyncio.ensure_future(self._page(location_id, ""))
        try:
            while True:
                page = await pending
                if page.next_page_token:
                    pending = asyncio.ensure_future(self._page(location_id, page.next_page_token))
                yield list(page.leads)
                if not page.next_page_token:
                    return
        finally:
            if not pending.done():
                pending.cancel()


@dataclass(frozen=True)
class BulkResult:
    scored: int
    removed: int
    seconds: float


def _rows(leads: list[ingest_pb.Lead], points: Points) -> list[tuple[object, ...]]:
    rows: list[tuple[object, ...]] = []
    for lead in leads:
        profile = lead_from_proto(lead).profile
        rows.append(
            (
                uuid.UUID(lead.lead_id),
                json.dumps(score_parts.profile_to_json(profile)),
                score_parts.fit_points(profile, points),
            )
        )
    return rows


class BulkScoring:
    def __init__(self, db: Database, peers: Peers, rules: Rules) -> None:
        self._db = db
        self._pages = LeadPages(peers)
        self._rules = rules

    async def run(self, location_id: str, points: Points, model_version: str) -> BulkResult:
        started = time.perf_counter()
        start = timestamps.now()
        scored = 0
        async with self._db.connection() as conn:
            await conn.execute(
                "CREATE TEMP TABLE IF NOT EXISTS bulk_batch (lead_id uuid, profile text, fit float8);"
                "CREATE TEMP TABLE IF NOT EXISTS bulk_seen (lead_id uuid PRIMARY KEY);"
                "TRUNCATE bulk_batch, bulk_seen"
            )
            try:
                batch: list[ingest_pb.Lead] = []
                async for page in self._pages.leads(location_id):
                    batch.extend(page)
                    if len(batch) >= _BATCH:
                        scored += await self._merge(conn, location_id, batch, points, model_version, start)
                        batch = []
                scored += await self._merge(conn, location_id, batch, points, model_version, start)
                status: str = await conn.execute(_SWEEP, location_id, start, timeout=deadlines.timeout(120.0))
                removed = int(status.split()[-1])
            finally:
                await conn.execute("DROP TABLE IF EXISTS bulk_batch, bulk_seen")
        BULK_SCORED.inc(scored)
        seconds = time.perf_counter() - started
        log.info(
            "location scored",
            extra={
                "location_id": location_id,
                "scored": scored,
                "removed": removed,
                "seconds": round(seconds, 3),
            },
        )
        return BulkResult(scored, removed, seconds)

    async def _merge(
        self,
        conn: Conn,
        location_id: str,
        leads: list[ingest_pb.Lead],
        points: Points,
        model_version: str,
        start: datetime,
    ) -> int:
        if not leads:
            return 0
        rows = await asyncio.to_thread(_rows, leads, points)
        async with conn.transaction():
            await conn.execute("TRUNCATE bulk_batch")
            await conn.copy_records_to_table("bulk_batch", records=rows, timeout=deadlines.timeout(120.0))
            await conn.execute(
                _MERGE,
                location_id,
                start,
                self._rules.warm_threshold,
                self._rules.hot_threshold,
                model_version,
                points.version,
                score_parts.rate(self._rules.half_life_days),
                timeout=deadlines.timeout(120.0),
            )
            await conn.execute(
                "INSERT INTO bulk_seen SELECT lead_id FROM bulk_batch ON CONFLICT DO NOTHING",
                timeout=deadlines.timeout(120.0),
            )
        return len(rows)
