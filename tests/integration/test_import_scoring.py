"""A bare ImportLeads gets every lead scored, with no ScoreLocation call: ingest's outbox relays
LEADS_IMPORTED to intelligence, which runs its bulk scoring in the background. Real ingest,
intelligence and PostgreSQL in-process; one test starts intelligence only after the import."""

from __future__ import annotations

import contextlib
import socket
import uuid
from collections.abc import AsyncIterator

import asyncpg
import grpc
import pytest
from leadengine.ingest.v1 import ingest_service_pb2 as ingest_pb
from leadengine.intelligence.v1 import intelligence_service_pb2 as pb

from services.ingest import app as ingest_app
from services.ingest.repository.outbox import LEADS_IMPORTED
from services.intelligence import app as intelligence_app
from services.intelligence.import_scoring import ScoringRequests
from shared import db
from shared.clients import Peers
from shared.config import ServerSettings
from tests.journeys import eventually
from tests.support import Mesh, mesh, running, service_config


@pytest.fixture(scope="module")
async def m(migrated_dsn: str) -> AsyncIterator[Mesh]:
    # A small import batch, so one stream commits several batches (several requests to coalesce).
    async with mesh(
        migrated_dsn, only=("ingest", "intelligence"), overrides={"ingest": {"import_batch": 40}}
    ) as running_mesh:
        yield running_mesh


def import_rows(loc: str, n: int, start: int = 0) -> list[ingest_pb.ImportLeadsRequest]:
    return [
        ingest_pb.ImportLeadsRequest(
            location_id=loc,
            lead=ingest_pb.Lead(
                external_contact_id=f"imp-{i}",
                first_name=f"Row{i}",
                email=f"row{i}@example.com",
                preapproved=i % 2 == 0,
                budget_usd=400_000 if i % 3 == 0 else 0,
            ),
            row=i + 1,
        )
        for i in range(start, start + n)
    ]


async def lead_ids(ingest: object, loc: str) -> list[str]:
    page = await ingest.ListLeadProfiles(  # type: ignore[attr-defined]
        ingest_pb.ListLeadProfilesRequest(location_id=loc, page_size=20_000), timeout=10
    )
    assert not page.next_page_token
    return list(page.lead_ids)


async def scored(clients: Peers, loc: str, ids: list[str]) -> dict[str, pb.LeadIntelligence]:
    resp = await clients.intelligence.BatchGetLeadIntelligence(
        pb.BatchGetLeadIntelligenceRequest(location_id=loc, lead_ids=ids), timeout=10
    )
    return {i.lead_id: i for i in resp.intelligence}


async def test_requests_coalesce_into_one_more_run(migrated_dsn: str) -> None:
    """Requests during a run leave exactly one further run due, however many there were."""
    pool = await asyncpg.create_pool(migrated_dsn, server_settings={"search_path": "intelligence"})
    try:
        requests = ScoringRequests(db.Database(pool))
        loc = f"loc-{uuid.uuid4()}"
        assert [await requests.add(loc, []) for _ in range(3)] == [1, 2, 3]
        claimed = await requests.claim(60.0)
        assert claimed is not None
        assert (claimed.location_id, claimed.requested) == (loc, 3)
        async with pool.acquire() as conn:
            leased = await conn.fetchval(
                "SELECT lease_until > now() FROM location_scoring_requests WHERE location_id = $1", loc
            )
        assert leased  # no other worker takes it while this run holds it
        await requests.add(loc, [])  # arrives mid-run
        await requests.add(loc, [])
        await requests.finished(claimed)
        again = await requests.claim(60.0)
        assert again is not None
        assert (again.location_id, again.requested) == (loc, 5)
        await requests.finished(again)
        async with pool.acquire() as conn:
            row = await conn.fetchrow(
                "SELECT requested, done FROM location_scoring_requests WHERE location_id = $1", loc
            )
        assert (row["requested"], row["done"]) == (5, 5)
    finally:
        await pool.close()


async def test_a_run_scores_the_leads_its_requests_named_and_leaves_later_ones_for_the_next(
    migrated_dsn: str,
) -> None:
    # Before any test starts the module's mesh: its worker would claim these requests too.
    pool = await asyncpg.create_pool(migrated_dsn, server_settings={"search_path": "intelligence"})
    try:
        requests = ScoringRequests(db.Database(pool))
        loc = f"loc-{uuid.uuid4()}"
        a, b, c = sorted(uuid.uuid4() for _ in range(3))
        await requests.add(loc, [b, a])
        claimed = await requests.claim(60.0)
        assert claimed is not None
        assert not claimed.whole
        assert [chunk async for chunk in requests.named_leads(claimed)] == [[str(a), str(b)]]
        await requests.add(loc, [c, a])  # mid-run: a is named again, c is new
        await requests.finished(claimed)
        again = await requests.claim(60.0)
        assert again is not None
        assert not again.whole
        assert [chunk async for chunk in requests.named_leads(again)] == [[str(a), str(c)]]
        await requests.add(loc, [])  # the whole location, asked mid-run
        await requests.finished(again)
        whole = await requests.claim(60.0)
        assert whole is not None
        assert whole.whole
        assert [chunk async for chunk in requests.named_leads(whole)] == []
        await requests.finished(whole)
    finally:
        await pool.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_an_import_made_while_intelligence_is_down_is_scored_once_it_is_up(migrated_dsn: str) -> None:
    port = free_port()
    async with contextlib.AsyncExitStack() as stack:
        pools = {}
        for name in ("ingest", "intelligence"):
            pools[name] = await db.create_pool(migrated_dsn, schema=name, service=name, max_size=5)
            stack.push_async_callback(pools[name].close)
        ingest_peers, intel_peers, clients = Peers(), Peers(), Peers()
        for peers in (ingest_peers, intel_peers, clients):
            stack.push_async_callback(peers.close)
        cfg = service_config(
            "ingest", migrated_dsn, outbox_poll_s=0.1, outbox_retry_base_s=0.05, outbox_retry_max_s=0.5
        )
        ingest_addr, _ = await stack.enter_async_context(
            running(ingest_app.create_app(db.Database(pools["ingest"]), ingest_peers, cfg))
        )
        ingest_peers.connect("intelligence", f"127.0.0.1:{port}")  # nothing listens there yet
        clients.connect("ingest", ingest_addr)

        loc = f"loc-{uuid.uuid4()}"
        resp = await clients.ingest.ImportLeads(iter(import_rows(loc, 25)), timeout=60)
        assert resp.imported_count == 25

        async def pending() -> asyncpg.Record | None:
            async with pools["ingest"].acquire() as conn:
                return await conn.fetchrow(
                    "SELECT attempts, last_error, published_time FROM outbox"
                    " WHERE location_id = $1 AND kind = $2",
                    loc,
                    LEADS_IMPORTED,
                )

        failed = await eventually(
            pending, lambda r: r is not None and r["attempts"] >= 1, "a failed delivery to intelligence"
        )
        assert failed["published_time"] is None
        assert failed["last_error"].startswith("UNAVAILABLE")

        intel_cfg = service_config("intelligence", migrated_dsn)
        intel = intelligence_app.create_app(db.Database(pools["intelligence"]), intel_peers, intel_cfg)
        await stack.enter_async_context(running(intel, ServerSettings(port=port, drain_s=0.0, grace_s=1.0)))
        intel_peers.connect("ingest", ingest_addr)
        clients.connect("intelligence", f"127.0.0.1:{port}")

        ids = await lead_ids(clients.ingest, loc)

        async def scored_once_reachable() -> dict[str, pb.LeadIntelligence]:
            # Channels to one address share grpc's reconnect backoff: until the relay's channel
            # sees intelligence up, this one may answer UNAVAILABLE too.
            try:
                return await scored(clients, loc, ids)
            except grpc.aio.AioRpcError as err:
                if err.code() != grpc.StatusCode.UNAVAILABLE:
                    raise
                return {}

        await eventually(
            scored_once_reachable, lambda got: len(got) == 25, "scores after intelligence came up"
        )
        delivered = await pending()
        assert delivered is not None
        assert delivered["published_time"] is not None


async def test_imported_leads_are_all_scored_without_score_location(m: Mesh) -> None:
    loc = f"loc-{uuid.uuid4()}"
    first = await m.clients.ingest.ImportLeads(iter(import_rows(loc, 150)), timeout=60)
    second = await m.clients.ingest.ImportLeads(iter(import_rows(loc, 90, start=150)), timeout=60)
    assert (first.imported_count, second.imported_count) == (150, 90)
    ids = await lead_ids(m.clients.ingest, loc)
    assert len(ids) == 240

    found = await eventually(
        lambda: scored(m.clients, loc, ids), lambda got: len(got) == 240, f"scores for {loc}'s imports"
    )
    # Fit as the bulk path computes it: preapproved and a budget earn points, a bare row fewer.
    assert all(x.location_id == loc for x in found.values())
    assert len({round(x.score, 2) for x in found.values()}) > 1
    listed = await m.clients.intelligence.ListHighIntentLeads(
        pb.ListHighIntentLeadsRequest(location_id=loc, min_score=1, page_size=1000), timeout=10
    )
    assert {x.lead_id for x in listed.leads} == {i for i, x in found.items() if x.score >= 1}


async def test_a_repeated_import_of_the_same_rows_rescores_nothing_new_but_stays_scored(m: Mesh) -> None:
    loc = f"loc-{uuid.uuid4()}"
    await m.clients.ingest.ImportLeads(iter(import_rows(loc, 30)), timeout=60)
    ids = await lead_ids(m.clients.ingest, loc)
    await eventually(lambda: scored(m.clients, loc, ids), lambda got: len(got) == 30, "first import scored")
    again = await m.clients.ingest.ImportLeads(iter(import_rows(loc, 30)), timeout=60)
    assert (again.imported_count, again.skipped_count) == (0, 30)
    assert len(await scored(m.clients, loc, ids)) == 30


async def test_an_import_scores_only_its_own_leads(m: Mesh, migrated_dsn: str) -> None:
    loc = f"loc-{uuid.uuid4()}"
    await m.clients.ingest.ImportLeads(iter(import_rows(loc, 60)), timeout=60)
    first = await lead_ids(m.clients.ingest, loc)
    await eventually(lambda: scored(m.clients, loc, first), lambda got: len(got) == 60, "first import scored")

    async def versions() -> dict[str, int]:
        conn = await asyncpg.connect(migrated_dsn, server_settings={"search_path": "intelligence"})
        try:
            rows = await conn.fetch(
                "SELECT lead_id::text AS id, xmin::text::bigint AS v FROM scores WHERE location_id = $1", loc
            )
        finally:
            await conn.close()
        return {r["id"]: r["v"] for r in rows}

    before = await versions()
    await m.clients.ingest.ImportLeads(iter(import_rows(loc, 45, start=60)), timeout=60)
    every = await lead_ids(m.clients.ingest, loc)
    await eventually(
        lambda: scored(m.clients, loc, every), lambda got: len(got) == 105, "second import scored"
    )
    after = await versions()
    # The first import's rows were not written again (same row versions); the new ones exist.
    assert {i: after[i] for i in first} == before
    assert len(after) == 105


async def test_profiles_of_named_leads_leave_out_other_locations_and_refuse_paging(m: Mesh) -> None:
    loc, other = f"loc-{uuid.uuid4()}", f"loc-{uuid.uuid4()}"
    await m.clients.ingest.ImportLeads(iter(import_rows(loc, 3)), timeout=60)
    await m.clients.ingest.ImportLeads(iter(import_rows(other, 2)), timeout=60)
    mine, theirs = await lead_ids(m.clients.ingest, loc), await lead_ids(m.clients.ingest, other)
    got = await m.clients.ingest.ListLeadProfiles(
        ingest_pb.ListLeadProfilesRequest(location_id=loc, lead_ids=[mine[2], theirs[0], mine[0]]), timeout=10
    )
    assert list(got.lead_ids) == sorted([mine[0], mine[2]])
    assert not got.next_page_token
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await m.clients.ingest.ListLeadProfiles(
            ingest_pb.ListLeadProfilesRequest(location_id=loc, lead_ids=mine, page_size=10), timeout=10
        )
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
