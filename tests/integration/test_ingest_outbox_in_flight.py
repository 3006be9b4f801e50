"""The relay keeps several batches in flight: a new lead's event is not held behind a slow
HandleLeadEvent of another lead, while one lead's own events still go one at a time, in order."""

from __future__ import annotations

import asyncio
import types
import uuid

import pytest
from leadengine.coordinator.v1 import coordinator_service_pb2 as coordinator_pb
from leadengine.ingest.v1 import ingest_service_pb2 as pb

from services.ingest import outbox
from shared.clients import Peers
from tests.relay import RecordingCoordinatorFake, eventually, ingest_replica, serving

CREATED = coordinator_pb.LEAD_EVENT_KIND_LEAD_CREATED
UPDATED = coordinator_pb.LEAD_EVENT_KIND_LEAD_UPDATED


class HoldingCoordinatorFake(RecordingCoordinatorFake):
    """Answers the events of one location only once the test lets them go."""

    def __init__(self, held_location: str) -> None:
        super().__init__()
        self.held_location = held_location
        self.release = asyncio.Event()
        self.holding = 0  # held calls whose caller is still waiting for the answer

    async def HandleLeadEvent(self, request, context):
        self.calls.append(request.event)
        if request.event.location_id == self.held_location:
            self.holding += 1
            try:
                await self.release.wait()
            finally:  # also when the caller gave up (deadline) and the call was cancelled
                self.holding -= 1
        return coordinator_pb.HandleLeadEventResponse()


@pytest.fixture
async def held():
    fake = HoldingCoordinatorFake(f"loc-held-{uuid.uuid4()}")
    async with serving(fake) as addr:
        yield fake, addr
        fake.release.set()


async def test_a_new_lead_is_not_held_behind_a_slow_event_of_another_lead(outbox_dsn, held) -> None:
    fake, coordinator_addr = held
    async with ingest_replica(outbox_dsn, coordinator_addr, outbox_call_timeout_s=10.0) as addr:
        clients = Peers({"ingest": addr})
        try:
            ingest = clients.ingest
            slow = (
                await ingest.UpsertLead(
                    pb.UpsertLeadRequest(lead=pb.Lead(location_id=fake.held_location, first_name="Slow")),
                    timeout=5,
                )
            ).lead
            await eventually(lambda: fake.for_lead(slow.lead_id))
            # The slow lead's next event must wait for its first; another lead's must not.
            await ingest.UpsertLead(
                pb.UpsertLeadRequest(
                    lead=pb.Lead(lead_id=slow.lead_id, location_id=fake.held_location, last_name="Li")
                ),
                timeout=5,
            )
            quick = (
                await ingest.UpsertLead(
                    pb.UpsertLeadRequest(lead=pb.Lead(location_id=f"loc-{uuid.uuid4()}", first_name="Quick")),
                    timeout=5,
                )
            ).lead
            await eventually(lambda: fake.for_lead(quick.lead_id))
            # Delivered while the slow call is still open, not after it gave up.
            assert fake.holding == 1
            assert [e.kind for e in fake.for_lead(slow.lead_id)] == [CREATED]

            fake.release.set()
            await eventually(lambda: len(fake.for_lead(slow.lead_id)) == 2)
            assert [e.kind for e in fake.for_lead(slow.lead_id)] == [CREATED, UPDATED]
            assert [e.kind for e in fake.for_lead(quick.lead_id)] == [CREATED]
        finally:
            await clients.close()


async def test_with_every_slot_busy_new_commits_do_not_spin_the_relay(outbox_dsn, held, monkeypatch) -> None:
    """A claim owed while every batch slot is busy waits for a slot (or the poll), not for the
    commit signal, which stays set until the next claim and would otherwise wake it at once."""
    fake, coordinator_addr = held
    waits = 0
    real_wait = asyncio.wait

    async def counted_wait(*args, **kwargs):
        nonlocal waits
        waits += 1
        return await real_wait(*args, **kwargs)

    monkeypatch.setattr(outbox, "asyncio", types.SimpleNamespace(**{**vars(asyncio), "wait": counted_wait}))
    async with ingest_replica(
        outbox_dsn, coordinator_addr, outbox_call_timeout_s=10.0, outbox_in_flight=1, outbox_poll_s=1.0
    ) as addr:
        clients = Peers({"ingest": addr})
        try:
            slow = (
                await clients.ingest.UpsertLead(
                    pb.UpsertLeadRequest(lead=pb.Lead(location_id=fake.held_location, first_name="Slow")),
                    timeout=5,
                )
            ).lead
            await eventually(lambda: fake.for_lead(slow.lead_id))  # the only slot is taken
            before = waits
            for _ in range(3):
                await clients.ingest.UpsertLead(
                    pb.UpsertLeadRequest(lead=pb.Lead(location_id=f"loc-{uuid.uuid4()}", first_name="Q")),
                    timeout=5,
                )
            await asyncio.sleep(0.5)
            # A handful of polls at most; a loop woken by the set signal would count thousands.
            assert waits - before < 20
            assert fake.holding == 1
        finally:
            fake.release.set()
            await clients.close()
