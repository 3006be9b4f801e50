"""Communications: every message to or from a lead, and the scheduler's claims on them.
Each method is one short transaction; none spans a call to another service."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import asyncpg
from leadengine.common.v1 import common_pb2
from leadengine.coordinator.v1 import coordinator_service_pb2 as pb

from shared import deadlines
from shared.db import Conn, Database
from shared.keyset import Keyset

SCHEDULED = pb.COMMUNICATION_STATUS_SCHEDULED
# The repeated predicate lets a generic (prepared) plan use the partial unique index.
_BY_PROVIDER_ID = "SELECT * FROM communications WHERE provider_message_id = $1 AND provider_message_id <> ''"
_PAGE = Keyset("create_time", "timestamptz", "communication_id")
# The lead's page when its current journey is in location $2, else no row at all.
_PAGE_IN_LOCATION = (
    "SELECT c.* FROM journeys j LEFT JOIN LATERAL ("
    + _PAGE.sql("SELECT * FROM communications WHERE lead_id = $1", 2)
    + ") c ON true WHERE j.lead_id = $1 AND j.current AND j.location_id = $2"
    " ORDER BY c.create_time DESC, c.communication_id DESC"
)


@dataclass(frozen=True)
class Communication:
    communication_id: uuid.UUID
    lead_id: uuid.UUID
    # None for a message outside any journey (the lead wrote before it started).
    journey_id: uuid.UUID | None
    step_key: str | None
    channel: common_pb2.Channel.ValueType
    direction: pb.Direction.ValueType
    status: pb.CommunicationStatus.ValueType
    status_reason: str
    body: str
    subject: str
    address: str
    message_id: str
    provider_message_id: str
    scheduled_time: datetime | None
    claim_until: datetime | None
    # How many times the scheduler claimed it.
    attempts: int
    create_time: datetime
    update_time: datetime
    # Who holds the claim (delivery/attempts.py); None when nobody does.
    claim_token: uuid.UUID | None = None
    # A suggest-mode draft (message_id) waiting for SendApprovedMessage (journeys/approved.py).
    awaiting_approval: bool = False


def communication_from_row(row: asyncpg.Record) -> Communication:
    return Communication(
        communication_id=row["communication_id"],
        lead_id=row["lead_id"],
        journey_id=row["journey_id"],
        step_key=row["step_key"],
        channel=row["channel"],
        direction=row["direction"],
        status=row["status"],
        status_reason=row["status_reason"],
        body=row["body"],
        subject=row["subject"],
        address=row["address"],
        message_id=row["message_id"],
        provider_message_id=row["provider_message_id"],
        scheduled_time=row["scheduled_time"],
        claim_until=row["claim_until"],
        attempts=row["attempts"],
        create_time=row["create_time"],
        update_time=row["update_time"],
        claim_token=row.get("claim_token"),
        awaiting_approval=bool(row.get("awaiting_approval", False)),
    )


@dataclass(frozen=True)
class NewCommunication:
    lead_id: uuid.UUID
    journey_id: uuid.UUID | None  # None: a reply to a lead without a journey
    step_key: str
    channel: common_pb2.Channel.ValueType
    status: pb.CommunicationStatus.ValueType
    status_reason: str = ""
    body: str = ""
    subject: str = ""
    address: str = ""
    message_id: str = ""
    scheduled_time: datetime | None = None
    # Set when the caller delivers right away: the row is claimed until then, so the
    # scheduler finishes it only if this process dies before recording the outcome.
    claim_until: datetime | None = None
    # BLOCKED until an agent approves the draft message_id (suggest mode).
    awaiting_approval: bool = False


@dataclass(frozen=True)
class MessageRecord:
    """A message that did not come from a journey step: one the lead wrote, or one a
    person sent from the CRM."""

    lead_id: uuid.UUID
    journey_id: uuid.UUID | None
    # Unique per lead; derived from the provider's id so a redelivery finds the first row.
    step_key: str
    channel: common_pb2.Channel.ValueType
    direction: pb.Direction.ValueType
    status: pb.CommunicationStatus.ValueType
    body: str
    subject: str
    address: str
    provider_message_id: str
    status_reason: str = ""


class CommunicationRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def record_message(self, new: MessageRecord) -> tuple[Communication, bool]:
        """Insert the message, or return the row recorded for the same provider message
        (or step) before. Either unique key makes a redelivery a no-op."""
        async with self._db.connection() as conn:  # one write; the read after runs only on a conflict
            row = await conn.fetchrow(
                "INSERT INTO communications (lead_id, journey_id, step_key, channel, direction, status,"
                " status_reason, body, subject, address, provider_message_id)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
                " ON CONFLICT DO NOTHING RETURNING *",
                new.lead_id,
                new.journey_id,
                new.step_key,
                new.channel,
                new.direction,
                new.status,
                new.status_reason,
                new.body,
                new.subject,
                new.address,
                new.provider_message_id,
                timeout=deadlines.timeout(2.0),
            )
            if row is not None:
                return communication_from_row(row), True
            existing: asyncpg.Record | None = None
            if new.provider_message_id:
                existing = await conn.fetchrow(
                    _BY_PROVIDER_ID,
                    new.provider_message_id,
                    timeout=deadlines.timeout(2.0),
                )
            if existing is None:
                existing = await conn.fetchrow(
                    "SELECT * FROM communications WHERE lead_id = $1 AND step_key = $2",
                    new.lead_id,
                    new.step_key,
                    timeout=deadlines.timeout(2.0),
                )
        assert existing is not None, "ON CONFLICT without a conflicting row"
        return communication_from_row(existing), False

    async def set_status_reason(self, communication_id: uuid.UUID, reason: str) -> None:
        async with self._db.connection() as conn:  # one statement: atomic without BEGIN/COMMIT
            await conn.execute(
                "UPDATE communications SET status_reason = $2, update_time = now()"
                " WHERE communication_id = $1",
                communication_id,
                reason,
                timeout=deadlines.timeout(2.0),
            )

    async def advance_status(
        self,
        provider_message_ids: list[str],
        decide: Callable[[Communication], tuple[pb.CommunicationStatus.ValueType, str] | None],
    ) -> tuple[Communication | None, bool]:
        """Find our message by the first of provider_message_ids that matches and apply
        decide(row) -> (status, reason) | None under a row lock, so concurrent reports
        cannot both move it. Returns (row or None when unknown, whether it changed)."""
        async with self._db.transaction() as conn:
            row: asyncpg.Record | None = None
            for provider_id in provider_message_ids:
                row = await conn.fetchrow(
                    _BY_PROVIDER_ID + " FOR UPDATE",
                    provider_id,
                    timeout=deadlines.timeout(2.0),
                )
                if row is not None:
                    break
            if row is None:
                return None, False
            found = communication_from_row(row)
            change = decide(found)
            if change is None:
                return found, False
            updated: asyncpg.Record = await conn.fetchrow(
                "UPDATE communications SET status = $2, status_reason = $3, update_time = now()"
                " WHERE communication_id = $1 RETURNING *",
                found.communication_id,
                change[0],
                change[1],
                timeout=deadlines.timeout(2.0),
            )
        return communication_from_row(updated), True

    async def add_communication(self, new: NewCommunication) -> tuple[Communication, bool]:
        """Insert the journey step, or return the row an earlier attempt recorded for it."""
        async with self._db.connection() as conn:  # one write; the read after runs only on a conflict
            row = await conn.fetchrow(
                "INSERT INTO communications (lead_id, journey_id, step_key, channel, direction, status,"
                " status_reason, body, subject, address, message_id, scheduled_time, claim_until, attempts,"
                " claim_token, awaiting_approval)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13,"
                " CASE WHEN $13::timestamptz IS NULL THEN 0 ELSE 1 END,"
                " CASE WHEN $13::timestamptz IS NULL THEN NULL ELSE gen_random_uuid() END, $14)"
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
                new.awaiting_approval,
                timeout=deadlines.timeout(2.0),
            )
            if row is not None:
                return communication_from_row(row), True
            existing: asyncpg.Record = await conn.fetchrow(
                "SELECT * FROM communications WHERE lead_id = $1 AND step_key = $2",
                new.lead_id,
                new.step_key,
            )
        return communication_from_row(existing), False

    async def finish_communication(
        self,
        communication_id: uuid.UUID,
        status: pb.CommunicationStatus.ValueType,
        reason: str,
        provider_message_id: str = "",
    ) -> Communication:
        """Record what the provider said. Unconditional: once a message went out, that is
        the truth even if the journey stopped meanwhile."""
        async with self._db.connection() as conn:  # one statement: atomic without BEGIN/COMMIT
            row: asyncpg.Record = await conn.fetchrow(
                "UPDATE communications SET status = $2, status_reason = $3, provider_message_id = $4,"
                " claim_until = NULL, claim_token = NULL, update_time = now()"
                " WHERE communication_id = $1 RETURNING *",
                communication_id,
                status,
                reason,
                provider_message_id,
                timeout=deadlines.timeout(2.0),
            )
        return communication_from_row(row)

    async def settle_scheduled(
        self,
        communication_id: uuid.UUID,
        status: pb.CommunicationStatus.ValueType,
        reason: str,
        scheduled_time: datetime | None,
    ) -> None:
        """Block or reschedule a message that has not gone out; a no-op if something else
        (a stopped journey) already settled it."""
        async with self._db.connection() as conn:  # one statement: atomic without BEGIN/COMMIT
            await conn.execute(
                "UPDATE communications SET status = $2, status_reason = $3,"
                " scheduled_time = coalesce($4, scheduled_time), claim_until = NULL, claim_token = NULL,"
                " update_time = now()"
                " WHERE communication_id = $1 AND status = $5",
                communication_id,
                status,
                reason,
                scheduled_time,
                SCHEDULED,
                timeout=deadlines.timeout(2.0),
            )

    async def await_approval(
        self, communication_id: uuid.UUID, message_id: str, reason: str, address: str
    ) -> None:
        """A due step content wrote as a suggest-mode draft: BLOCKED until an agent approves
        `message_id`; a no-op if something else (a stopped journey) settled it first."""
        async with self._db.connection() as conn:  # one statement: atomic without BEGIN/COMMIT
            await conn.execute(
                "UPDATE communications SET status = $2, status_reason = $3, message_id = $4,"
                " address = $6, awaiting_approval = true, claim_until = NULL, claim_token = NULL,"
                " update_time = now() WHERE communication_id = $1 AND status = $5",
                communication_id,
                pb.COMMUNICATION_STATUS_BLOCKED,
                reason,
                message_id,
                SCHEDULED,
                address,
                timeout=deadlines.timeout(2.0),
            )

    async def find_step(self, lead_id: uuid.UUID, step_key: str) -> Communication | None:
        async with self._db.connection() as conn:
            row = await conn.fetchrow(
                "SELECT * FROM communications WHERE lead_id = $1 AND step_key = $2",
                lead_id,
                step_key,
                timeout=deadlines.timeout(2.0),
            )
        return communication_from_row(row) if row is not None else None

    async def fill_step(
        self, communication_id: uuid.UUID, address: str, subject: str, body: str, message_id: str
    ) -> Communication:
        """A cadence step written when due: what content wrote, before it is delivered."""
        async with self._db.connection() as conn:  # one statement: atomic without BEGIN/COMMIT
            row: asyncpg.Record = await conn.fetchrow(
                "UPDATE communications SET address = $2, subject = $3, body = $4, message_id = $5,"
                " update_time = now() WHERE communication_id = $1 RETURNING *",
                communication_id,
                address,
                subject,
                body,
                message_id,
                timeout=deadlines.timeout(2.0),
            )
        return communication_from_row(row)

    async def claim_due(self, now: datetime, claim_until: datetime, limit: int) -> list[Communication]:
        """Take up to `limit` due messages nobody holds. SKIP LOCKED lets several
        coordinator pods share the work; the claim is committed before anything is sent."""
        async with self._db.connection() as conn:  # one statement: atomic without BEGIN/COMMIT
            rows: list[asyncpg.Record] = await conn.fetch(
                "WITH due AS ("
                "  SELECT communication_id FROM communications"
                "  WHERE status = $1 AND scheduled_time <= $2"
                "    AND (claim_until IS NULL OR claim_until <= $2)"
                # A call of unknown outcome is reconciled before anything is sent again.
                "    AND NOT EXISTS (SELECT 1 FROM send_attempts a"
                "      WHERE a.communication_id = communications.communication_id"
                "      AND a.state IN ('sending', 'in_doubt'))"
                # A paused journey's messages wait where they are (journeys/steps.py).
                "    AND NOT EXISTS (SELECT 1 FROM journeys j"
                "      WHERE j.lead_id = communications.lead_id AND j.current"
                "      AND j.pause_reason <> '' AND (j.pause_end_time IS NULL OR j.pause_end_time > $2))"
                "  ORDER BY scheduled_time LIMIT $4 FOR UPDATE SKIP LOCKED)"
                " UPDATE communications c SET claim_until = $3, claim_token = gen_random_uuid(),"
                " attempts = c.attempts + 1,"
                " update_time = now() FROM due WHERE c.communication_id = due.communication_id"
                " RETURNING c.*",
                SCHEDULED,
                now,
                claim_until,
                limit,
                timeout=deadlines.timeout(5.0),
            )
        return [communication_from_row(row) for row in rows]

    async def list_communications(
        self, lead_id: uuid.UUID, after: tuple[datetime, uuid.UUID] | None, limit: int
    ) -> list[Communication]:
        """Up to limit + 1 of the lead's messages after `after`, newest first."""
        async with self._db.connection() as conn:
            return await self._page(conn, lead_id, after, limit)

    async def list_communications_in(
        self, lead_id: uuid.UUID, location_id: str, after: tuple[datetime, uuid.UUID] | None, limit: int
    ) -> list[Communication] | None:
        """As list_communications, for a caller acting for `location_id`: None when the lead's
        current journey is not in it (or there is none). The check and the page are one
        statement: a history read is on the bench's hot path (one round trip, not two)."""
        async with self._db.connection() as conn:
            rows = await conn.fetch(
                _PAGE_IN_LOCATION,
                lead_id,
                location_id,
                *_PAGE.params(after, limit),
                timeout=deadlines.timeout(2.0),
            )
        if not rows:
            return None
        # The journey's row alone (no message on the page) comes back with NULL columns.
        return [communication_from_row(row) for row in rows if row["communication_id"] is not None]

    async def _page(
        self, conn: Conn, lead_id: uuid.UUID, after: tuple[datetime, uuid.UUID] | None, limit: int
    ) -> list[Communication]:
        rows = await _PAGE.fetch(
            conn,
            "SELECT * FROM communications WHERE lead_id = $1",
            [lead_id],
            after,
            limit,
            deadline_s=deadlines.timeout(2.0),
        )
        return [communication_from_row(row) for row in rows]
