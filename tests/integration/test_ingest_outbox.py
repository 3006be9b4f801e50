"""The outbox relay against real PostgreSQL and a purpose-built coordinator fake.

The coordinator is a peer written elsewhere; these focused tests replace it
with RecordingCoordinatorFake, which records each HandleLeadEvent and can be
told to fail. The module gets its own database so only its own relays see
its outbox rows.
"""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
from leadengine.coordinator.v1 import coordinator_service_pb2 as coordinator_pb
from leadengine.ingest.v1 import ingest_service_pb2 as pb

from shared.clients import Peers
from tests.relay import eventually, ingest_replica

CREATED = coordinator_pb.LEAD_EVENT_KIND_LEAD_CREATED
UPDATED = coordinator_pb.LEAD_EVENT_KIND_LEAD_UPDATED
DELETED = coordinator_pb.LEAD_EVENT_KIND_LEAD_DELETED
BEHAVIOR = coordinator_pb.LEAD_EVENT_KIND_BEHAVIOR


async def outbox_row(relay_tables, lead_id: str) -> asyncpg.Record:
    return await relay_tables.fetchrow("SELECT * FROM outbox WHERE lead_id = $1", uuid.UUID(lead_id))


async def all_published(relay_tables, lead_id: str) -> bool:
    left = await relay_tables.fetchval(
        "SELECT count(*) FROM outbox WHERE lead_id = $1 AND published_time IS NULL", uuid.UUID(lead_id)
    )
    return left == 0


async def create_lead(relay_ingest, loc: str, name: str) -> pb.Lead:
    resp = await relay_ingest.UpsertLead(
        pb.UpsertLeadRequest(lead=pb.Lead(location_id=loc, first_name=name)), timeout=5
    )
    return resp.lead


async def test_relay_delivers_each_change_in_order(relay_ingest, coordinator_fake, relay_tables) -> None:
    fake, _ = coordinator_fake
    loc = f"loc-{uuid.uuid4()}"
    lead = await create_lead(relay_ingest, loc, "Mo")
    await relay_ingest.UpsertLead(
        pb.UpsertLeadRequest(lead=pb.Lead(lead_id=lead.lead_id, location_id=loc, last_name="Li")), timeout=5
    )
    await relay_ingest.RecordEvent(
        pb.RecordEventRequest(
            event=pb.LeadEvent(lead_id=lead.lead_id, location_id=loc, type=pb.EVENT_TYPE_SAVED_SEARCH)
        ),
        timeout=5,
    )
    await relay_ingest.DeleteLead(pb.DeleteLeadRequest(lead_id=lead.lead_id, location_id=loc), timeout=5)
    await eventually(lambda: all_published(relay_tables, lead.lead_id))
    got = fake.for_lead(lead.lead_id)
    assert [e.kind for e in got] == [CREATED, UPDATED, BEHAVIOR, DELETED]
    assert [e.behavior_type for e in got] == ["", "", "saved_search", ""]
    assert {e.location_id for e in got} == {loc}
    assert all(e.HasField("occurred_time") for e in got)
    stored = await relay_tables.fetch(
        "SELECT event_id FROM outbox WHERE lead_id = $1 ORDER BY id", uuid.UUID(lead.lead_id)
    )
    assert [e.event_id for e in got] == [str(r["event_id"]) for r in stored]


async def test_lead_events_carry_the_lead_as_get_lead_answers_it(
    relay_ingest, coordinator_fake, relay_tables
) -> None:
    fake, _ = coordinator_fake
    loc = f"loc-{uuid.uuid4()}"
    created = await relay_ingest.UpsertLead(
        pb.UpsertLeadRequest(
            lead=pb.Lead(
                location_id=loc,
                external_contact_id="crm-7",
                first_name="Ida",
                email="ida@example.com",
                tags=["buyer"],
                budget_usd=450_000,
                sms_dnd=True,
            )
        ),
        timeout=5,
    )
    lead_id = created.lead.lead_id
    await eventually(lambda: all_published(relay_tables, lead_id))
    after_create = (
        await relay_ingest.GetLead(pb.GetLeadRequest(lead_id=lead_id, location_id=loc), timeout=5)
    ).lead
    await relay_ingest.UpsertLead(
        pb.UpsertLeadRequest(lead=pb.Lead(lead_id=lead_id, location_id=loc, last_name="Ng")), timeout=5
    )
    await eventually(lambda: all_published(relay_tables, lead_id))
    after_update = (
        await relay_ingest.GetLead(pb.GetLeadRequest(lead_id=lead_id, location_id=loc), timeout=5)
    ).lead

    by_kind = {e.kind: e for e in fake.for_lead(lead_id)}
    assert by_kind[CREATED].lead == after_create
    assert by_kind[UPDATED].lead == after_update
    # Only lead changes carry the lead; the do-not-disturb suppression carries its facts.
    assert not by_kind[coordinator_pb.LEAD_EVENT_KIND_SUPPRESSION].HasField("lead")


async def test_a_row_written_without_a_snapshot_still_relays(
    relay_ingest, coordinator_fake, relay_tables
) -> None:
    fake, _ = coordinator_fake
    loc = f"loc-{uuid.uuid4()}"
    lead = await create_lead(relay_ingest, loc, "Old")
    await eventually(lambda: all_published(relay_tables, lead.lead_id))
    # As the releases before snapshots wrote it: the lead's columns, an empty payload.
    await relay_tables.execute(
        "INSERT INTO outbox (kind, lead_id, location_id, occurred_time) VALUES ($1, $2, $3, now())",
        UPDATED,
        uuid.UUID(lead.lead_id),
        loc,
    )
    await eventually(lambda: all_published(relay_tables, lead.lead_id))
    updated = [e for e in fake.for_lead(lead.lead_id) if e.kind == UPDATED]
    assert len(updated) == 1
    assert not updated[0].HasField("lead")


async def test_relay_retries_after_coordinator_failures(relay_ingest, coordinator_fake, relay_tables) -> None:
    fake, _ = coordinator_fake
    loc = f"loc-{uuid.uuid4()}"
    # More failures than the channel's own retry policy absorbs (4 attempts), so the relay must retry.
    fake.fail_remaining[loc] = 6
    lead = await create_lead(relay_ingest, loc, "Ned")
    await eventually(lambda: all_published(relay_tables, lead.lead_id))
    row = await outbox_row(relay_tables, lead.lead_id)
    assert fake.fail_remaining[loc] == 0
    assert row["attempts"] >= 2
    assert row["last_error"] is None
    assert {e.event_id for e in fake.for_lead(lead.lead_id)} == {str(row["event_id"])}
    assert len(fake.for_lead(lead.lead_id)) >= 7  # six refusals, then at least one acceptance


async def test_failing_row_is_kept_with_its_error_and_later_delivered(
    relay_ingest, coordinator_fake, relay_tables
) -> None:
    fake, _ = coordinator_fake
    loc = f"loc-{uuid.uuid4()}"
    fake.fail_remaining[loc] = 1_000_000
    lead = await create_lead(relay_ingest, loc, "Oz")

    async def failed_twice() -> bool:
        row = await outbox_row(relay_tables, lead.lead_id)
        return row["attempts"] >= 2

    await eventually(failed_twice)
    row = await outbox_row(relay_tables, lead.lead_id)
    assert row["published_time"] is None
    assert row["last_error"].startswith("UNAVAILABLE")
    fake.fail_remaining[loc] = 0  # the coordinator_fake recovers
    await eventually(lambda: all_published(relay_tables, lead.lead_id))
    assert {e.kind for e in fake.for_lead(lead.lead_id)} == {CREATED}


async def test_two_replicas_deliver_every_row_once(
    outbox_dsn, coordinator_fake, relay_ingest, relay_tables
) -> None:
    fake, addr = coordinator_fake
    loc = f"loc-{uuid.uuid4()}"
    async with ingest_replica(outbox_dsn, addr) as second_addr:
        second = Peers({"ingest": second_addr})
        made = await asyncio.gather(
            *(create_lead(relay_ingest if i % 2 else second.ingest, loc, f"P{i}") for i in range(40))
        )
        lead_ids = {lead.lead_id for lead in made}

        async def location_published() -> bool:
            left = await relay_tables.fetchval(
                "SELECT count(*) FROM outbox WHERE location_id = $1 AND published_time IS NULL", loc
            )
            return left == 0

        await eventually(location_published)
        await second.close()
    delivered = [e.event_id for e in fake.calls if e.lead_id in lead_ids]
    assert len(delivered) == 40
    assert len(set(delivered)) == 40
