"""Campaigns, their members (the audience as gathered) and what the coordinator's own
tables say about leads and campaign journeys. Each method is one short transaction;
none spans a call to another service."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

import asyncpg
from leadengine.common.v1 import common_pb2
from leadengine.coordinator.v1 import coordinator_service_pb2 as pb

from services.coordinator.campaigns.campaign import (
    ACTIVE,
    COMPLETED,
    ENROLLED,
    PAUSED,
    SKIPPED,
    WAITING,
    Audience,
    Campaign,
    CampaignNotActive,
    Counts,
    Standing,
    day_start,
)
from services.coordinator.journeys import recovery
from services.coordinator.journeys.repository import ACTIVE as JOURNEY_ACTIVE
from services.coordinator.journeys.repository import CONVERTED, Journey, journey_from_row, lock_lead_journeys
from shared import deadlines
from shared.db import Conn, Database
from shared.errors import NotFound
from shared.keyset import Keyset

_PAGE = Keyset("create_time", "timestamptz", "campaign_id")
SMS = common_pb2.CHANNEL_SMS
EMAIL = common_pb2.CHANNEL_EMAIL
# Outbound statuses of a message that went out (or would have, SIMULATED without credentials).
WENT_OUT = [
    pb.COMMUNICATION_STATUS_SIMULATED,
    pb.COMMUNICATION_STATUS_QUEUED,
    pb.COMMUNICATION_STATUS_SENT,
    pb.COMMUNICATION_STATUS_DELIVERED,
]
# A campaign pause holds its journeys under this reason, and its resume lifts only that.
CAMPAIGN_PAUSED = "campaign paused"

_COUNTS = (
    "SELECT"
    " (SELECT count(*) FROM campaign_members WHERE campaign_id = $1 AND state = $2) AS enrolled,"
    " (SELECT count(*) FROM campaign_members WHERE campaign_id = $1 AND state = $3) AS skipped,"
    " (SELECT count(*) FROM journeys j JOIN communications c"
    "   ON c.lead_id = j.lead_id AND c.journey_id = j.journey_id"
    f"  WHERE j.campaign_id = $1 AND c.direction = {pb.DIRECTION_OUTBOUND}"
    "   AND c.status = any($4::smallint[])) AS sent,"
    " (SELECT count(*) FROM journeys j WHERE j.campaign_id = $1 AND EXISTS (SELECT 1 FROM communications c"
    f"   WHERE c.lead_id = j.lead_id AND c.direction = {pb.DIRECTION_INBOUND}"
    "    AND c.create_time >= j.create_time)) AS replied,"
    " (SELECT count(*) FROM journeys j JOIN consents c ON c.lead_id = j.lead_id"
    "   WHERE j.campaign_id = $1 AND (c.sms_opted_out OR c.email_opted_out OR EXISTS ("
    "     SELECT 1 FROM suppressions s WHERE s.lift_time IS NULL AND s.create_time >= j.create_time"
    f"    AND ((s.channel = {SMS} AND s.address = c.phone)"
    f"     OR (s.channel = {EMAIL} AND s.address = c.email))))) AS opted_out,"
    " (SELECT count(*) FROM journeys j WHERE j.campaign_id = $1 AND j.stop_reason = $5) AS converted"
)

_STANDING = (
    "SELECT l.lead_id,"
    # The lead's current journey keeps it out unless a recovery may follow it (journeys/recovery.py).
    " EXISTS (SELECT 1 FROM journeys j WHERE j.lead_id = l.lead_id AND j.current"
    f"  AND {recovery.sql_blocks_enrolment('j', '$5')}) AS in_journey,"
    # Waiting in another campaign; a lead another campaign enrolled is kept out by its journey.
    " EXISTS (SELECT 1 FROM campaign_members m WHERE m.lead_id = l.lead_id AND m.state = 1"
    "   AND m.campaign_id IS DISTINCT FROM $4) AS in_campaign,"
    " EXISTS (SELECT 1 FROM consents c WHERE c.lead_id = l.lead_id"
    "   AND (c.sms_opted_out OR c.email_opted_out)) AS opted_out,"
    " EXISTS (SELECT 1 FROM suppressions s WHERE s.lift_time IS NULL"
    f"  AND ((s.channel = {SMS} AND s.address = l.phone AND l.phone <> '')"
    f"   OR (s.channel = {EMAIL} AND s.address = l.email AND l.email <> ''))) AS suppressed"
    " FROM unnest($1::uuid[], $2::text[], $3::text[]) AS l(lead_id, phone, email)"
)


def campaign_from_row(row: asyncpg.Record, counts: Counts | None = None) -> Campaign:
    return Campaign(
        campaign_id=row["campaign_id"],
        location_id=row["location_id"],
        name=row["name"],
        cadence_id=row["cadence_id"],
        audience=Audience(
            min_days_inactive=row["min_days_inactive"],
            tags=tuple(row["tags"]),
            sources=tuple(row["sources"]),
            max_score=row["max_score"],
        ),
        daily_limit=row["daily_limit"],
        state=row["state"],
        counts=counts or Counts(audience=row["audience_count"]),
        start_time=row["start_time"],
        inactive_since=row["inactive_since"],
        audience_token=row["audience_token"],
        create_time=row["create_time"],
        update_time=row["update_time"],
    )


def _missing(campaign_id: uuid.UUID) -> NotFound:
    return NotFound(
        f"no campaign {campaign_id}; ListCampaigns shows a location's campaigns",
        reason="CAMPAIGN_NOT_FOUND",
        metadata={"campaign_id": str(campaign_id)},
    )


class CampaignRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(self, c: Campaign, request_id: str, start: datetime) -> Campaign:
        """Insert the campaign ACTIVE, or return the one an earlier call with this
        request_id started (its id is derived from it)."""
        async with self._db.transaction() as conn:
            row = await conn.fetchrow(
                "INSERT INTO campaigns (campaign_id, location_id, name, cadence_id, min_days_inactive, tags,"
                " sources, max_score, daily_limit, state, request_id, start_time, inactive_since)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
                " ON CONFLICT DO NOTHING RETURNING *",
                c.campaign_id,
                c.location_id,
                c.name,
                c.cadence_id,
                c.audience.min_days_inactive,
                list(c.audience.tags),
                list(c.audience.sources),
                c.audience.max_score,
                c.daily_limit,
                ACTIVE,
                request_id,
                start,
                c.inactive_since,
                timeout=deadlines.timeout(2.0),
            )
        return await self.get(c.campaign_id) if row is None else campaign_from_row(row)

    async def get(self, campaign_id: uuid.UUID) -> Campaign:
        async with self._db.connection() as conn:
            row = await conn.fetchrow(
                "SELECT * FROM campaigns WHERE campaign_id = $1", campaign_id, timeout=deadlines.timeout(2.0)
            )
            if row is None:
                raise _missing(campaign_id)
            return campaign_from_row(row, await self._counts(conn, row))

    async def list_campaigns(
        self, location_id: str, after: tuple[datetime, uuid.UUID] | None, limit: int
    ) -> list[Campaign]:
        async with self._db.connection() as conn:
            rows = await _PAGE.fetch(
                conn,
                "SELECT * FROM campaigns WHERE location_id = $1",
                [location_id],
                after,
                limit,
                deadline_s=deadlines.timeout(5.0),
            )
            return [campaign_from_row(row, await self._counts(conn, row)) for row in rows]

    async def _counts(self, conn: Conn, row: asyncpg.Record) -> Counts:
        """Counted from what happened, never kept as counters that could drift."""
        got = await conn.fetchrow(
            _COUNTS,
            row["campaign_id"],
            ENROLLED,
            SKIPPED,
            WENT_OUT,
            CONVERTED,
            timeout=deadlines.timeout(5.0),
        )
        return Counts(audience=row["audience_count"], **dict(got))

    async def standing(
        self,
        leads: Sequence[tuple[uuid.UUID, str, str]],
        campaign_id: uuid.UUID | None = None,
        since: datetime | None = None,
    ) -> dict[uuid.UUID, Standing]:
        """For each (lead_id, phone, email): what keeps it out of a campaign (a journey no
        recovery may follow, or one the lead replied in since `since`; waiting in another
        campaign than campaign_id; an opt-out; a suppressed address)."""
        if not leads:
            return {}
        async with self._db.connection() as conn:
            rows = await conn.fetch(
                _STANDING,
                [lead for lead, _, _ in leads],
                [phone for _, phone, _ in leads],
                [email for _, _, email in leads],
                campaign_id,
                since,
                timeout=deadlines.timeout(5.0),
            )
        return {
            r["lead_id"]: Standing(r["in_journey"], r["in_campaign"], r["opted_out"], r["suppressed"])
            for r in rows
        }

    async def building(self) -> list[Campaign]:
        """Active campaigns whose audience is still being gathered."""
        async with self._db.connection() as conn:
            rows = await conn.fetch(
                "SELECT * FROM campaigns WHERE state = $1 AND audience_token IS NOT NULL"
                " ORDER BY create_time",
                ACTIVE,
                timeout=deadlines.timeout(2.0),
            )
        return [campaign_from_row(row) for row in rows]

    async def add_members(
        self,
        campaign_id: uuid.UUID,
        token: str,
        leads: Sequence[uuid.UUID],
        due: Callable[[int, uuid.UUID], datetime],
        next_token: str | None,
    ) -> int:
        """Append one page of the audience and move the page token on, together; a page
        another enroller already appended (the token moved) is not added twice. `due`
        gives each member's enrolment time from its position. Returns how many joined."""
        async with self._db.transaction() as conn:
            row = await conn.fetchrow(
                "SELECT audience_count, audience_token FROM campaigns WHERE campaign_id = $1 FOR UPDATE",
                campaign_id,
                timeout=deadlines.timeout(5.0),
            )
            if row is None or row["audience_token"] != token:
                return 0
            first = row["audience_count"]
            positions = list(range(first, first + len(leads)))
            status = await conn.execute(
                "INSERT INTO campaign_members (campaign_id, lead_id, position, due_time)"
                " SELECT $1, lead_id, position, due_time"
                " FROM unnest($2::uuid[], $3::integer[], $4::timestamptz[]) AS m(lead_id, position, due_time)"
                " ON CONFLICT DO NOTHING",
                campaign_id,
                list(leads),
                positions,
                [due(p, lead) for p, lead in zip(positions, leads, strict=True)],
                timeout=deadlines.timeout(10.0),
            )
            added = int(status.rsplit(" ", 1)[-1])
            await conn.execute(
                "UPDATE campaigns SET audience_count = audience_count + $2, audience_token = $3,"
                " update_time = now() WHERE campaign_id = $1",
                campaign_id,
                added,
                next_token,
                timeout=deadlines.timeout(2.0),
            )
        return added

    async def claim_due(
        self, now: datetime, lease: timedelta, batch: int
    ) -> list[tuple[Campaign, uuid.UUID]]:
        """Take due waiting members of active campaigns, never more in a campaign day than
        its daily_limit: the campaign row is locked while its day's claims are counted,
        so concurrent enrollers cannot both take the last places."""
        claimed: list[tuple[Campaign, uuid.UUID]] = []
        async with self._db.transaction() as conn:
            campaigns = await conn.fetch(
                "SELECT * FROM campaigns c WHERE state = $1 AND EXISTS (SELECT 1 FROM campaign_members m"
                " WHERE m.campaign_id = c.campaign_id AND m.state = $2 AND m.due_time <= $3)"
                " ORDER BY create_time FOR UPDATE SKIP LOCKED",
                ACTIVE,
                WAITING,
                now,
                timeout=deadlines.timeout(5.0),
            )
            for row in campaigns:
                room = batch - len(claimed)
                if room <= 0:
                    break
                rows = await conn.fetch(
                    "WITH used AS (SELECT count(*) AS n FROM campaign_members WHERE campaign_id = $1"
                    "   AND state IN (1, 2) AND claim_time >= $5),"
                    " due AS (SELECT lead_id FROM campaign_members WHERE campaign_id = $1 AND state = 1"
                    "   AND due_time <= $2 AND (claim_until IS NULL OR claim_until <= $2)"
                    "   ORDER BY due_time LIMIT greatest(0, least($3, $4 - (SELECT n FROM used)))"
                    "   FOR UPDATE SKIP LOCKED)"
                    " UPDATE campaign_members m"
                    " SET claim_until = $2::timestamptz + $6::interval, claim_time = $2"
                    " FROM due WHERE m.campaign_id = $1 AND m.lead_id = due.lead_id RETURNING m.lead_id",
                    row["campaign_id"],
                    now,
                    room,
                    row["daily_limit"],
                    day_start(row["start_time"], now),
                    lease,
                    timeout=deadlines.timeout(5.0),
                )
                campaign = campaign_from_row(row)
                claimed.extend((campaign, r["lead_id"]) for r in rows)
        return claimed

    async def enrol_journey(self, campaign: Campaign, lead_id: uuid.UUID) -> Journey | None:
        """Start the lead's journey for this campaign, on its cadence; or None when the lead
        has a journey no recovery may follow (journeys/recovery.py), or replied since the
        campaign's inactivity cut-off. A lead whose journey ended gets its next generation;
        the ended one stays as it was. CampaignNotActive when the campaign was paused while
        this member was in flight. A journey this campaign started before (a retry after a
        failure) is returned to be finished.

        Never two active journeys: the current journey is locked while it is retired, and
        the insert arbitrates on the one current journey a lead may have (journeys_current),
        so of concurrent enrolments (or an enrolment racing a lead event) one wins and the
        others find its journey and stop."""
        async with self._db.transaction() as conn:
            # FOR SHARE: a concurrent pause waits until this enrolment committed.
            state = await conn.fetchval(
                "SELECT state FROM campaigns WHERE campaign_id = $1 FOR SHARE",
                campaign.campaign_id,
                timeout=deadlines.timeout(2.0),
            )
            if state != ACTIVE:
                raise CampaignNotActive(campaign.campaign_id)
            await lock_lead_journeys(conn, lead_id)
            current = await conn.fetchrow(
                "SELECT j.*, " + recovery.sql_blocks_enrolment("j", "$2") + " AS blocks"
                " FROM journeys j WHERE j.lead_id = $1 AND j.current FOR UPDATE",
                lead_id,
                campaign.inactive_since,
                timeout=deadlines.timeout(2.0),
            )
            if current is not None:
                if current["campaign_id"] == campaign.campaign_id and current["state"] == JOURNEY_ACTIVE:
                    return journey_from_row(current)  # this campaign's enrolment, retried
                if current["blocks"]:
                    return None
                await conn.execute(
                    "UPDATE journeys SET current = false WHERE journey_id = $1",
                    current["journey_id"],
                    timeout=deadlines.timeout(2.0),
                )
            row = await conn.fetchrow(
                "INSERT INTO journeys (lead_id, location_id, state, campaign_id, cadence_id, generation)"
                " VALUES ($1, $2, $3, $4, $5,"
                " (SELECT coalesce(max(generation), 0) + 1 FROM journeys WHERE lead_id = $1))"
                " ON CONFLICT (lead_id) WHERE current DO NOTHING RETURNING *",
                lead_id,
                campaign.location_id,
                JOURNEY_ACTIVE,
                campaign.campaign_id,
                campaign.cadence_id,
                timeout=deadlines.timeout(2.0),
            )
        return journey_from_row(row) if row is not None else None

    async def release_member(self, campaign_id: uuid.UUID, lead_id: uuid.UUID) -> None:
        """Put a claimed member back to wait, its day's place given back."""
        async with self._db.transaction() as conn:
            await conn.execute(
                "UPDATE campaign_members SET claim_until = NULL, claim_time = NULL"
                " WHERE campaign_id = $1 AND lead_id = $2 AND state = $3",
                campaign_id,
                lead_id,
                WAITING,
                timeout=deadlines.timeout(2.0),
            )

    async def finish_member(
        self, campaign_id: uuid.UUID, lead_id: uuid.UUID, now: datetime, skip_reason: str = ""
    ) -> None:
        """Enrolled (no skip_reason) or skipped for good; a skip gives its day's place back."""
        async with self._db.transaction() as conn:
            await conn.execute(
                "UPDATE campaign_members SET state = $3, claim_until = NULL,"
                " enroll_time = CASE WHEN $3::smallint = 2 THEN $4::timestamptz END, skip_reason = $5"
                " WHERE campaign_id = $1 AND lead_id = $2 AND state = 1",
                campaign_id,
                lead_id,
                SKIPPED if skip_reason else ENROLLED,
                now,
                skip_reason,
                timeout=deadlines.timeout(2.0),
            )

    async def complete_finished(self) -> int:
        """Mark COMPLETED every active campaign with its whole audience gathered and nobody
        left waiting."""
        async with self._db.transaction() as conn:
            status = await conn.execute(
                "UPDATE campaigns c SET state = $2, update_time = now() WHERE state = $1"
                " AND audience_token IS NULL AND NOT EXISTS (SELECT 1 FROM campaign_members m"
                " WHERE m.campaign_id = c.campaign_id AND m.state = $3)",
                ACTIVE,
                COMPLETED,
                WAITING,
                timeout=deadlines.timeout(5.0),
            )
        return int(status.rsplit(" ", 1)[-1])

    async def pause(self, campaign_id: uuid.UUID, now: datetime) -> Campaign:
        """Stop enrolling and hold the campaign's active journeys (those not already held)."""
        async with self._db.transaction() as conn:
            await self._locked(conn, campaign_id)
            paused = await conn.fetchval(
                "UPDATE campaigns SET state = $2, pause_time = $3, update_time = now()"
                " WHERE campaign_id = $1 AND state = $4 RETURNING true",
                campaign_id,
                PAUSED,
                now,
                ACTIVE,
            )
            if paused:
                await conn.execute(
                    "UPDATE journeys SET pause_reason = $2, pause_end_time = NULL, update_time = now()"
                    " WHERE campaign_id = $1 AND state = $3 AND pause_reason = ''",
                    campaign_id,
                    CAMPAIGN_PAUSED,
                    JOURNEY_ACTIVE,
                    timeout=deadlines.timeout(10.0),
                )
        return await self.get(campaign_id)

    async def resume(self, campaign_id: uuid.UUID, now: datetime) -> Campaign:
        """Enrol again from where it stopped: the campaign's days and every waiting member's
        time move on by the pause's length, so the pause never causes a burst."""
        async with self._db.transaction() as conn:
            row = await self._locked(conn, campaign_id)
            if row["state"] == PAUSED:
                held = max(now - (row["pause_time"] or now), timedelta(0))
                await conn.execute(
                    "UPDATE campaigns SET state = $2, start_time = start_time + $3::interval,"
                    " pause_time = NULL, update_time = now() WHERE campaign_id = $1",
                    campaign_id,
                    ACTIVE,
                    held,
                )
                await conn.execute(
                    "UPDATE campaign_members SET due_time = due_time + $2::interval"
                    " WHERE campaign_id = $1 AND state = $3",
                    campaign_id,
                    held,
                    WAITING,
                    timeout=deadlines.timeout(10.0),
                )
                await conn.execute(
                    "UPDATE journeys SET pause_reason = '', update_time = now()"
                    " WHERE campaign_id = $1 AND pause_reason = $2",
                    campaign_id,
                    CAMPAIGN_PAUSED,
                    timeout=deadlines.timeout(10.0),
                )
        return await self.get(campaign_id)

    async def _locked(self, conn: Conn, campaign_id: uuid.UUID) -> asyncpg.Record:
        row: asyncpg.Record | None = await conn.fetchrow(
            "SELECT * FROM campaigns WHERE campaign_id = $1 FOR UPDATE",
            campaign_id,
            timeout=deadlines.timeout(5.0),
        )
        if row is None:
            raise _missing(campaign_id)
        return row
