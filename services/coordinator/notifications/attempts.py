"""Notification send attempts: the durable half of exactly-once agent notifications.

The same protocol as lead messages (delivery/attempts.py), on the notifications table:
a provider call is made only after a transaction that holds the notification's row lock,
sees the caller's claim still current, finds no earlier call of unknown outcome, re-reads
the agent's text opt-out, and commits an attempt in state 'sending'.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import cast

import asyncpg
from leadengine.common.v1 import common_pb2
from leadengine.coordinator.v1 import coordinator_service_pb2 as pb

from services.coordinator.delivery.attempts import Attempt, AttemptLedger
from services.coordinator.notifications.repository import Notification, notification_from_row
from shared import deadlines
from shared.db import Conn

PENDING = pb.COMMUNICATION_STATUS_SCHEDULED
SMS = common_pb2.CHANNEL_SMS

# ('send', provider) or ('settle', status, reason).
Decision = tuple[str, str] | tuple[str, pb.CommunicationStatus.ValueType, str]


@dataclass(frozen=True)
class NoteBegin:
    # Set when a call may go out now.
    attempt: Attempt | None = None
    note: Notification | None = None
    # Calls whose outcome is unknown: settle them from the provider's records first.
    open_attempts: tuple[Attempt, ...] = ()
    # The row as it ends up when nothing goes out (settled, claim lost).
    settled: Notification | None = None


class NotificationAttempts(AttemptLedger):
    _TABLE = "notification_attempts"
    _OWNER = "notification_id"

    async def _opt_out(self, conn: Conn, address: str) -> str:
        reason = await conn.fetchval(
            "SELECT reason FROM agent_sms_opt_outs WHERE address = $1",
            address,
            timeout=deadlines.timeout(2.0),
        )
        return str(reason or "")

    async def sms_opt_out(self, address: str) -> str:
        """Why the agent at this number gets no texts; "" when they do."""
        async with self._db.connection() as conn:
            return await self._opt_out(conn, address)

    async def begin(
        self,
        notification_id: uuid.UUID,
        claim_token: uuid.UUID,
        now: datetime,
        decide: Callable[[Notification, str], Decision],
    ) -> NoteBegin:
        async with self._db.transaction() as conn:
            row = await conn.fetchrow(
                "SELECT * FROM notifications WHERE notification_id = $1 FOR UPDATE",
                notification_id,
                timeout=deadlines.timeout(5.0),
            )
            if row is None:
                return NoteBegin()
            note = notification_from_row(row)
            mine = (
                note.status == PENDING
                and note.claim_token == claim_token
                and note.claim_until is not None
                and note.claim_until > now
            )
            if not mine:
                return NoteBegin(settled=note)
            opened = await self._open_attempts(conn, notification_id)
            if opened:
                return NoteBegin(note=note, open_attempts=tuple(opened))
            opt_out = await self._opt_out(conn, note.address) if note.channel == SMS else ""
            decision = decide(note, opt_out)
            if decision[0] == "send":
                attempt = await self._start(conn, notification_id, cast(str, decision[1]), now)
                return NoteBegin(attempt=attempt, note=note)
            _, status, reason = decision  # type: ignore[misc]
            settled = await self._settle(conn, notification_id, status, reason)
            return NoteBegin(settled=settled)

    async def _settle(
        self, conn: Conn, notification_id: uuid.UUID, status: pb.CommunicationStatus.ValueType, reason: str
    ) -> Notification:
        row: asyncpg.Record = await conn.fetchrow(
            "UPDATE notifications SET status = $2, status_reason = $3, claim_token = NULL,"
            " claim_until = NULL, update_time = now() WHERE notification_id = $1 RETURNING *",
            notification_id,
            status,
            reason,
            timeout=deadlines.timeout(2.0),
        )
        return notification_from_row(row)

    async def settle(
        self, notification_id: uuid.UUID, status: pb.CommunicationStatus.ValueType, reason: str
    ) -> Notification:
        """A notification that did not go out: FAILED, BLOCKED or SIMULATED, with why."""
        async with self._db.transaction() as conn:
            return await self._settle(conn, notification_id, status, reason)

    async def accepted(self, attempt_id: uuid.UUID, provider_message_id: str) -> Notification:
        """The provider has it: record its id (QUEUED); other open attempts were not it."""
        async with self._db.transaction() as conn:
            nid = await self._accept(conn, attempt_id, provider_message_id)
            row: asyncpg.Record = await conn.fetchrow(
                "UPDATE notifications SET status = $2, status_reason = '', provider_message_id = $3,"
                " claim_token = NULL, claim_until = NULL, update_time = now()"
                " WHERE notification_id = $1 RETURNING *",
                nid,
                pb.COMMUNICATION_STATUS_QUEUED,
                provider_message_id,
                timeout=deadlines.timeout(2.0),
            )
        return notification_from_row(row)

    async def retry_later(
        self, notification_id: uuid.UUID, token: uuid.UUID, not_before: datetime, reason: str
    ) -> Notification | None:
        """Give the notification back to the sweeper, due again at `not_before`."""
        async with self._db.transaction() as conn:
            row = await conn.fetchrow(
                "UPDATE notifications SET claim_token = NULL, claim_until = $3, tries = tries + 1,"
                " status_reason = $4, update_time = now()"
                " WHERE notification_id = $1 AND claim_token = $2 RETURNING *",
                notification_id,
                token,
                not_before,
                reason,
                timeout=deadlines.timeout(2.0),
            )
        return None if row is None else notification_from_row(row)

    async def claim_due(self, now: datetime, until: datetime, limit: int) -> list[Notification]:
        """Pending notifications nobody holds (their creator died, or a retry fell due)."""
        async with self._db.connection() as conn:  # one statement: atomic without BEGIN/COMMIT
            rows = await conn.fetch(
                "WITH due AS (SELECT notification_id FROM notifications WHERE status = $1"
                "  AND (claim_until IS NULL OR claim_until <= $2) ORDER BY claim_until NULLS FIRST"
                "  LIMIT $4 FOR UPDATE SKIP LOCKED)"
                " UPDATE notifications n SET claim_token = gen_random_uuid(), claim_until = $3"
                " FROM due WHERE n.notification_id = due.notification_id RETURNING n.*",
                PENDING,
                now,
                until,
                limit,
                timeout=deadlines.timeout(5.0),
            )
        return [notification_from_row(r) for r in rows]

    async def ids_sent_to(self, address: str, notification_id: uuid.UUID) -> set[str]:
        """Provider ids other messages to the same address own (notifications and lead
        messages alike): a lookup must not take one of those for this notification."""
        async with self._db.connection() as conn:
            rows = await conn.fetch(
                "SELECT provider_message_id FROM notifications WHERE address = $1"
                " AND notification_id <> $2 AND provider_message_id <> ''"
                " UNION SELECT provider_message_id FROM communications WHERE address = $1"
                " AND provider_message_id <> ''",
                address,
                notification_id,
                timeout=deadlines.timeout(2.0),
            )
        return {r["provider_message_id"] for r in rows}

    async def stop_texts(self, address: str, agent_id: uuid.UUID | None, reason: str) -> bool:
        """The agent at `address` gets no more texts; True when this changed anything."""
        async with self._db.transaction() as conn:
            done = await conn.fetchval(
                "INSERT INTO agent_sms_opt_outs (address, agent_id, reason) VALUES ($1, $2, $3)"
                " ON CONFLICT (address) DO NOTHING RETURNING true",
                address,
                agent_id,
                reason,
                timeout=deadlines.timeout(2.0),
            )
        return bool(done)

    async def resume_texts(self, address: str) -> bool:
        async with self._db.transaction() as conn:
            done = await conn.fetchval(
                "DELETE FROM agent_sms_opt_outs WHERE address = $1 RETURNING true",
                address,
                timeout=deadlines.timeout(2.0),
            )
        return bool(done)

    async def agent_texted_at(self, address: str) -> uuid.UUID | None:
        """The agent we last texted a notification at this number; None when we never did."""
        async with self._db.connection() as conn:
            found: uuid.UUID | None = await conn.fetchval(
                "SELECT agent_id FROM notifications WHERE channel = $1 AND address = $2"
                " ORDER BY create_time DESC LIMIT 1",
                SMS,
                address,
                timeout=deadlines.timeout(2.0),
            )
        return found

    async def advance_status(
        self,
        provider_message_ids: list[str],
        decide: Callable[[Notification], tuple[pb.CommunicationStatus.ValueType, str] | None],
    ) -> Notification | None:
        """Move a notification's status as its provider reports it; None when no notification
        has that id."""
        async with self._db.transaction() as conn:
            row = await conn.fetchrow(
                "SELECT * FROM notifications WHERE provider_message_id = ANY($1::text[])"
                " AND provider_message_id <> '' LIMIT 1 FOR UPDATE",
                provider_message_ids,
                timeout=deadlines.timeout(2.0),
            )
            if row is None:
                return None
            note = notification_from_row(row)
            step = decide(note)
            if step is None:
                return note
            updated: asyncpg.Record = await conn.fetchrow(
                "UPDATE notifications SET status = $2, status_reason = $3, update_time = now()"
                " WHERE notification_id = $1 RETURNING *",
                note.notification_id,
                step[0],
                step[1],
                timeout=deadlines.timeout(2.0),
            )
        return notification_from_row(updated)
