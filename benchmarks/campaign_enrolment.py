"""A recovery campaign over 10,000 imported leads, enrolled at its daily limit.

Runs the five real services in this process (tests.support.mesh) on a scratch database
of LEADENGINE_TEST_DATABASE_URL's server (dropped afterwards), imports --leads leads
through ImportLeads, starts a campaign with --daily-limit, and drives the coordinator's
own enroller with an injected clock: each round is run as of the last moment of the next
campaign day, so days pass in seconds. Everything due that day is due at once, so the
daily limit is the only throttle: enrolments per wall-clock second within a day is the
enroller's rate when the limit is not the bottleneck. Not collected by pytest.

    .venv/bin/python -m benchmarks.campaign_enrolment [--leads 10000] [--daily-limit 2500]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import time
import uuid
from datetime import timedelta
from typing import Any

import asyncpg
from leadengine.ingest.v1 import ingest_service_pb2 as ingest_pb

from cli import seed, synthetic
from shared import timestamps
from tests.campaigns import campaign_of, day_end, enroller_of, start_campaign
from tests.conftest import LOCAL_URL, with_database
from tests.journeys import add_agent
from tests.support import mesh, migrate_all


async def run(admin_dsn: str, lead_count: int, daily_limit: int) -> dict[str, Any]:
    name = f"campaign_enrolment_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(admin_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    dsn = with_database(admin_dsn, name)
    try:
        await migrate_all(dsn)
        overrides = {
            "content": {"postal_address": "1 Main St, Austin, TX 78701"},
            "coordinator": {"campaign_poll_s": 3600.0, "campaign_batch": 200, "campaign_concurrency": 16},
        }
        async with mesh(dsn, overrides=overrides) as m:
            loc = f"bench-{uuid.uuid4().hex[:8]}"
            await add_agent(m, loc, phone="+12125550123", capacity=lead_count)
            t0 = time.perf_counter()
            everyone = list(synthetic.leads(1, 0, lead_count))
            for first in range(0, lead_count, 2000):  # each stream well inside the channel's deadline
                rows = [
                    ingest_pb.ImportLeadsRequest(
                        location_id=loc, lead=seed.lead_proto(lead, loc), row=lead.index
                    )
                    for lead in everyone[first : first + 2000]
                ]
                imported = await m.clients.ingest.ImportLeads(iter(rows), timeout=300)
                assert imported.imported_count == len(rows), imported
            imported_s = time.perf_counter() - t0
            started = await start_campaign(m, loc, daily_limit=daily_limit)
            start = timestamps.from_proto(started.create_time)
            assert start is not None
            enroller = enroller_of(m)
            t0 = time.perf_counter()
            while await enroller.run_once(start):
                pass
            gathered_s = time.perf_counter() - t0
            audience = (await campaign_of(m, started.campaign_id)).counts.audience
            days: list[dict[str, Any]] = []
            enrolled = 0
            day = 0
            while enrolled < audience and day < 1000:
                t0 = time.perf_counter()
                while await enroller.run_once(day_end(start, day)):
                    pass
                seconds = time.perf_counter() - t0
                now = (await campaign_of(m, started.campaign_id)).counts
                done = now.enrolled + now.skipped
                days.append({"day": day, "enrolled": done - enrolled, "seconds": round(seconds, 2)})
                enrolled = done
                day += 1
            final = await campaign_of(m, started.campaign_id)
            # A day past the end changes nothing: the limit held and the campaign is done.
            total_s = sum(d["seconds"] for d in days)
            return {
                "leads": lead_count,
                "daily_limit": daily_limit,
                "import_s": round(imported_s, 2),
                "audience": audience,
                "audience_gather_s": round(gathered_s, 2),
                "days": days,
                "max_enrolled_in_a_day": max(d["enrolled"] for d in days),
                "enrolled": final.counts.enrolled,
                "skipped": final.counts.skipped,
                "sent": final.counts.sent,
                "state": final.state,
                "enrolments_per_second": round(enrolled / total_s, 1) if total_s else None,
                "simulated_days": day,
                "elapsed_after": str(timedelta(days=day)),
            }
    finally:
        admin = await asyncpg.connect(admin_dsn)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--leads", type=int, default=10_000)
    parser.add_argument("--daily-limit", type=int, default=2_500)
    args = parser.parse_args()
    dsn = os.environ.get("LEADENGINE_TEST_DATABASE_URL", LOCAL_URL)
    print(json.dumps(asyncio.run(run(dsn, args.leads, args.daily_limit)), indent=2))


if __name__ == "__main__":
    main()
