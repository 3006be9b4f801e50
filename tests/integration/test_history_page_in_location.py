"""A history page read for a claimed location (delivery/repository.py
list_communications_in): the location check and the page are one statement, so each
outcome it can have is pinned here — pages in order across cursors, a journey with no
messages, another location's claim, no journey, and a stopped earlier journey."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from leadengine.common.v1 import common_pb2
from leadengine.coordinator.v1 import coordinator_service_pb2 as pb

from services.coordinator.delivery.repository import CommunicationRepository
from shared import db

T0 = datetime(2026, 6, 15, 16, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
async def pool(migrated_dsn: str) -> AsyncIterator[db.Database]:
    p = await db.create_pool(migrated_dsn, schema="coordinator", service="coordinator-test", max_size=2)
    try:
        yield db.Database(p)
    finally:
        await p.close()


async def journey(database: db.Database, lead_id: uuid.UUID, location: str, *, generation: int = 1) -> None:
    """The lead's journey of that generation; only the latest one is current."""
    async with database.connection() as conn:
        await conn.execute(
            "UPDATE journeys SET current = false, state = $2 WHERE lead_id = $1",
            lead_id,
            pb.JOURNEY_STATE_STOPPED,
        )
        await conn.execute(
            "INSERT INTO journeys (lead_id, location_id, state, generation) VALUES ($1, $2, 1, $3)",
            lead_id,
            location,
            generation,
        )


async def messages(database: db.Database, lead_id: uuid.UUID, n: int) -> list[uuid.UUID]:
    """n messages, one a minute from T0 (two share T0 + 0, so the id breaks the tie)."""
    ids = []
    async with database.connection() as conn:
        for i in range(n):
            ids.append(
                await conn.fetchval(
                    "INSERT INTO communications (lead_id, step_key, channel, direction, status, create_time)"
                    " VALUES ($1, $2, $3, $4, $5, $6) RETURNING communication_id",
                    lead_id,
                    f"step:{i}",
                    common_pb2.CHANNEL_SMS,
                    pb.DIRECTION_OUTBOUND,
                    pb.COMMUNICATION_STATUS_SENT,
                    T0 + timedelta(minutes=max(i - 1, 0)),
                )
            )
    return ids


async def test_pages_follow_the_cursor_newest_first(pool: db.Database) -> None:
    repo = CommunicationRepository(pool)
    lead, loc = uuid.uuid4(), f"loc-{uuid.uuid4()}"
    await journey(pool, lead, loc)
    await messages(pool, lead, 5)
    everything = await repo.list_communications(lead, None, 10)

    seen: list[uuid.UUID] = []
    after = None
    while True:
        page = await repo.list_communications_in(lead, loc, after, 2)
        assert page is not None
        seen += [c.communication_id for c in page[:2]]
        if len(page) <= 2:
            break
        after = (page[1].create_time, page[1].communication_id)

    assert len(everything) == 5
    assert seen == [c.communication_id for c in everything]
    assert [c.create_time for c in everything] == sorted((c.create_time for c in everything), reverse=True)


async def test_a_journey_without_messages_is_an_empty_page(pool: db.Database) -> None:
    lead, loc = uuid.uuid4(), f"loc-{uuid.uuid4()}"
    await journey(pool, lead, loc)
    assert await CommunicationRepository(pool).list_communications_in(lead, loc, None, 20) == []


async def test_another_locations_claim_and_an_unknown_lead_read_nothing(pool: db.Database) -> None:
    repo = CommunicationRepository(pool)
    lead, loc = uuid.uuid4(), f"loc-{uuid.uuid4()}"
    await journey(pool, lead, loc)
    await messages(pool, lead, 2)
    assert await repo.list_communications_in(lead, f"loc-{uuid.uuid4()}", None, 20) is None
    assert await repo.list_communications_in(uuid.uuid4(), loc, None, 20) is None


async def test_only_the_current_journey_decides_the_location(pool: db.Database) -> None:
    repo = CommunicationRepository(pool)
    lead, old, new = uuid.uuid4(), f"loc-{uuid.uuid4()}", f"loc-{uuid.uuid4()}"
    await journey(pool, lead, old)
    await journey(pool, lead, new, generation=2)
    await messages(pool, lead, 1)
    assert await repo.list_communications_in(lead, old, None, 20) is None
    page = await repo.list_communications_in(lead, new, None, 20)
    assert page is not None
    assert len(page) == 1
