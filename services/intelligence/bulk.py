"""ScoreLocation: every lead of a location scored in batches, after an import or on demand; or
only the leads an import inserted (RequestLocationScoring with lead_ids).

Leads come from ingest (ListLeadProfiles: only the fit columns, 10,000 a page; the next page
is already on its way while this one is written), never from ingest's tables. Each batch is COPY'd into a
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
from services.intelligence.scoring import ENGAGEMENT_MAX, FIT_MAX, LeadProfile, Points, Rules
from shared import deadlines, timestamps
from shared.clients import Peers
from shared.clients.base import Client
from shared.db import Conn, Database

log = logging.getLogger(__name__)

BULK_SCORED = Counter("intelligence_bulk_scored_total", "Leads scored by ScoreLocation.")
_PAGE = 10_000  # leads per ListLeadProfiles page, COPY and merge

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
    """ListLeadProfiles page after page, one request ahead of the reader."""

    peer = "ingest"

    def __init__(self, peers: Peers) -> None:
        self._peers = peers

    async def _page(self, location_id: str, token: str) -> ingest_pb.ListLeadProfilesResponse:
        request = ingest_pb.ListLeadProfilesRequest(
            location_id=location_id, page_size=_PAGE, page_token=token
        )
        return await self._call(
            "ListLeadProfiles", self._peers.ingest.ListLeadProfiles, request, budget_s=30.0
        )

    async def _of(self, location_id: str, lead_ids: list[str]) -> ingest_pb.ListLeadProfilesResponse:
        request = ingest_pb.ListLeadProfilesRequest(location_id=location_id, lead_ids=lead_ids)
        return await self._call(
            "ListLeadProfiles", self._peers.ingest.ListLeadProfiles, request, budget_s=30.0
        )

    async def pages_of(
        self, location_id: str, chunks: AsyncIterator[list[str]]
    ) -> AsyncIterator[ingest_pb.ListLeadProfilesResponse]:
        """These leads' profiles, a chunk (at most _PAGE ids) at a time; the next chunk's are on
        their way while this one is written."""
        pending: asyncio.Future[ingest_pb.ListLeadProfilesResponse] | None = None
        try:
            async for chunk in chunks:
                ahead = asyncio.ensure_future(self._of(location_id, chunk))
                if pending is not None:
                    yield await pending
                pending = ahead
            if pending is not None:
                yield await pending
                pending = None
        finally:
            if pending is not None and not pending.done():
                pending.cancel()

    async def pages(self, location_id: str) -> AsyncIterator[ingest_pb.ListLeadProfilesResponse]:
        pending = asyncio.ensure_future(self._page(location_id, ""))
        try:
            while True:
                page = await pending
                if page.next_page_token:
                    pending = asyncio.ensure_future(self._page(location_id, page.next_page_token))
                yield page
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


# LeadSource values as the lower-case names scoring uses ("" when unspecified or unknown).
_SOURCES = {
    value: name.removeprefix("LEAD_SOURCE_").lower()
    for name, value in ingest_pb.LeadSource.items()
    if value != ingest_pb.LEAD_SOURCE_UNSPECIFIED
}


def _rows(page: ingest_pb.ListLeadProfilesResponse, points: Points) -> list[tuple[object, ...]]:
    """(lead_id, profile JSON, fit) per lead of the page; fit as score_parts.fit_points."""
    rows: list[tuple[object, ...]] = []
    positive = {name: p for name, p in points.fit.items() if p > 0}
    columns = zip(
        page.lead_ids,
        page.budget_usd,
        page.preapproved,
        page.timeline_months,
        page.has_phone,
        page.has_email,
        page.source,
        strict=True,
    )
    for lead_id, budget, preapproved, months, phone, email, source in columns:
        profile = LeadProfile(budget, preapproved, months, phone, email, _SOURCES.get(source, ""))
        stored = score_parts.profile_to_json(profile)
        fit = min(sum(positive.get(a, 0.0) for a in stored["attrs"]), FIT_MAX)
        rows.append((uuid.UUID(lead_id), json.dumps(stored), fit))
    return rows


class BulkScoring:
    def __init__(self, db: Database, peers: Peers, rules: Rules) -> None:
        self._db = db
        self._pages = LeadPages(peers)
        self._rules = rules

    async def run(
        self,
        location_id: str,
        points: Points,
        model_version: str,
        lead_ids: AsyncIterator[list[str]] | None = None,
    ) -> BulkResult:
        """Score the location's leads; with lead_ids, only those (chunks of at most _PAGE), and
        nothing is swept (a lead left out was not asked about, not deleted)."""
        started = time.perf_counter()
        start = timestamps.now()
        scored = 0
        async with self._db.connection() as conn:
            await conn.execute(
                "CREATE TEMP TABLE IF NOT EXISTS bulk_batch (lead_id uuid, profile text, fit float8);"
                "CREATE TEMP TABLE IF NOT EXISTS bulk_seen (lead_id uuid);"
                "TRUNCATE bulk_batch, bulk_seen"
            )
            try:
                # While batch N merges, batch N+1's rows are built in a thread and page N+2 is
                # on its way from ingest.
                ready: asyncio.Task[list[tuple[object, ...]]] | None = None
                pages = (
                    self._pages.pages(location_id)
                    if lead_ids is None
                    else self._pages.pages_of(location_id, lead_ids)
                )
                async for page in pages:
                    building = asyncio.ensure_future(asyncio.to_thread(_rows, page, points))
                    if ready is not None:
                        scored += await self._merge(
                            conn, location_id, await ready, points, model_version, start
                        )
                    ready = building
                if ready is not None:
                    scored += await self._merge(conn, location_id, await ready, points, model_version, start)
                removed = 0
                if lead_ids is None:
                    status: str = await conn.execute(
                        _SWEEP, location_id, start, timeout=deadlines.timeout(120.0)
                    )
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
                "only_named_leads": lead_ids is not None,
                "seconds": round(seconds, 3),
            },
        )
        return BulkResult(scored, removed, seconds)

    async def _merge(
        self,
        conn: Conn,
        location_id: str,
        rows: list[tuple[object, ...]],
        points: Points,
        model_version: str,
        start: datetime,
    ) -> int:
        if not rows:
            return 0
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
                "INSERT INTO bulk_seen SELECT lead_id FROM bulk_batch",
                timeout=deadlines.timeout(120.0),
            )
        return len(rows)
