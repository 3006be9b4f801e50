"""ImportLeads: COPY-backed bulk loads that report bad rows and publish nothing but a scoring request."""

from __future__ import annotations

import uuid

import pytest
from leadengine.ingest.v1 import ingest_service_pb2 as pb

from services.ingest.repository.outbox import LEADS_IMPORTED
from tests.support import mesh


@pytest.fixture(scope="module")
async def ingest(migrated_dsn):
    # A small batch so a dozen rows cross several COPY batches.
    async with mesh(migrated_dsn, only=("ingest",), overrides={"ingest": {"import_batch": 4}}) as m:
        yield m.clients.ingest


def rows(loc: str) -> list[pb.ImportLeadsRequest]:
    good = [
        pb.Lead(
            external_contact_id=f"ext-{i}",
            first_name=f"Row{i}",
            phone=f"+1512555{i:04d}",
            tags=["Imported"],
        )
        for i in range(8)
    ]
    good.append(pb.Lead(first_name="No", last_name="Id", email="no.id@example.com"))
    bad = {
        3: pb.Lead(external_contact_id="bad-phone", phone="123"),
        6: pb.Lead(external_contact_id="bad-email", email="nope"),
        10: pb.Lead(external_contact_id="empty"),
    }
    stream, n = [], 0
    for lead in good:
        n += 1
        while n in bad:
            stream.append(pb.ImportLeadsRequest(location_id=loc, lead=bad[n], row=n))
            n += 1
        stream.append(pb.ImportLeadsRequest(location_id=loc, lead=lead, row=n))
    return stream


async def all_leads(ingest, loc: str) -> list[pb.Lead]:
    found, token = [], ""
    while True:
        page = await ingest.ListLeads(pb.ListLeadsRequest(location_id=loc, page_token=token), timeout=5)
        found += page.leads
        token = page.next_page_token
        if not token:
            return found


async def test_import_writes_good_rows_reports_bad_ones_and_publishes_nothing(ingest, ingest_tables) -> None:
    loc = f"loc-{uuid.uuid4()}"
    resp = await ingest.ImportLeads(iter(rows(loc)), timeout=30)
    assert (resp.received_count, resp.imported_count, resp.skipped_count, resp.rejected_count) == (
        12,
        9,
        0,
        3,
    )
    assert [(r.row, r.field, r.reason) for r in resp.rejections] == [
        (3, "lead.phone", "INVALID_PHONE"),
        (6, "lead.email", "INVALID_EMAIL"),
        (10, "lead", "EMPTY_LEAD"),
    ]
    leads = await all_leads(ingest, loc)
    assert len(leads) == 9
    assert {x.source for x in leads} == {pb.LEAD_SOURCE_IMPORT}
    assert all(list(x.tags) == ["imported"] for x in leads if x.external_contact_id.startswith("ext-"))
    # Nothing for the coordinator (no messages); only the location's scoring requests, one per batch.
    kinds = await ingest_tables.fetch("SELECT kind, lead_id FROM outbox WHERE location_id = $1", loc)
    assert kinds
    assert all((r["kind"], r["lead_id"]) == (LEADS_IMPORTED, None) for r in kinds)
    got = await ingest.GetLeadByExternalId(
        pb.GetLeadByExternalIdRequest(location_id=loc, external_contact_id="ext-5"), timeout=5
    )
    assert got.lead.phone == "+15125550005"


async def test_reimport_skips_existing_contacts_and_keeps_them_unchanged(ingest) -> None:
    loc = f"loc-{uuid.uuid4()}"
    await ingest.ImportLeads(iter(rows(loc)), timeout=30)
    edited = rows(loc)
    edited[0].lead.first_name = "Renamed"
    again = await ingest.ImportLeads(iter(edited), timeout=30)
    assert (again.imported_count, again.skipped_count, again.rejected_count) == (0, 9, 3)
    leads = await all_leads(ingest, loc)
    assert len(leads) == 9
    assert "Renamed" not in {x.first_name for x in leads}


async def test_rows_for_another_location_are_rejected(ingest) -> None:
    loc, other = f"loc-{uuid.uuid4()}", f"loc-{uuid.uuid4()}"
    stream = [
        pb.ImportLeadsRequest(location_id=loc, lead=pb.Lead(first_name="A"), row=1),
        pb.ImportLeadsRequest(location_id=other, lead=pb.Lead(first_name="B"), row=2),
        pb.ImportLeadsRequest(lead=pb.Lead(first_name="C"), row=3),  # inherits the stream's location
    ]
    resp = await ingest.ImportLeads(iter(stream), timeout=30)
    assert (resp.imported_count, resp.rejected_count) == (2, 1)
    assert [(r.row, r.field, r.reason) for r in resp.rejections] == [(2, "location_id", "LOCATION_MISMATCH")]
    assert not await all_leads(ingest, other)
    assert {x.first_name for x in await all_leads(ingest, loc)} == {"A", "C"}


async def test_empty_stream_imports_nothing(ingest) -> None:
    resp = await ingest.ImportLeads(iter([]), timeout=30)
    assert (resp.received_count, resp.imported_count, resp.rejected_count) == (0, 0, 0)
