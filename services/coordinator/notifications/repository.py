"""Notifications: messages to agents about their leads. Each method is one short
transaction; none spans a call to another service."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
from leadengine.common.v1 import common_pb2
from leadengine.coordinator.v1 import coordinator_service_pb2 as pb

from shared import deadlines
from shared.db import Database
from shared.keyset import Keyset

_PAGE = Keyset("create_time", "timestamptz", "notification_id")


@dataclass(frozen=True)
class Notification:
    notification_id: uuid.UUID
    agent_id: uuid.UUID
    lead_id: uuid.UUID
    # One per (lead, step_key): a redelivered event never notifies twice.
    step_key: str
    channel: common_pb2.Channel.ValueType
    status: pb.CommunicationStatus.ValueType
    status_reason: str
    body: str
    address: str
    create_time: datetime
    update_time: datetime
    subject: str = ""
    provider_message_id: str = ""
    # Set when the body is our fixed template, not content's: why.
    template_reason: str = ""
    # Why this channel when it is not the agent's preference.
    channel_reason: str = ""
    claim_token: uuid.UUID | None = None
    claim_until: datetime | None = None
    tries: int = 0


def notification_from_row(row: asyncpg.Record) -> Notification:
    return Notification(
        notification_id=row["notification_id"],
        agent_id=row["agent_id"],
        lead_id=row["lead_id"],
        step_key=row["step_key"],
        channel=row["channel"],
        status=row["status"],
        status_reason=row["status_reason"],
        body=row["body"],
        address=row["address"],
        create_time=row["create_time"],
        update_time=row["update_time"],
        subject=row["subject"],
        provider_message_id=row["provider_message_id"],
        template_reason=row["template_reason"],
        channel_reason=row["channel_reason"],
        claim_token=row["claim_token"],
        claim_until=row["claim_until"],
        tries=row["tries"],
    )


class NotificationRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add_notification(
        self,
        *,
        agent_id: uuid.UUID,
        lead_id: uuid.UUID,
        step_key: str,
        channel: common_pb2.Channel.ValueType,
        status: pb.CommunicationStatus.ValueType,
        status_reason: str,
        body: str,
        address: str,
        subject: str = "",
        template_reason: str = "",
        channel_reason: str = "",
        claim_token: uuid.UUID | None = None,
        claim_until: datetime | None = None,
    ) -> tuple[Notification, bool]:
        """The notification, and True when this call created it. A pending one (SCHEDULED)
        is created claimed by `claim_token` until `claim_until`, so its creator sends it and
        the sweeper takes it only if the creator dies."""
        async with self._db.connection() as conn:  # one write; the read after runs only on a conflict
            row = await conn.fetchrow(
                "INSERT INTO notifications (agent_id, lead_id, step_key, channel, status, status_reason,"
                " body, address, subject, template_reason, channel_reason, claim_token, claim_until)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
                " ON CONFLICT (lead_id, step_key) DO NOTHING RETURNING *",
                agent_id,
                lead_id,
                step_key,
                channel,
                status,
                status_reason,
                body,
                address,
                subject,
                template_reason,
                channel_reason,
                claim_token,
                claim_until,
                timeout=deadlines.timeout(2.0),
            )
            if row is not None:
                return notification_from_row(row), True
            existing: asyncpg.Record = await conn.fetchrow(
                "SELECT * FROM notifications WHERE lead_id = $1 AND step_key = $2", lead_id, step_key
            )
        return notification_from_row(existing), False

    async def has_notification(self, lead_id: uuid.UUID, step_key: str) -> bool:
        async with self._db.connection() as conn:
            found = await conn.fetchval(
                "SELECT 1 FROM notifications WHERE lead_id = $1 AND step_key = $2",
                lead_id,
                step_key,
                timeout=deadlines.timeout(2.0),
            )
        return found is not None

    async def finish_notification(
        self, notification_id: uuid.UUID, status: pb.CommunicationStatus.ValueType, reason: str
    ) -> Notification:
        async with self._db.connection() as conn:  # one statement: atomic without BEGIN/COMMIT
            row: asyncpg.Record = await conn.fetchrow(
                "UPDATE notifications SET status = $2, status_reason = $3, update_time = now()"
                " WHERE notification_id = $1 RETURNING *",
                notification_id,
                status,
                reason,
                timeout=deadlines.timeout(2.0),
            )
        return notification_from_row(row)

    async def list_notifications(
        self,
        agent_id: uuid.UUID | None,
        lead_id: uuid.UUID | None,
        after: tuple[datetime, uuid.UUID] | None,
        limit: int,
    ) -> list[Notification]:
        """Up to limit + 1 notifications after `after`, newest first, of the agent, the
        lead, or both (at least one is given)."""
        # One statement per filter so the planner always sees which index fits.
        where = "agent_id = $1" if agent_id is not None else "lead_id = $1"
        args: list[Any] = [agent_id if agent_id is not None else lead_id]
        if agent_id is not None and lead_id is not None:
            where += " AND lead_id = $2"
            args.append(lead_id)
        async with self._db.connection() as conn:
            rows = await _PAGE.fetch(
                conn,
                f"SELECT * FROM notifications WHERE {where}",
                args,
                after,
                limit,
                deadline_s=deadlines.timeout(2.0),
            )
        return [notification_from_row(row) for row in rows]
