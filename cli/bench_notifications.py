"""Agent notifications per second through the fake Twilio, on the same exactly-once path as
production (claim, row lock and opt-out re-read, attempt committed, HTTP call, provider id
committed): `leadengine bench senders` adds it as one more row."""

from __future__ import annotations

import asyncio
import time

import asyncpg
from leadengine.common.v1 import common_pb2
from leadengine.coordinator.v1 import coordinator_service_pb2 as pb

from cli import fake_providers
from services.coordinator.app import create_notification_delivery
from services.coordinator.config import Config
from services.coordinator.delivery.providers import ProviderSender
from shared import db, timestamps

NAME = "twilio (agent notifications)"


async def _seed(conn: asyncpg.Connection, count: int) -> None:
    """`count` pending notifications nobody holds, each to its own agent number."""
    await conn.execute(
        "INSERT INTO notifications (agent_id, lead_id, step_key, channel, status, body, address)"
        " SELECT gen_random_uuid(), gen_random_uuid(), 'bench', $1, $2,"
        "  'New lead for you: bench ' || n || ', score 80/100.', '+1737' || lpad(n::text, 7, '0')"
        " FROM generate_series(1, $3) n",
        common_pb2.CHANNEL_SMS,
        pb.COMMUNICATION_STATUS_SCHEDULED,
        count,
    )


async def measure(
    database: db.Database,
    conn: asyncpg.Connection,
    cfg: Config,
    senders: dict[str, ProviderSender],
    fakes: fake_providers.FakeProviders,
    count: int,
    workers: int,
) -> tuple[int, float, int, int]:
    """(notifications, seconds, QUEUED, receipts) for `count` notifications drained by
    `workers` sweepers sharing the work as replicas would."""
    sweepers = [create_notification_delivery(database, cfg, senders) for _ in range(workers)]
    await _seed(conn, count)
    before = len(fakes.twilio.receipts)
    started = time.perf_counter()

    async def drain(worker: int) -> None:
        while await sweepers[worker].run_once(now=timestamps.now()):
            pass

    await asyncio.gather(*(drain(w) for w in range(workers)))
    seconds = time.perf_counter() - started
    queued = await conn.fetchval(
        "SELECT count(*) FROM notifications WHERE step_key = 'bench' AND status = $1",
        pb.COMMUNICATION_STATUS_QUEUED,
    )
    return count, seconds, int(queued), len(fakes.twilio.receipts) - before
