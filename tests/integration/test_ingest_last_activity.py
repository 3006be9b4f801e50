"""ImportLeads' last activity (#8): an imported lead counts as inactive since the activity the
import gave, not since the import; a later write of the record or an event of its own counts."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from leadengine.ingest.v1 import ingest_service_pb2 as pb

from shared import timestamps
from tests.support import mesh


@pytest.fixture(scope="module")
async def ingest(migrated_dsn: str) -> AsyncIterator[Any]:
    async with mesh(migrated_dsn, only=("ingest",)) as m:
        yield m.clients.ingest


def lead(name: str, days_ago: float | None = None) -> pb.Lead:
    given = pb.Lead(first_name=name, email=f"{name.lower()}.{uuid.uuid4().hex[:8]}@example.com")
    if days_ago is not None:
        given.last_activity_time.CopyFrom(timestamps.to_proto(timestamps.now() - timedelta(days=days_ago)))
    return given


async def imported(ingest: Any, loc: str, leads: list[pb.Lead]) -> pb.ImportLeadsResponse:
    stream = [pb.ImportLeadsRequest(location_id=loc, lead=x, row=i + 1) for i, x in enumerate(leads)]
    resp: pb.ImportLeadsResponse = await ingest.ImportLeads(iter(stream), timeout=30)
    return resp


async def inactive(ingest: Any, loc: str, days: int) -> set[str]:
    since = timestamps.to_proto(timestamps.now() - timedelta(days=days))
    resp = await ingest.ListLeads(
        pb.ListLeadsRequest(location_id=loc, inactive_since_time=since, page_size=100), timeout=5
    )
    return {x.first_name for x in resp.leads}


async def test_min_days_inactive_counts_from_the_imported_last_activity(ingest: Any) -> None:
    loc = f"loc-{uuid.uuid4()}"
    resp = await imported(
        ingest,
        loc,
        [lead("Old", 200), lead("Recent", 10), lead("Unknown"), lead("Evented", 200), lead("Written", 200)],
    )
    assert resp.imported_count == 5
    listed = await ingest.ListLeads(pb.ListLeadsRequest(location_id=loc, page_size=10), timeout=5)
    by_name = {x.first_name: x for x in listed.leads}
    got = timestamps.from_proto(by_name["Old"].last_activity_time)
    assert got is not None
    assert timedelta(days=199) < timestamps.now() - got < timedelta(days=201)
    assert not by_name["Unknown"].HasField("last_activity_time")

    assert await inactive(ingest, loc, 90) == {"Old", "Evented", "Written"}
    # The lead's own activity after the import still counts: an event, or a write of its record.
    await ingest.RecordEvent(
        pb.RecordEventRequest(
            event=pb.LeadEvent(
                lead_id=by_name["Evented"].lead_id, location_id=loc, type=pb.EVENT_TYPE_PAGE_VIEW
            )
        ),
        timeout=5,
    )
    await ingest.UpsertLead(
        pb.UpsertLeadRequest(
            lead=pb.Lead(lead_id=by_name["Written"].lead_id, location_id=loc, city="Austin"),
            request_id=str(uuid.uuid4()),
        ),
        timeout=5,
    )
    assert await inactive(ingest, loc, 90) == {"Old"}
    assert await inactive(ingest, loc, 5) == {"Old", "Recent"}
    # Imported today with no last activity: active today, as before.
    assert "Unknown" not in await inactive(ingest, loc, 1)


async def test_a_last_activity_in_the_future_is_refused_naming_the_field(ingest: Any) -> None:
    loc = f"loc-{uuid.uuid4()}"
    resp = await imported(ingest, loc, [lead("Fine", 3), lead("Future", -2)])
    assert (resp.imported_count, resp.rejected_count) == (1, 1)
    (rejection,) = resp.rejections
    assert (rejection.row, rejection.field, rejection.reason) == (
        2,
        "lead.last_activity_time",
        "LAST_ACTIVITY_IN_FUTURE",
    )


async def test_upsert_lead_ignores_a_last_activity(ingest: Any) -> None:
    loc = f"loc-{uuid.uuid4()}"
    given = lead("Upserted", 300)
    given.location_id = loc
    resp = await ingest.UpsertLead(pb.UpsertLeadRequest(lead=given, request_id=str(uuid.uuid4())), timeout=5)
    assert not resp.lead.HasField("last_activity_time")
    assert await inactive(ingest, loc, 90) == set()
