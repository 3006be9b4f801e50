"""Used HighLevel OAuth states are forgotten a day after they expire (their signed expiry
refuses them from then on anyway); a state still valid stays, so its single use holds."""

# ruff: noqa: F811  (the coordinator_conn fixture of the retention suite, imported by name)
from __future__ import annotations

import uuid

import asyncpg

from services.coordinator.retention import RULES as COORDINATOR_RULES
from shared import retention
from shared.db import Database
from tests.integration.test_retention import NOW, ago, coordinator_conn  # noqa: F401


async def test_expired_oauth_states_go_and_valid_ones_stay(coordinator_conn: asyncpg.Connection) -> None:
    old, valid = uuid.uuid4().hex, uuid.uuid4().hex
    await coordinator_conn.execute(
        "INSERT INTO highlevel_oauth_states (nonce, code_digest, expire_time)"
        " VALUES ($1, 'x', $3), ($2, 'y', $4)",
        old,
        valid,
        ago(2),
        ago(-0.01),
    )
    rules = retention.configured("coordinator", COORDINATOR_RULES, {})
    await retention.prune_once(Database(coordinator_conn), rules, NOW, batch=100)
    left = {
        r["nonce"]
        for r in await coordinator_conn.fetch(
            "SELECT nonce FROM highlevel_oauth_states WHERE nonce = ANY($1)", [old, valid]
        )
    }
    assert left == {valid}
