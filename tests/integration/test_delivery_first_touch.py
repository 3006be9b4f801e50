"""A new lead's first touch through the whole mesh with a provider configured: the lead goes in
through ingest, the message comes out at the fake SendGrid, once."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from leadengine.common.v1 import common_pb2
from leadengine.coordinator.v1 import coordinator_service_pb2 as pb

from cli import fake_providers
from cli.fake_providers import FakeProviders
from services.coordinator.delivery.provider_config import ProviderConfig
from tests.journeys import add_agent, add_lead, comms_of, eventually, settled_first_touch
from tests.support import Mesh, mesh


@pytest.fixture(scope="module")
async def rig(migrated_dsn: str) -> AsyncIterator[tuple[Mesh, FakeProviders]]:
    async with fake_providers.running_fakes() as (fakes, base):
        env = fake_providers.env_for(base) | {"COORDINATOR_SEND_BACKOFF_S": "0.01"}
        overrides: dict[str, dict[str, Any]] = {
            "ingest": {"outbox_poll_s": 0.1},
            "content": {"postal_address": "1 Main St, Austin, TX 78701"},
            "coordinator": {"providers": ProviderConfig.from_env(env), "scheduler_poll_s": 0.1},
        }
        async with mesh(migrated_dsn, overrides=overrides) as m:
            yield m, fakes


async def email_lead(m: Mesh) -> str:
    location = f"loc-{uuid.uuid4()}"
    await add_agent(m, location, phone="+12125550123")
    lead = await add_lead(m, location, email=f"lead-{uuid.uuid4().hex[:10]}@example.com")
    return str(lead.lead_id)


def receipts_of(fakes: FakeProviders, communication_id: str) -> list[fake_providers.Receipt]:
    return [r for r in fakes.sendgrid.receipts if r.communication_id == communication_id]


async def test_first_touch_reaches_the_provider_once_and_is_queued(
    rig: tuple[Mesh, FakeProviders],
) -> None:
    m, fakes = rig
    touch = await settled_first_touch(m, await email_lead(m))
    assert (touch.channel, touch.status) == (common_pb2.CHANNEL_EMAIL, pb.COMMUNICATION_STATUS_QUEUED)
    got = receipts_of(fakes, touch.communication_id)
    assert len(got) == 1
    assert got[0].body.startswith(touch.body)


async def test_a_provider_asking_to_wait_hands_the_first_touch_to_the_scheduler(
    rig: tuple[Mesh, FakeProviders], migrated_dsn: str
) -> None:
    m, fakes = rig
    fakes.sendgrid.faults.append("429")
    lead_id = await email_lead(m)
    comms = await eventually(
        lambda: comms_of(m, lead_id),
        lambda cs: bool(cs) and cs[-1].status == pb.COMMUNICATION_STATUS_QUEUED,
        "the first touch queued by the scheduler",
    )
    assert len(receipts_of(fakes, comms[-1].communication_id)) == 1
    conn = await asyncpg.connect(migrated_dsn, server_settings={"search_path": "coordinator"})
    try:
        tries = await conn.fetch(
            "SELECT state, detail FROM send_attempts WHERE communication_id = $1 ORDER BY start_time",
            uuid.UUID(comms[-1].communication_id),
        )
    finally:
        await conn.close()
    assert [t["state"] for t in tries] == ["refused", "accepted"]
    assert tries[0]["detail"].startswith("SendGrid 429")
