"""Bulk scoring after imports: RequestLocationScoring stores a request, a worker runs it.

A request names the leads an import batch inserted, and the run scores only those (a 1,000-lead
import into a location of a million scores 1,000 leads). A request that names none (ScoreLocation
semantics, or a batch too big to name) makes the next run score the whole location.

Ingest's outbox relay calls RequestLocationScoring after each ImportLeads batch commits,
so the request always arrives after the leads it is about are visible. The request is a
counter per location (`requested`); a run remembers the count it began with and stores it
as `done` when it finishes. Requests that arrive while a run is going (whose leads that run
may have paged past) leave `requested > done`, so exactly one more run follows, however
many there were. A run holds a lease it renews; one that crashed lets it lapse, and the
next poll (on any replica) runs the location again. A failed run (ingest unreachable) is
retried with backoff; nothing is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

from prometheus_client import Counter

from services.intelligence.location_ops import LocationOps
from shared.db import Database

log = logging.getLogger(__name__)

RUNS = Counter(
    "intelligence_import_scoring_runs_total", "Bulk scoring runs after imports, by result.", ["result"]
)


@dataclass(frozen=True)
class WorkerSettings:
    poll_s: float = 2.0
    lease_s: float = 60.0
    retry_base_s: float = 1.0
    retry_max_s: float = 300.0


@dataclass(frozen=True)
class Claimed:
    location_id: str
    requested: int
    failures: int
    whole: bool  # a request since the last run named no leads: score the whole location


CHUNK = 10_000  # named leads per ListLeadProfiles call and merge


class ScoringRequests:
    """SQL for location_scoring_requests; each method is one short statement."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, location_id: str, lead_ids: list[uuid.UUID]) -> int:
        """Count one more request, for these leads (none: the whole location); returns how many
        the last finished run has not covered."""
        async with self._db.transaction() as conn:
            row = await conn.fetchrow(
                "INSERT INTO location_scoring_requests AS r (location_id, requested, whole_after)"
                " VALUES ($1, 1, CASE WHEN $2 THEN 1 ELSE 0 END)"
                " ON CONFLICT (location_id) DO UPDATE SET requested = r.requested + 1,"
                " whole_after = CASE WHEN $2 THEN r.requested + 1 ELSE r.whole_after END,"
                # An idle location runs at once; one in backoff keeps its retry time.
                " next_attempt_time = CASE WHEN r.requested = r.done THEN now()"
                " ELSE r.next_attempt_time END, update_time = now()"
                " RETURNING requested - done AS waiting, requested",
                location_id,
                not lead_ids,
                timeout=5.0,
            )
            if lead_ids:
                await conn.execute(
                    "INSERT INTO location_scoring_leads (location_id, lead_id, request_no)"
                    " SELECT $1, unnest($2::uuid[]), $3 ON CONFLICT (location_id, lead_id)"
                    " DO UPDATE SET request_no = EXCLUDED.request_no",
                    location_id,
                    lead_ids,
                    row["requested"],
                    timeout=30.0,
                )
        waiting: int = row["waiting"]
        return waiting

    async def named_leads(self, claimed: Claimed) -> AsyncIterator[list[str]]:
        """The leads the claimed requests named, in chunks of at most CHUNK."""
        after = uuid.UUID(int=0)
        while True:
            async with self._db.connection() as conn:
                rows = await conn.fetch(
                    "SELECT lead_id FROM location_scoring_leads WHERE location_id = $1"
                    " AND request_no <= $2 AND lead_id > $3 ORDER BY lead_id LIMIT $4",
                    claimed.location_id,
                    claimed.requested,
                    after,
                    CHUNK,
                    timeout=30.0,
                )
            if not rows:
                return
            yield [str(r["lead_id"]) for r in rows]
            after = rows[-1]["lead_id"]

    async def claim(self, lease_s: float) -> Claimed | None:
        async with self._db.transaction() as conn:
            row = await conn.fetchrow(
                "UPDATE location_scoring_requests r SET lease_until = now() + make_interval(secs => $1)"
                " WHERE r.location_id = (SELECT location_id FROM location_scoring_requests"
                "  WHERE requested > done AND next_attempt_time <= now()"
                "  AND (lease_until IS NULL OR lease_until <= now())"
                "  ORDER BY next_attempt_time LIMIT 1 FOR UPDATE SKIP LOCKED)"
                " RETURNING location_id, requested, failures, whole_after > done AS whole",
                lease_s,
                timeout=5.0,
            )
        return Claimed(row["location_id"], row["requested"], row["failures"], row["whole"]) if row else None

    async def renew(self, location_id: str, lease_s: float) -> None:
        async with self._db.connection() as conn:
            await conn.execute(
                "UPDATE location_scoring_requests SET lease_until = now() + make_interval(secs => $2)"
                " WHERE location_id = $1",
                location_id,
                lease_s,
                timeout=5.0,
            )

    async def finished(self, claimed: Claimed) -> None:
        async with self._db.transaction() as conn:
            await conn.execute(
                "DELETE FROM location_scoring_leads WHERE location_id = $1 AND request_no <= $2",
                claimed.location_id,
                claimed.requested,
                timeout=30.0,
            )
            await conn.execute(
                "UPDATE location_scoring_requests SET done = greatest(done, $2), lease_until = NULL,"
                " failures = 0, last_error = NULL, next_attempt_time = now(), update_time = now()"
                " WHERE location_id = $1",
                claimed.location_id,
                claimed.requested,
                timeout=5.0,
            )

    async def failed(self, location_id: str, error: str, retry_in_s: float) -> None:
        async with self._db.connection() as conn:
            await conn.execute(
                "UPDATE location_scoring_requests SET lease_until = NULL, failures = failures + 1,"
                " last_error = $2, next_attempt_time = now() + make_interval(secs => $3), update_time = now()"
                " WHERE location_id = $1",
                location_id,
                error[:1000],
                retry_in_s,
                timeout=5.0,
            )


class ImportScoring:
    """The use case behind RequestLocationScoring, and the background worker that serves it."""

    def __init__(self, requests: ScoringRequests, ops: LocationOps, settings: WorkerSettings) -> None:
        self._requests = requests
        self._ops = ops
        self._settings = settings
        self._wake = asyncio.Event()

    async def request(self, location_id: str, lead_ids: list[uuid.UUID]) -> int:
        waiting = await self._requests.add(location_id, lead_ids)
        self._wake.set()
        return waiting

    async def run(self) -> None:
        """Runs until cancelled: wakes on a request, else every poll_s (retries, lapsed leases)."""
        while True:
            self._wake.clear()
            try:
                while await self.run_due():
                    pass
            except Exception:
                # The queue itself is unreachable (PostgreSQL down): the rows wait, and so do we.
                log.exception("import scoring: reading the request queue failed; will poll again")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._settings.poll_s)

    async def run_due(self) -> bool:
        """Score one due location; False when none was due."""
        claimed = await self._requests.claim(self._settings.lease_s)
        if claimed is None:
            return False
        renewing = asyncio.create_task(self._renew(claimed.location_id))
        try:
            if claimed.whole:
                result = await self._ops.score_location(claimed.location_id)
            else:
                result = await self._ops.score_leads(claimed.location_id, self._requests.named_leads(claimed))
        except Exception as err:
            delay = min(
                self._settings.retry_max_s, self._settings.retry_base_s * 2.0 ** min(claimed.failures, 30)
            )
            log.warning(
                "import scoring failed; will retry",
                exc_info=True,
                extra={"location_id": claimed.location_id, "retry_in_s": delay},
            )
            RUNS.labels("failed").inc()
            await self._requests.failed(claimed.location_id, f"{type(err).__name__}: {err}", delay)
            return True
        finally:
            renewing.cancel()
        await self._requests.finished(claimed)
        RUNS.labels("scored").inc()
        log.info(
            "imported leads scored",
            extra={
                "location_id": claimed.location_id,
                "scored": result.scored,
                "removed": result.removed,
                "whole_location": claimed.whole,
            },
        )
        return True

    async def _renew(self, location_id: str) -> None:
        while True:
            await asyncio.sleep(self._settings.lease_s / 3)
            await self._requests.renew(location_id, self._settings.lease_s)
