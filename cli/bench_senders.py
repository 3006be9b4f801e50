"""`leadengine bench senders`: messages per second each provider sender sustains against the
local fakes, through the whole exactly-once path (claim, row lock and send-time re-check,
attempt committed, HTTP call, provider id committed); agent notifications through Twilio too.

Everything runs in this process on a scratch database of DATABASE_URL's server (or the
embedded one): the fakes, and `--workers` coordinator schedulers sharing the work as
replicas would. The fakes answer at once, so this measures our side of the path.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import asyncpg
from leadengine.common.v1 import common_pb2
from leadengine.coordinator.v1 import coordinator_service_pb2 as pb
from rich.table import Table

from cli import bench_notifications, fake_providers
from cli.bench import scratch_database
from cli.database import DatabaseError, database, describe, migrations_dir
from cli.terminal import console, errors
from services.coordinator.app import create_dispatcher, create_scheduler
from services.coordinator.config import Config as CoordinatorConfig
from services.coordinator.delivery import providers
from services.coordinator.delivery.provider_config import ProviderConfig
from shared import db
from shared.config import ServerSettings
from shared.migrate import migrate

# provider -> (location, channel): each provider gets its own location's messages.
ROUTES = {
    "twilio": ("bench-twilio", common_pb2.CHANNEL_SMS),
    "sendgrid": ("bench-sendgrid", common_pb2.CHANNEL_EMAIL),
    "highlevel": ("bench-highlevel", common_pb2.CHANNEL_EMAIL),
}
ZONE = "America/Chicago"


@dataclass(frozen=True)
class Throughput:
    provider: str
    messages: int
    workers: int
    seconds: float
    queued: int
    receipts: int

    @property
    def per_second(self) -> float:
        return self.messages / self.seconds if self.seconds else 0.0


async def _seed(conn: asyncpg.Connection, location: str, channel: int, count: int, due: datetime) -> None:
    """`count` leads with consent, a journey and one message due, in three statements."""
    await conn.execute(
        "WITH leads AS (SELECT gen_random_uuid() AS lead_id, n FROM generate_series(1, $3) n),"
        " j AS (INSERT INTO journeys (lead_id, location_id, state) SELECT lead_id, $1, $4 FROM leads"
        "   RETURNING journey_id, lead_id),"
        " c AS (INSERT INTO consents (lead_id, phone, email, timezone, sms_consent, email_consent)"
        "   SELECT lead_id, '+1512' || lpad(n::text, 7, '0'), 'bench' || n || '@example.com', $7, true, true"
        "   FROM leads),"
        " d AS (INSERT INTO delivery_contacts (lead_id, location_id, external_contact_id)"
        "   SELECT lead_id, $1, 'contact-' || n FROM leads)"
        " INSERT INTO communications (lead_id, journey_id, step_key, channel, direction, status, body,"
        "   subject, address, scheduled_time)"
        " SELECT j.lead_id, j.journey_id, 'bench', $2::smallint, $5, $6, 'Bench message ' || n, 'Bench',"
        "   CASE WHEN $2::smallint = 1 THEN '+1512' || lpad(n::text, 7, '0')"
        "   ELSE 'bench' || n || '@example.com' END,"
        "   $8"
        " FROM j JOIN leads USING (lead_id)",
        location,
        channel,
        count,
        pb.JOURNEY_STATE_ACTIVE,
        pb.DIRECTION_OUTBOUND,
        pb.COMMUNICATION_STATUS_SCHEDULED,
        ZONE,
        due,
    )


async def measure(dsn: str, messages: int, workers: int) -> list[Throughput]:
    results: list[Throughput] = []
    async with scratch_database(dsn) as scratch, fake_providers.running_fakes() as (fakes, base):
        await migrate(scratch, "coordinator", migrations_dir("coordinator"))
        cfg = CoordinatorConfig(
            database_url=scratch,
            server=ServerSettings(port=0),
            scheduler_batch=50,
            providers=ProviderConfig.from_env(fake_providers.env_for(base)),
        )
        pool = await db.create_pool(scratch, schema="coordinator", service="bench", max_size=4 * workers)
        http = providers.http_client(cfg.providers)
        conn = await asyncpg.connect(scratch, server_settings={"search_path": "coordinator"})
        try:
            database_ = db.Database(pool)
            senders = providers.build_senders(http, cfg.providers)
            schedulers = [
                create_scheduler(database_, cfg, dispatcher=create_dispatcher(database_, cfg, senders))
                for _ in range(workers)
            ]
            # Noon on the lead's clock: inside every sending window, whatever the time here.
            noon = datetime.now(UTC).astimezone(ZoneInfo(ZONE)).replace(hour=12, minute=0).astimezone(UTC)
            for provider, (location, channel) in ROUTES.items():
                column = "sms_provider" if channel == common_pb2.CHANNEL_SMS else "email_provider"
                await conn.execute(
                    f"INSERT INTO delivery_settings (location_id, {column}) VALUES ($1, $2)",
                    location,
                    provider,
                )
                await _seed(conn, location, channel, messages, noon - timedelta(minutes=1))
                before = len(fakes.receipts)
                started = time.perf_counter()

                async def drain(worker: int) -> None:
                    while await schedulers[worker].run_once(now=noon):
                        pass

                await asyncio.gather(*(drain(w) for w in range(workers)))
                seconds = time.perf_counter() - started
                queued = await conn.fetchval(
                    "SELECT count(*) FROM communications c JOIN journeys j USING (journey_id)"
                    " WHERE j.location_id = $1 AND c.status = $2",
                    location,
                    pb.COMMUNICATION_STATUS_QUEUED,
                )
                results.append(
                    Throughput(provider, messages, workers, seconds, queued, len(fakes.receipts) - before)
                )
            count, seconds, queued, receipts = await bench_notifications.measure(
                database_, conn, cfg, senders, fakes, messages, workers
            )
            results.append(Throughput(bench_notifications.NAME, count, workers, seconds, queued, receipts))
        finally:
            await conn.close()
            await http.aclose()
            await pool.close()
    return results


def _table(results: list[Throughput]) -> Table:
    table = Table(title="senders against the local fakes (exactly-once path)")
    for column in ("provider", "messages", "workers", "seconds", "messages/s", "QUEUED", "receipts"):
        table.add_column(column, justify="left" if column == "provider" else "right")
    for r in results:
        table.add_row(
            r.provider,
            str(r.messages),
            str(r.workers),
            f"{r.seconds:.2f}",
            f"{r.per_second:.0f}",
            str(r.queued),
            str(r.receipts),
        )
    return table


async def senders_command(
    data_dir: Path, env: Mapping[str, str], messages: int, workers: int, as_json: bool
) -> int:
    try:
        async with database(data_dir, env) as dsn:
            if not as_json:
                console.print(f"database server: {describe(dsn)} (a scratch database, dropped afterwards)")
            results = await measure(dsn, messages, workers)
    except DatabaseError as err:
        errors.print(f"[bold red]bench failed:[/] {err}")
        return 1
    if as_json:
        rows = [dataclasses.asdict(r) | {"per_second": r.per_second} for r in results]
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
    else:
        console.print(_table(results))
    complete = all(r.queued == r.messages == r.receipts for r in results)
    if not complete:
        errors.print("[bold red]not every message was accepted exactly once[/]")
    return 0 if complete else 1
