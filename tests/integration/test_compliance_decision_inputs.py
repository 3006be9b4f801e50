"""What a compliance decision reads in its one round trip (compliance/records.py
decision_inputs): the location's caps, the per-number and per-lead send history they
count, and the consent basis entry the record cites, each with exactly the rows it
counted before."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from leadengine.common.v1 import common_pb2
from leadengine.coordinator.v1 import coordinator_service_pb2 as pb

from services.coordinator.compliance.evaluation import Caps
from services.coordinator.compliance.records import decision_inputs
from shared import db
from shared.db import Conn

SMS = common_pb2.CHANNEL_SMS
EMAIL = common_pb2.CHANNEL_EMAIL
NOW = datetime(2026, 6, 15, 16, 0, tzinfo=UTC)
DEFAULT = Caps(sms_day=1, sms_week=3, email_day=1, email_week=2)


@pytest.fixture(scope="module")
async def conn(migrated_dsn: str) -> AsyncIterator[Conn]:
    pool = await db.create_pool(migrated_dsn, schema="coordinator", service="coordinator-test", max_size=1)
    try:
        async with pool.acquire() as c:
            yield c
    finally:
        await pool.close()


async def sent(
    conn: Conn, lead_id: uuid.UUID, step_key: str, channel: int, address: str, at: datetime | None
) -> None:
    await conn.execute(
        "INSERT INTO compliance_records (lead_id, step_key, location_id, channel, address, decision,"
        " gates, recipient, rules_version, evaluate_time, send_time)"
        " VALUES ($1, $2, 'loc', $3, $4, $5, '[]', '{}', 'v', $6, $7)",
        lead_id,
        step_key,
        channel,
        address,
        "send" if at is not None else "block",
        at or NOW,
        at,
    )


async def crm_text(conn: Conn, lead_id: uuid.UUID, address: str, at: datetime, key: str) -> None:
    await conn.execute(
        "INSERT INTO communications (lead_id, step_key, channel, direction, status, address, create_time)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7)",
        lead_id,
        key,
        SMS,
        pb.DIRECTION_OUTBOUND,
        pb.COMMUNICATION_STATUS_SENT,
        address,
        at,
    )


async def basis(conn: Conn, lead_id: uuid.UUID, channel: int, change: str = "basis") -> int:
    entry: int = await conn.fetchval(
        "INSERT INTO consent_ledger (lead_id, channel, change, actor, occur_time)"
        " VALUES ($1, $2, $3, 'test', $4) RETURNING entry_id",
        lead_id,
        channel,
        change,
        NOW,
    )
    return entry


async def test_texts_to_the_number_from_any_lead_and_the_crm_in_the_last_day(conn: Conn) -> None:
    phone = f"+1305{uuid.uuid4().int % 8_000_000 + 2_000_000}"
    lead, other = uuid.uuid4(), uuid.uuid4()
    await sent(conn, other, "step:1", SMS, phone, NOW - timedelta(hours=2))  # counted
    await sent(conn, other, "step:2", SMS, phone, NOW - timedelta(hours=25))  # a day and more ago
    await sent(conn, other, "step:3", SMS, phone, NOW + timedelta(minutes=1))  # after now
    await sent(conn, other, "step:4", SMS, phone, None)  # decided, never sent
    await sent(conn, lead, "step:5", SMS, phone, NOW - timedelta(hours=1))  # counted: another step
    await sent(conn, lead, "first_touch", SMS, phone, NOW - timedelta(minutes=5))  # the one decided
    await crm_text(conn, other, phone, NOW - timedelta(hours=3), "crm:abc")  # a person's, counted
    await crm_text(conn, other, phone, NOW - timedelta(hours=4), "step:9")  # not a person's

    found = await decision_inputs(conn, lead, "first_touch", "loc", SMS, phone, NOW, DEFAULT)

    assert sorted(found.history.phone_sends) == [NOW - timedelta(hours=h) for h in (3, 2, 1)]
    assert found.history.lead_sends == (NOW - timedelta(hours=1),)
    assert found.consent_entry_id is None


async def test_the_leads_own_sends_on_the_channel_in_the_last_week(conn: Conn) -> None:
    lead, other = uuid.uuid4(), uuid.uuid4()
    address = f"{lead.hex}@example.com"
    await sent(conn, lead, "step:1", EMAIL, address, NOW - timedelta(days=6))  # counted
    await sent(conn, lead, "step:2", EMAIL, address, NOW - timedelta(days=8))  # over a week ago
    await sent(conn, lead, "step:3", SMS, "+13055550100", NOW - timedelta(days=1))  # other channel
    await sent(conn, other, "step:1", EMAIL, address, NOW - timedelta(days=1))  # another lead
    await sent(conn, lead, "step:4", EMAIL, address, NOW)  # the one decided, retried

    found = await decision_inputs(conn, lead, "step:4", "loc", EMAIL, address, NOW, DEFAULT)

    assert found.history.lead_sends == (NOW - timedelta(days=6),)
    assert found.history.phone_sends == ()  # email: no per-number cap


async def test_the_latest_basis_entry_of_the_channel(conn: Conn) -> None:
    lead = uuid.uuid4()
    await basis(conn, lead, SMS)
    latest = await basis(conn, lead, SMS)
    await basis(conn, lead, SMS, change="opt_out")  # not a basis
    email = await basis(conn, lead, EMAIL)

    sms_found = await decision_inputs(conn, lead, "first_touch", "loc", SMS, "", NOW, DEFAULT)
    email_found = await decision_inputs(conn, lead, "first_touch", "loc", EMAIL, "", NOW, DEFAULT)

    assert (sms_found.consent_entry_id, email_found.consent_entry_id) == (latest, email)


async def test_the_locations_caps_else_the_default_and_a_change_is_read_next_time(conn: Conn) -> None:
    lead, loc = uuid.uuid4(), f"loc-{uuid.uuid4()}"

    async def caps() -> Caps:
        return (await decision_inputs(conn, lead, "first_touch", loc, SMS, "+13055550100", NOW, DEFAULT)).caps

    assert await caps() == DEFAULT
    await conn.execute(
        "INSERT INTO frequency_caps (location_id, sms_day, sms_week, email_day, email_week)"
        " VALUES ($1, 2, 4, 3, 5)",
        loc,
    )
    assert await caps() == Caps(sms_day=2, sms_week=4, email_day=3, email_week=5)
    await conn.execute("UPDATE frequency_caps SET sms_day = 7 WHERE location_id = $1", loc)
    assert (await caps()).sms_day == 7
