"""Intelligence forgets FireTriggers evaluations that fired nothing once they are older than
their keep; an evaluation that fired stays with its firings, and suppression windows are never
touched, so a late redelivery gets its firings back and a rule never fires twice on the same
evidence. Recorded through the real TriggerRepository inside one transaction that is rolled back."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from services.intelligence.retention import RULES
from services.intelligence.trigger_repository import TriggerRepository
from services.intelligence.trigger_rules import DEFAULT_RULES, Match
from shared import retention
from shared.db import Database
from tests.integration.test_retention import NOW, ago, schema_conn

LOC = "loc-trigger-retention"
RULE = DEFAULT_RULES[0]


@pytest.fixture
async def intel_conn(migrated_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    async for conn in schema_conn(migrated_dsn, "intelligence"):
        yield conn


def match(days_ago: float) -> Match:
    return Match("viewed the same listing 3 times", (str(uuid.uuid4()),), ago(days_ago))


async def evaluations(conn: asyncpg.Connection, request_ids: list[str]) -> set[str]:
    rows = await conn.fetch(
        "SELECT request_id FROM trigger_evaluations WHERE request_id = ANY($1)", request_ids
    )
    return {r["request_id"] for r in rows}


async def test_old_evaluations_that_fired_nothing_go_and_the_rest_stay(
    intel_conn: asyncpg.Connection,
) -> None:
    repo = TriggerRepository(Database(intel_conn))
    lead, quiet_lead = uuid.uuid4(), uuid.uuid4()
    old_quiet, old_fired, recent_quiet = (f"ret-{uuid.uuid4()}" for _ in range(3))
    assert await repo.record(old_quiet, quiet_lead, LOC, ago(40), []) == []
    recorded = await repo.record(old_fired, lead, LOC, ago(40), [(RULE, match(41))])
    assert recorded is not None
    [fired] = recorded
    assert await repo.record(recent_quiet, quiet_lead, LOC, ago(2), []) == []

    changed = await retention.prune_once(
        Database(intel_conn), retention.configured("intelligence", RULES, {}), NOW, batch=1000
    )

    assert changed["trigger_evaluations"] >= 1
    assert await evaluations(intel_conn, [old_quiet, old_fired, recent_quiet]) == {old_fired, recent_quiet}
    # A redelivery of the event that fired still gets exactly that firing back.
    seen = await repo.evaluated(old_fired)
    assert seen is not None
    assert [f.firing_id for f in seen.firings] == [fired.firing_id]
    assert [f.firing_id for f in await repo.list_firings(lead, None, 10)] == [fired.firing_id]
    # The suppression row still holds: the same evidence, judged again, fires nothing.
    again = Match(fired.description, fired.event_ids, fired.evidence_time)
    assert await repo.record(f"ret-{uuid.uuid4()}", lead, LOC, NOW, [(RULE, again)]) == []
    # A pruned key is a new request: judged again, recorded again.
    assert await repo.evaluated(old_quiet) is None
    assert await repo.record(old_quiet, quiet_lead, LOC, NOW, []) == []
    assert await evaluations(intel_conn, [old_quiet]) == {old_quiet}


async def test_the_keep_is_a_setting(intel_conn: asyncpg.Connection) -> None:
    repo = TriggerRepository(Database(intel_conn))
    request_id = f"ret-{uuid.uuid4()}"
    await repo.record(request_id, uuid.uuid4(), LOC, ago(40), [])
    rules = retention.configured(
        "intelligence", RULES, {"INTELLIGENCE_RETAIN_TRIGGER_EVALUATIONS_DAYS": "60"}
    )
    await retention.prune_once(Database(intel_conn), rules, NOW, batch=1000)
    assert await evaluations(intel_conn, [request_id]) == {request_id}
    await retention.prune_once(
        Database(intel_conn), retention.configured("intelligence", RULES, {}), NOW, batch=1000
    )
    assert await evaluations(intel_conn, [request_id]) == set()
