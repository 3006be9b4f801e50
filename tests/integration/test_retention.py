"""Retention against the real schemas: what is old goes, what is recent or still needed stays.

Each test works inside one transaction that is rolled back, so backdated rows never leak.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from services.coordinator.retention import RULES as COORDINATOR_RULES
from services.ingest.retention import RULES as INGEST_RULES
from shared import retention
from shared.db import Database

NOW = dt.datetime.now(dt.UTC)


def ago(days: float) -> dt.datetime:
    return NOW - dt.timedelta(days=days)


async def schema_conn(dsn: str, schema: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(dsn, server_settings={"search_path": schema})
    tx = conn.transaction()
    await tx.start()
    try:
        yield conn
    finally:
        await tx.rollback()
        await conn.close()


@pytest.fixture
async def ingest_conn(migrated_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    async for conn in schema_conn(migrated_dsn, "ingest"):
        yield conn


@pytest.fixture
async def coordinator_conn(migrated_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    async for conn in schema_conn(migrated_dsn, "coordinator"):
        yield conn


async def outbox_row(conn: asyncpg.Connection, published: dt.datetime | None) -> int:
    row_id: int = await conn.fetchval(
        "INSERT INTO outbox (kind, location_id, occurred_time, published_time)"
        " VALUES (1, 'loc-retention', $1, $1) RETURNING id",
        published or NOW,
    )
    if published is None:
        await conn.execute("UPDATE outbox SET published_time = NULL WHERE id = $1", row_id)
    return row_id


async def inbox_row(conn: asyncpg.Connection, recorded: dt.datetime) -> str:
    event_id = f"evt-{uuid.uuid4().hex}"
    await conn.execute(
        "INSERT INTO inbox (provider, provider_event_id, payload, receive_time, record_time, outcome)"
        " VALUES (1, $1, 'raw body with a phone number'::bytea, $2, $2, 'stored_only')",
        event_id,
        recorded,
    )
    return event_id


async def test_ingest_forgets_delivered_rows_payloads_and_old_keys(ingest_conn: asyncpg.Connection) -> None:
    delivered_long_ago = await outbox_row(ingest_conn, ago(8))
    delivered_yesterday = await outbox_row(ingest_conn, ago(1))
    never_delivered = await outbox_row(ingest_conn, None)
    await ingest_conn.execute("UPDATE outbox SET create_time = $2 WHERE id = $1", never_delivered, ago(60))
    month_old, quarter_old, fresh = [await inbox_row(ingest_conn, ago(d)) for d in (31, 91, 1)]
    await ingest_conn.execute(
        "INSERT INTO request_ids (rpc, request_id, create_time) VALUES ('UpsertLead', 'old', $1),"
        " ('UpsertLead', 'new', $2)",
        ago(31),
        ago(1),
    )

    rules = retention.configured("ingest", INGEST_RULES, {})
    changed = await retention.prune_once(Database(ingest_conn), rules, NOW, batch=1)  # batches of one

    outbox = {r["id"] for r in await ingest_conn.fetch("SELECT id FROM outbox")}
    assert delivered_long_ago not in outbox
    assert {delivered_yesterday, never_delivered} <= outbox  # undelivered rows are never pruned
    payloads = {
        r["provider_event_id"]: bytes(r["payload"])
        for r in await ingest_conn.fetch(
            "SELECT provider_event_id, payload FROM inbox WHERE provider_event_id = ANY($1)",
            [month_old, quarter_old, fresh],
        )
    }
    assert payloads == {month_old: b"", fresh: b"raw body with a phone number"}  # the dedup key stays
    keys = [
        r["request_id"]
        for r in await ingest_conn.fetch(
            "SELECT request_id FROM request_ids WHERE rpc = 'UpsertLead' AND request_id IN ('old', 'new')"
        )
    ]
    assert keys == ["new"]
    assert min(changed["outbox"], changed["inbox"], changed["request_ids"]) >= 1


async def test_a_longer_keep_from_the_environment_keeps_more(ingest_conn: asyncpg.Connection) -> None:
    row = await outbox_row(ingest_conn, ago(8))
    rules = retention.configured("ingest", INGEST_RULES, {"INGEST_RETAIN_OUTBOX_DAYS": "10"})
    await retention.prune_once(Database(ingest_conn), rules, NOW, batch=100)
    assert await ingest_conn.fetchval("SELECT count(*) FROM outbox WHERE id = $1", row) == 1


async def test_coordinator_forgets_old_dedup_marks_only(coordinator_conn: asyncpg.Connection) -> None:
    old, new = f"ev-{uuid.uuid4()}", f"ev-{uuid.uuid4()}"
    await coordinator_conn.execute(
        "INSERT INTO processed_events (event_id, lead_id, kind, handle_time)"
        " VALUES ($1, $3, 1, $4), ($2, $3, 1, $5)",
        old,
        new,
        uuid.uuid4(),
        ago(45),
        ago(2),
    )
    rules = retention.configured("coordinator", COORDINATOR_RULES, {})
    await retention.prune_once(Database(coordinator_conn), rules, NOW, batch=100)
    left = {
        r["event_id"]
        for r in await coordinator_conn.fetch(
            "SELECT event_id FROM processed_events WHERE event_id = ANY($1)", [old, new]
        )
    }
    assert left == {new}
