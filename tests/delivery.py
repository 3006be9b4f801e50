"""Delivery test helpers: a database of its own (the fault tests commit across processes)
and messages due now, as the first touch or a cadence step would have recorded them.

Rows are written straight into the coordinator's schema: these tests exercise what
happens after a message was recorded, and its recording is tested through gRPC elsewhere.
"""

from __future__ import annotations

import contextlib
import secrets
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg
from leadengine.common.v1 import common_pb2
from leadengine.coordinator.v1 import coordinator_service_pb2 as pb

from shared.migrate import migrate
from tests.conftest import with_database
from tests.support import ROOT

SMS, EMAIL = common_pb2.CHANNEL_SMS, common_pb2.CHANNEL_EMAIL


@contextlib.asynccontextmanager
async def coordinator_database(admin_url: str) -> AsyncIterator[str]:
    """A fresh database with the coordinator's schema, dropped afterwards."""
    name = f"leadengine_delivery_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(admin_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    dsn = with_database(admin_url, name)
    try:
        await migrate(dsn, "coordinator", ROOT / "services" / "coordinator" / "migrations")
        yield dsn
    finally:
        admin = await asyncpg.connect(admin_url)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def local_noon(zone: str, day: datetime | None = None) -> datetime:
    """Noon in `zone` on the day of `day` (UTC): inside every legal sending window."""
    at = (day or datetime.now(UTC)).astimezone(ZoneInfo(zone))
    return at.replace(hour=12, minute=0, second=0, microsecond=0).astimezone(UTC)


async def seed_message(
    conn: asyncpg.Connection,
    *,
    channel: common_pb2.Channel.ValueType,
    location_id: str = "loc-delivery",
    phone: str = "",
    email: str = "",
    body: str = "",
    due: datetime | None = None,
    contact_id: str = "",
) -> uuid.UUID:
    """One lead with consent on `channel`, an active journey, and one SCHEDULED message due
    at `due` (default: now). Returns the communication id."""
    lead_id = uuid.uuid4()
    phone = phone or f"+1512555{secrets.randbelow(10000):04d}"
    email = email or f"lead-{lead_id.hex[:10]}@example.com"
    address = phone if channel == SMS else email
    journey_id = await conn.fetchval(
        "INSERT INTO journeys (lead_id, location_id, state) VALUES ($1, $2, $3) RETURNING journey_id",
        lead_id,
        location_id,
        pb.JOURNEY_STATE_ACTIVE,
    )
    await conn.execute(
        "INSERT INTO consents (lead_id, phone, email, timezone, sms_consent, email_consent,"
        " sms_basis, sms_basis_key, email_basis, email_basis_key)"
        " VALUES ($1, $2, $3, 'America/Chicago', true, true, 'lead record', 'lead_record',"
        " 'lead record', 'lead_record')",
        lead_id,
        phone,
        email,
    )
    if contact_id:
        await conn.execute(
            "INSERT INTO delivery_contacts (lead_id, location_id, external_contact_id) VALUES ($1, $2, $3)",
            lead_id,
            location_id,
            contact_id,
        )
    cid: uuid.UUID = await conn.fetchval(
        "INSERT INTO communications (lead_id, journey_id, step_key, channel, direction, status, body,"
        " subject, address, scheduled_time) VALUES ($1, $2, 'test', $3, $4, $5, $6, $7, $8, $9)"
        " RETURNING communication_id",
        lead_id,
        journey_id,
        channel,
        pb.DIRECTION_OUTBOUND,
        pb.COMMUNICATION_STATUS_SCHEDULED,
        body or f"Hello from the delivery tests {lead_id.hex[:12]}",
        "A note from your agent" if channel == EMAIL else "",
        address,
        due or datetime.now(UTC) - timedelta(seconds=1),
    )
    return cid


async def set_provider(conn: asyncpg.Connection, location_id: str, *, sms: str = "", email: str = "") -> None:
    await conn.execute(
        "INSERT INTO delivery_settings (location_id, sms_provider, email_provider) VALUES ($1, $2, $3)"
        " ON CONFLICT (location_id) DO UPDATE SET sms_provider = EXCLUDED.sms_provider,"
        " email_provider = EXCLUDED.email_provider",
        location_id,
        sms,
        email,
    )


async def statuses(conn: asyncpg.Connection, ids: list[uuid.UUID]) -> dict[uuid.UUID, asyncpg.Record]:
    rows = await conn.fetch(
        "SELECT communication_id, status, status_reason, provider_message_id FROM communications"
        " WHERE communication_id = ANY($1::uuid[])",
        ids,
    )
    return {r["communication_id"]: r for r in rows}
