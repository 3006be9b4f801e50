"""Routing's outcome outbox is pruned like ingest's (#15: published outbox rows pruned by a
scheduled job): delivered rows past their keep go, recent or undelivered ones stay. Inside one
transaction that is rolled back, so the backdated rows never leak."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from services.routing.retention import RULES
from shared import retention
from shared.db import Database
from tests.integration.test_retention import NOW, ago, schema_conn


@pytest.fixture
async def routing_conn(migrated_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    async for conn in schema_conn(migrated_dsn, "routing"):
        yield conn


async def outcome_row(conn: asyncpg.Connection, created: dt.datetime, published: dt.datetime | None) -> int:
    row_id: int = await conn.fetchval(
        "INSERT INTO outcome_outbox (event_id, subscriber, lead_id, location_id, outcome, occurred_time,"
        " create_time, published_time) VALUES ($1, 'coordinator', $2, 'loc-retention', 1, $3, $3, $4)"
        " RETURNING id",
        uuid.uuid4(),
        uuid.uuid4(),
        created,
        published,
    )
    return row_id


async def test_routing_forgets_delivered_outcomes_only(routing_conn: asyncpg.Connection) -> None:
    delivered_long_ago = await outcome_row(routing_conn, ago(9), ago(8))
    delivered_yesterday = await outcome_row(routing_conn, ago(2), ago(1))
    never_delivered = await outcome_row(routing_conn, ago(60), None)
    changed = await retention.prune_once(
        Database(routing_conn), retention.configured("routing", RULES, {}), NOW, batch=100
    )
    ids = [delivered_long_ago, delivered_yesterday, never_delivered]
    left = {
        r["id"] for r in await routing_conn.fetch("SELECT id FROM outcome_outbox WHERE id = ANY($1)", ids)
    }
    assert left == {delivered_yesterday, never_delivered}
    assert changed["outcome_outbox"] >= 1

    kept_longer = await outcome_row(routing_conn, ago(9), ago(8))
    rules = retention.configured("routing", RULES, {"ROUTING_RETAIN_OUTCOME_OUTBOX_DAYS": "10"})
    await retention.prune_once(Database(routing_conn), rules, NOW, batch=100)
    assert await routing_conn.fetchval("SELECT count(*) FROM outcome_outbox WHERE id = $1", kept_longer) == 1
