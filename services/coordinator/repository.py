"""SQL for the coordinator schema. Each method is one short transaction; none spans a call
to another service."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
from leadengine.coordinator.v1 import coordinator_service_pb2 as pb

from services.coordinator.compliance import ContactFacts
from shared import deadlines
from shared.db import Database
from shared.errors import NotFound

ACTIVE = pb.JOURNEY_STATE_ACTIVE
STOPPED = pb.JOURNEY_STATE_STOPPED
SCHEDULED = pb.COMMUNICATION_STATUS_SCHEDULED
BLOCKED = pb.COMMUNICATION_STATUS_BLOCKED
QUEUED = pb.COMMUNICATION_STATUS_QUEUED


@dataclass(frozen=True)
class NewCommunication:
    lead_id: uuid.UUID
    journey_id: uuid.UUID
    step_key: str
    channel: int
    status: int
    status_reason: str = ""
    body: str = ""
    subject: str = ""
    address: str = ""
    message_id: str = ""
    scheduled_time: datetime | None = None
    # Set when the caller delivers right away: the row is claimed until then, so the
    # scheduler finishes it only if this process dies before recording the outcome.
    claim_until: datetime | None = None


def facts_from_row(row: Any) -> ContactFacts:
    return ContactFacts(
        phone=row["phone"],
        email=row["email"],
        timezone=row["timezone"],
        sms_consent=row["sms_consent"],
        email_consent=row["email_consent"],
        sms_opted_out=row["sms_opted_out"],
        email_opted_out=row["email_opted_out"],
    )


class CoordinatorRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    # -- events ---------------------------------------------------------------

    async def event_processed(self, event_id: str) -> bool:
        async with self._db.connection() as conn:
            found = await conn.fetchval(
                "SELECT true FROM processed_events WHERE event_id = $1",
                event_id,
                timeout=deadlines.timeout(2.0),
            )
        return bool(found)

    async def mark_processed(self, event_id: str, lead_id: uuid.UUID, kind: int) -> None:
        async with self._db.transaction() as conn:
            await conn.execute(
                "INSERT INTO processed_events (event_id, lead_id, kind) VALUES ($1, $2, $3)"
                " ON CONFLICT (event_id) DO NOTHING",
                event_id,
                lead_id,
                kind,
                timeout=deadlines.timeout(2.0),
            )

    # -- journeys -------------------------------------------------------------

    async def find_journey(self, lead_id: uuid.UUID) -> asyncpg.Record | None:
        async with self._db.connection() as conn:
            row: asyncpg.Record | None = await conn.fetchrow(
                "SELECT * FROM journeys WHERE lead_id = $1", lead_id, timeout=deadlines.timeout(2.0)
            )
        return row

    async def get_journey(self, lead_id: uuid.UUID) -> asyncpg.Record:
        row = await self.find_journey(lead_id)
        if row is None:
            raise NotFound(
                f"lead {lead_id} has no journey; it starts when ingest reports the lead",
                reason="JOURNEY_NOT_FOUND",
                metadata={"lead_id": str(lead_id)},
            )
        return row

    async def start_journey(
        self,
        lead_id: uuid.UUID,
        location_id: str,
        agent_id: uuid.UUID | None,
        agent_reason: str,
        score: float,
    ) -> asyncpg.Record:
        """Create the journey ACTIVE, or refresh agent and score of the existing one.
        Never reactivates a stopped journey."""
        async with self._db.transaction() as conn:
            row: asyncpg.Record = await conn.fetchrow(
                "INSERT INTO journeys (lead_id, location_id, state, agent_id, agent_reason, score)"
                " VALUES ($1, $2, $3, $4, $5, $6)"
                " ON CONFLICT (lead_id) DO UPDATE SET agent_id = EXCLUDED.agent_id,"
                " agent_reason = EXCLUDED.agent_reason, score = EXCLUDED.score, update_time = now()"
                " RETURNING *",
                lead_id,
                location_id,
                ACTIVE,
                agent_id,
                agent_reason,
                score,
                timeout=deadlines.timeout(2.0),
            )
        return row

    async def set_score(self, lead_id: uuid.UUID, score: float) -> None:
        async with self._db.transaction() as conn:
            await conn.execute(
                "UPDATE journeys SET score = $2, update_time = now() WHERE lead_id = $1",
                lead_id,
                score,
                timeout=deadlines.timeout(2.0),
            )

    async def set_first_touch(self, journey_id: uuid.UUID, at: datetime) -> asyncpg.Record:
        async with self._db.transaction() as conn:
            row: asyncpg.Record = await conn.fetchrow(
                "UPDATE journeys SET first_touch_time = coalesce(first_touch_time, $2), update_time = now()"
                " WHERE journey_id = $1 RETURNING *",
                journey_id,
                at,
                timeout=deadlines.timeout(2.0),
            )
        return row

    async def stop_journey(self, lead_id: uuid.UUID, location_id: str, reason: str) -> asyncpg.Record:
        """Stop the journey (creating it stopped if the lead never had one, so a late
        LEAD_CREATED cannot start it) and block everything still waiting to go out."""
        async with self._db.transaction() as conn:
            row: asyncpg.Record = await conn.fetchrow(
                "INSERT INTO journeys (lead_id, location_id, state, stop_reason) VALUES ($1, $2, $3, $4)"
                " ON CONFLICT (lead_id) DO UPDATE SET state = EXCLUDED.state,"
                " stop_reason = EXCLUDED.stop_reason, update_time = now()"
                " RETURNING *",
                lead_id,
                location_id,
                STOPPED,
                reason,
                timeout=deadlines.timeout(2.0),
            )
            await conn.execute(
                "UPDATE communications SET status = $2, status_reason = $3, claim_until = NULL,"
                " update_time = now() WHERE lead_id = $1 AND status = $4",
                lead_id,
                BLOCKED,
                f"journey stopped: {reason}",
                SCHEDULED,
                timeout=deadlines.timeout(5.0),
            )
        return row

    # -- consent --------------------------------------------------------------

    async def upsert_consent(
        self,
        lead_id: uuid.UUID,
        *,
        phone: str,
        email: str,
        timezone: str,
        sms_consent: bool,
        email_consent: bool,
    ) -> asyncpg.Record:
        """Record the lead's current contact facts. Opt-outs are left as they are: a lead
        who texted STOP stays opted out whatever the CRM says about consent."""
        async with self._db.transaction() as conn:
            row: asyncpg.Record = await conn.fetchrow(
                "INSERT INTO consents (lead_id, phone, email, timezone, sms_consent, email_consent)"
                " VALUES ($1, $2, $3, $4, $5, $6)"
                " ON CONFLICT (lead_id) DO UPDATE SET phone = EXCLUDED.phone, email = EXCLUDED.email,"
                " timezone = EXCLUDED.timezone, sms_consent = EXCLUDED.sms_consent,"
                " email_consent = EXCLUDED.email_consent, update_time = now()"
                " RETURNING *",
                lead_id,
                phone,
                email,
                timezone,
                sms_consent,
                email_consent,
                timeout=deadlines.timeout(2.0),
            )
        return row

    async def get_consent(self, lead_id: uuid.UUID) -> asyncpg.Record:
        async with self._db.connection() as conn:
            row: asyncpg.Record | None = await conn.fetchrow(
                "SELECT * FROM consents WHERE lead_id = $1", lead_id, timeout=deadlines.timeout(2.0)
            )
        if row is None:
            raise NotFound(
                f"no consent is known for lead {lead_id}; it is recorded when ingest reports the lead",
                reason="CONSENT_NOT_FOUND",
                metadata={"lead_id": str(lead_id)},
            )
        return row

    # -- communications -------------------------------------------------------

    async def add_communication(self, new: NewCommunication) -> tuple[asyncpg.Record, bool]:
        """Insert the journey step, or return the row an earlier attempt recorded for it."""
        async with self._db.transaction() as conn:
            row = await conn.fetchrow(
                "INSERT INTO communications (lead_id, journey_id, step_key, channel, direction, status,"
                " status_reason, body, subject, address, message_id, scheduled_time, claim_until, attempts)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13,"
                " CASE WHEN $13::timestamptz IS NULL THEN 0 ELSE 1 END)"
                " ON CONFLICT (lead_id, step_key) DO NOTHING RETURNING *",
                new.lead_id,
                new.journey_id,
                new.step_key,
                new.channel,
                pb.DIRECTION_OUTBOUND,
                new.status,
                new.status_reason,
                new.body,
                new.subject,
                new.address,
                new.message_id,
                new.scheduled_time,
                new.claim_until,
                timeout=deadlines.timeout(2.0),
            )
            if row is not None:
                return row, True
            existing: asyncpg.Record = await conn.fetchrow(
                "SELECT * FROM communications WHERE lead_id = $1 AND step_key = $2",
                new.lead_id,
                new.step_key,
            )
        return existing, False

    async def finish_communication(
        self, communication_id: uuid.UUID, status: int, reason: str, provider_message_id: str = ""
    ) -> asyncpg.Record:
        """Record what the provider said. Unconditional: once a message went out, that is
        the truth even if the journey stopped meanwhile."""
        async with self._db.transaction() as conn:
            row: asyncpg.Record = await conn.fetchrow(
                "UPDATE communications SET status = $2, status_reason = $3, provider_message_id = $4,"
                " claim_until = NULL, update_time = now() WHERE communication_id = $1 RETURNING *",
                communication_id,
                status,
                reason,
                provider_message_id,
                timeout=deadlines.timeout(2.0),
            )
        return row

    async def settle_scheduled(
        self,
        communication_id: uuid.UUID,
        status: int,
        reason: str,
        scheduled_time: datetime | None,
    ) -> None:
        """Block or reschedule a message that has not gone out; a no-op if something else
        (a stopped journey) already settled it."""
        async with self._db.transaction() as conn:
            await conn.execute(
                "UPDATE communications SET status = $2, status_reason = $3,"
                " scheduled_time = coalesce($4, scheduled_time), claim_until = NULL, update_time = now()"
                " WHERE communication_id = $1 AND status = $5",
                communication_id,
                status,
                reason,
                scheduled_time,
                SCHEDULED,
                timeout=deadlines.timeout(2.0),
            )

    async def claim_due(self, now: datetime, claim_until: datetime, limit: int) -> list[asyncpg.Record]:
        """Take up to `limit` due messages nobody holds. SKIP LOCKED lets several
        coordinator pods share the work; the claim is committed before anything is sent."""
        async with self._db.transaction() as conn:
            rows: list[asyncpg.Record] = await conn.fetch(
                "WITH due AS ("
                "  SELECT communication_id FROM communications"
                "  WHERE status = $1 AND scheduled_time <= $2"
                "    AND (claim_until IS NULL OR claim_until <= $2)"
                "  ORDER BY scheduled_time LIMIT $4 FOR UPDATE SKIP LOCKED)"
                " UPDATE communications c SET claim_until = $3, attempts = c.attempts + 1,"
                " update_time = now() FROM due WHERE c.communication_id = due.communication_id"
                " RETURNING c.*",
                SCHEDULED,
                now,
                claim_until,
                limit,
                timeout=deadlines.timeout(5.0),
            )
        return rows

    async def send_context(self, lead_id: uuid.UUID) -> tuple[asyncpg.Record | None, ContactFacts | None]:
        """The journey and contact facts a claimed message is rechecked against."""
        async with self._db.connection() as conn:
            journey = await conn.fetchrow(
                "SELECT * FROM journeys WHERE lead_id = $1", lead_id, timeout=deadlines.timeout(2.0)
            )
            consent = await conn.fetchrow(
                "SELECT * FROM consents WHERE lead_id = $1", lead_id, timeout=deadlines.timeout(2.0)
            )
        return journey, facts_from_row(consent) if consent is not None else None

    async def list_communications(
        self, lead_id: uuid.UUID, after: tuple[datetime, uuid.UUID] | None, limit: int
    ) -> list[asyncpg.Record]:
        async with self._db.connection() as conn:
            rows: list[asyncpg.Record] = await conn.fetch(
                "SELECT * FROM communications WHERE lead_id = $1"
                " AND ($2::timestamptz IS NULL OR (create_time, communication_id) < ($2, $3::uuid))"
                " ORDER BY create_time DESC, communication_id DESC LIMIT $4",
                lead_id,
                after[0] if after else None,
                after[1] if after else None,
                limit + 1,
                timeout=deadlines.timeout(2.0),
            )
        return rows

    # -- notifications --------------------------------------------------------

    async def add_notification(
        self,
        *,
        agent_id: uuid.UUID,
        lead_id: uuid.UUID,
        step_key: str,
        channel: int,
        status: int,
        status_reason: str,
        body: str,
        address: str,
    ) -> tuple[asyncpg.Record, bool]:
        async with self._db.transaction() as conn:
            row = await conn.fetchrow(
                "INSERT INTO notifications (agent_id, lead_id, step_key, channel, status, status_reason,"
                " body, address) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
                " ON CONFLICT (lead_id, step_key) DO NOTHING RETURNING *",
                agent_id,
                lead_id,
                step_key,
                channel,
                status,
                status_reason,
                body,
                address,
                timeout=deadlines.timeout(2.0),
            )
            if row is not None:
                return row, True
            existing: asyncpg.Record = await conn.fetchrow(
                "SELECT * FROM notifications WHERE lead_id = $1 AND step_key = $2", lead_id, step_key
            )
        return existing, False

    async def finish_notification(
        self, notification_id: uuid.UUID, status: int, reason: str
    ) -> asyncpg.Record:
        async with self._db.transaction() as conn:
            row: asyncpg.Record = await conn.fetchrow(
                "UPDATE notifications SET status = $2, status_reason = $3, update_time = now()"
                " WHERE notification_id = $1 RETURNING *",
                notification_id,
                status,
                reason,
                timeout=deadlines.timeout(2.0),
            )
        return row

    async def list_notifications(
        self,
        agent_id: uuid.UUID | None,
        lead_id: uuid.UUID | None,
        after: tuple[datetime, uuid.UUID] | None,
        limit: int,
    ) -> list[asyncpg.Record]:
        # One statement per filter so the planner always sees which index fits.
        where = "agent_id = $1" if agent_id is not None else "lead_id = $1"
        also = " AND lead_id = $5" if agent_id is not None and lead_id is not None else ""
        args: list[Any] = [
            agent_id if agent_id is not None else lead_id,
            after[0] if after else None,
            after[1] if after else None,
            limit + 1,
        ]
        if also:
            args.append(lead_id)
        async with self._db.connection() as conn:
            rows: list[asyncpg.Record] = await conn.fetch(
                f"SELECT * FROM notifications WHERE {where}{also}"
                " AND ($2::timestamptz IS NULL OR (create_time, notification_id) < ($2, $3::uuid))"
                " ORDER BY create_time DESC, notification_id DESC LIMIT $4",
                *args,
                timeout=deadlines.timeout(2.0),
            )
        return rows


__all__: Sequence[str] = ["CoordinatorRepository", "NewCommunication", "facts_from_row"]
