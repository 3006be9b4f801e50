"""HighLevel marketplace-app installs end to end: the real gateway's OAuth callback, the real
ingest and coordinator in-process, a fake HighLevel over HTTP (token endpoint with single-use
refresh tokens, conversations API that refuses expired tokens). Sends run through the real
scheduler and dispatcher on the same database (a second coordinator replica, in effect)."""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import asyncpg
import httpx
import pytest
from cryptography.fernet import Fernet
from leadengine.coordinator.v1 import coordinator_service_pb2 as pb
from leadengine.ingest.v1 import ingest_service_pb2 as ingest_pb

from cli import fake_providers
from cli.fake_providers import FakeProviders
from services.coordinator.app import create_dispatcher, create_scheduler
from services.coordinator.compliance.repository import REPORT, ConsentRepository, Revocation
from services.coordinator.delivery import providers
from services.coordinator.delivery.credentials import HighLevelCredentials, create_credentials
from services.coordinator.delivery.dnd_writeback import DndWriteback
from services.coordinator.delivery.highlevel_tokens import TokenEndpoint
from services.coordinator.delivery.provider_config import ProviderConfig
from services.coordinator.delivery.scheduler import Scheduler
from services.gateway.serving import running_gateway
from shared import db, timestamps
from shared.migrate import migrate
from tests.delivery import SMS, coordinator_database, local_noon, seed_message, set_provider, statuses
from tests.journeys import eventually
from tests.support import ROOT, Mesh, mesh, service_config
from tests.webhooks import Signer, compact, now_iso

KEY = Fernet.generate_key().decode()
# Generated per run: signs the OAuth states of installs the tests start.
STATE_KEY = secrets.token_urlsafe(32)
NOON = local_noon("America/Chicago")


def app_env(base: str) -> dict[str, str]:
    """The fakes, the HighLevel app instead of one env token."""
    env = fake_providers.env_for(base)
    del env["HIGHLEVEL_ACCESS_TOKEN"]
    return env | {
        "HIGHLEVEL_CLIENT_ID": fake_providers.HIGHLEVEL_CLIENT_ID,
        "HIGHLEVEL_CLIENT_SECRET": fake_providers.HIGHLEVEL_CLIENT_SECRET,
        # KEY encrypts; the older key after it would still decrypt (rotation).
        "HIGHLEVEL_TOKEN_KEYS": f"{KEY},{Fernet.generate_key().decode()}",
        "HIGHLEVEL_OAUTH_STATE_KEY": STATE_KEY,
        "HIGHLEVEL_REDIRECT_URI": "https://hooks.example.com/oauth/highlevel/callback",
        # The mesh's own refresher stays out of the way; tests drive refreshes.
        "HIGHLEVEL_REFRESH_POLL_S": "3600",
        "COORDINATOR_PROVIDER_TIMEOUT_S": "2",
        "COORDINATOR_SEND_RETRY_BUDGET_S": "2",
        "COORDINATOR_SEND_BACKOFF_S": "0.01",
        "COORDINATOR_SEND_BACKOFF_MAX_S": "0.05",
    }


@dataclasses.dataclass
class Rig:
    m: Mesh
    conn: asyncpg.Connection
    fakes: FakeProviders
    gateway: httpx.AsyncClient
    signer: Signer
    scheduler: Scheduler
    credentials: HighLevelCredentials
    make_credentials: Any
    database: db.Database
    http: httpx.AsyncClient
    pcfg: ProviderConfig


@pytest.fixture(scope="module")
async def rig(postgres_url: str) -> AsyncIterator[Rig]:
    async with coordinator_database(postgres_url) as dsn, fake_providers.running_fakes() as (fakes, base):
        await migrate(dsn, "ingest", ROOT / "services" / "ingest" / "migrations")
        env = app_env(base)
        pcfg = ProviderConfig.from_env(env)
        overrides: dict[str, dict[str, Any]] = {
            "coordinator": {"providers": pcfg, "scheduler_poll_s": 3600.0},
            "ingest": {"outbox_poll_s": 0.1},
        }
        async with mesh(dsn, only=("ingest", "coordinator"), overrides=overrides) as m:
            signer = Signer()
            gcfg = signer.config(m.addr["ingest"], coordinator_addr=m.addr["coordinator"])
            async with running_gateway(gcfg, access_log=False) as url, httpx.AsyncClient(base_url=url) as gw:
                pool = await db.create_pool(dsn, schema="coordinator", service="install-test", max_size=6)
                http = providers.http_client(pcfg)
                database = db.Database(pool)

                def make_credentials() -> HighLevelCredentials:
                    return create_credentials(
                        database, TokenEndpoint(http, pcfg), pcfg.highlevel_app, "", timestamps.now
                    )

                credentials = make_credentials()
                cfg = service_config("coordinator", dsn, providers=pcfg, scheduler_batch=100)
                senders = providers.build_senders(http, pcfg, credentials)
                scheduler = create_scheduler(
                    database, cfg, dispatcher=create_dispatcher(database, cfg, senders)
                )
                conn = await asyncpg.connect(dsn, server_settings={"search_path": "coordinator"})
                try:
                    yield Rig(
                        m,
                        conn,
                        fakes,
                        gw,
                        signer,
                        scheduler,
                        credentials,
                        make_credentials,
                        database,
                        http,
                        pcfg,
                    )
                finally:
                    await conn.close()
                    await http.aclose()
                    await pool.close()


@pytest.fixture(autouse=True)
def clean_fakes(rig: Rig) -> None:
    rig.fakes.oauth.expires_in_s = 86399
    rig.fakes.oauth.refuse_refresh = False
    rig.fakes.highlevel.faults.clear()


async def started_state(rig: Rig) -> str:
    """The state of an install started at the gateway, as HighLevel would pass it back."""
    resp = await rig.gateway.get("/oauth/highlevel/start")
    assert resp.status_code == 303, resp.text
    query = parse_qs(urlsplit(resp.headers["location"]).query)
    return query["state"][0]


async def installed(rig: Rig, *, location: str = "") -> tuple[str, str]:
    """A location installed through the gateway's callback; returns it and its access token."""
    location = location or f"loc-{uuid.uuid4().hex[:10]}"
    resp = await rig.gateway.get(
        "/oauth/highlevel/callback",
        params={"code": rig.fakes.oauth.issue_code(location), "state": await started_state(rig)},
    )
    assert resp.status_code == 200, resp.text
    return location, current_token(rig, location)


def current_token(rig: Rig, location: str) -> str:
    """The newest access token the fake issued for the location."""
    return [t for t, (loc, _) in rig.fakes.oauth.access.items() if loc == location][-1]


async def install_of(rig: Rig, location: str) -> pb.HighLevelInstall:
    got = await rig.m.clients.coordinator.GetHighLevelInstall(
        pb.GetHighLevelInstallRequest(location_id=location), timeout=5
    )
    return got.install


async def sms_via_highlevel(rig: Rig, location: str) -> uuid.UUID:
    await set_provider(rig.conn, location, sms="highlevel")
    contact = f"ct-{uuid.uuid4().hex[:10]}"
    return await seed_message(rig.conn, channel=SMS, location_id=location, contact_id=contact, due=NOON)


async def send(rig: Rig, cid: uuid.UUID) -> asyncpg.Record:
    await rig.scheduler.run_once(now=NOON)
    return (await statuses(rig.conn, [cid]))[cid]


async def test_install_stores_tokens_encrypted_and_a_send_uses_them(rig: Rig) -> None:
    location = f"loc-{uuid.uuid4().hex[:10]}"
    code = rig.fakes.oauth.issue_code(location, "comp-7")
    state = await started_state(rig)
    resp = await rig.gateway.get("/oauth/highlevel/callback", params={"code": code, "state": state})
    assert resp.status_code == 200
    assert location in resp.text
    token = current_token(rig, location)
    row = await rig.conn.fetchrow("SELECT * FROM highlevel_installs WHERE location_id = $1", location)
    assert token.encode() not in bytes(row["access_token"])
    assert Fernet(KEY.encode()).decrypt(bytes(row["access_token"])).decode() == token
    install = await install_of(rig, location)
    assert (install.state, install.company_id) == (pb.HIGH_LEVEL_INSTALL_STATE_ACTIVE, "comp-7")
    # HighLevel may send the person back with the same code: the install stands, no second exchange.
    exchanges = len(rig.fakes.oauth.grants("authorization_code"))
    again = await rig.gateway.get("/oauth/highlevel/callback", params={"code": code, "state": state})
    assert again.status_code == 200
    assert len(rig.fakes.oauth.grants("authorization_code")) == exchanges
    cid = await sms_via_highlevel(rig, location)
    row = await send(rig, cid)
    assert row["status"] == pb.COMMUNICATION_STATUS_QUEUED
    assert rig.fakes.highlevel_tokens[row["provider_message_id"]] == token


async def test_a_refused_code_installs_nothing(rig: Rig) -> None:
    rows = await rig.conn.fetchval("SELECT count(*) FROM highlevel_installs")
    resp = await rig.gateway.get(
        "/oauth/highlevel/callback", params={"code": "not-a-code", "state": await started_state(rig)}
    )
    assert resp.status_code == 400
    missing = await rig.gateway.get("/oauth/highlevel/callback")
    assert missing.status_code == 400
    assert await rig.conn.fetchval("SELECT count(*) FROM highlevel_installs") == rows


async def test_a_token_near_expiry_is_refreshed_before_it_lapses(rig: Rig) -> None:
    rig.fakes.oauth.expires_in_s = 60  # inside HIGHLEVEL_REFRESH_AHEAD_S (1 h)
    location, old = await installed(rig)
    refreshes = len(rig.fakes.oauth.grants("refresh_token"))
    await rig.credentials.refresh_due()
    assert len(rig.fakes.oauth.grants("refresh_token")) > refreshes
    new = current_token(rig, location)
    assert new != old
    install = await install_of(rig, location)
    assert install.HasField("refresh_time")
    rig.fakes.oauth.expires_in_s = 86399
    await rig.credentials.refresh_due()  # the 60 s token is still due: one more, then a day's
    cid = await sms_via_highlevel(rig, location)
    row = await send(rig, cid)
    assert rig.fakes.highlevel_tokens[row["provider_message_id"]] == current_token(rig, location)


async def test_two_replicas_refreshing_at_once_spend_the_refresh_token_once(rig: Rig) -> None:
    location, old = await installed(rig)
    before = len(rig.fakes.oauth.grants("refresh_token"))
    replicas = [rig.make_credentials() for _ in range(4)]
    got = await asyncio.gather(*(r.refresh(location, stale=old) for r in replicas))
    assert len(set(got)) == 1
    assert got[0] != old
    assert len(rig.fakes.oauth.grants("refresh_token")) == before + 1
    assert (await install_of(rig, location)).state == pb.HIGH_LEVEL_INSTALL_STATE_ACTIVE


async def test_a_401_refreshes_once_and_the_send_is_retried_once(rig: Rig) -> None:
    location, old = await installed(rig)
    rig.fakes.oauth.expire(old)  # HighLevel's side: the token no longer works
    before = len(rig.fakes.oauth.grants("refresh_token"))
    cid = await sms_via_highlevel(rig, location)
    row = await send(rig, cid)
    assert row["status"] == pb.COMMUNICATION_STATUS_QUEUED
    assert len(rig.fakes.oauth.grants("refresh_token")) == before + 1
    assert rig.fakes.highlevel_tokens[row["provider_message_id"]] == current_token(rig, location) != old


async def test_a_refused_refresh_fails_the_message_and_needs_a_reinstall(rig: Rig) -> None:
    location, old = await installed(rig)
    rig.fakes.oauth.expire(old)
    rig.fakes.oauth.refuse_refresh = True
    first = await sms_via_highlevel(rig, location)
    row = await send(rig, first)
    assert row["status"] == pb.COMMUNICATION_STATUS_FAILED
    assert "refused to refresh" in row["status_reason"]
    install = await install_of(rig, location)
    assert install.state == pb.HIGH_LEVEL_INSTALL_STATE_NEEDS_REINSTALL
    assert await rig.conn.fetchval(
        "SELECT access_token IS NULL AND refresh_token IS NULL FROM highlevel_installs"
        " WHERE location_id = $1",
        location,
    )
    # Later messages fail with the same reason without calling HighLevel at all.
    calls, token_calls = rig.fakes.highlevel.calls, len(rig.fakes.oauth.requests)
    second = await sms_via_highlevel(rig, location)
    row = await send(rig, second)
    assert row["status"] == pb.COMMUNICATION_STATUS_FAILED
    assert "refused to refresh" in row["status_reason"]
    assert (rig.fakes.highlevel.calls, len(rig.fakes.oauth.requests)) == (calls, token_calls)


async def test_uninstall_webhook_deletes_tokens_and_stops_sends(rig: Rig) -> None:
    location, _ = await installed(rig)
    body = {
        "type": "UNINSTALL",
        "appId": "app-fake",
        "locationId": location,
        "companyId": "comp-fake",
        "webhookId": str(uuid.uuid4()),
        "timestamp": now_iso(),
    }
    raw = compact(body)
    resp = await rig.gateway.post("/webhooks/ghl", content=raw, headers=rig.signer.ghl_headers(raw))
    assert resp.status_code == 200, resp.text
    install = await eventually(
        lambda: install_of(rig, location),
        lambda i: i.state == pb.HIGH_LEVEL_INSTALL_STATE_UNINSTALLED,
        "the uninstall reaching the coordinator",
    )
    assert "uninstalled" in install.state_reason
    assert await rig.conn.fetchval(
        "SELECT access_token IS NULL FROM highlevel_installs WHERE location_id = $1", location
    )
    receipts = len(rig.fakes.highlevel.receipts)
    cid = await sms_via_highlevel(rig, location)
    row = await send(rig, cid)
    assert row["status"] == pb.COMMUNICATION_STATUS_FAILED
    assert "uninstalled" in row["status_reason"]
    assert len(rig.fakes.highlevel.receipts) == receipts


async def test_install_webhook_registers_its_locations_in_ingest(rig: Rig) -> None:
    ids = [f"loc-{uuid.uuid4().hex[:10]}" for _ in range(2)]
    body = {"type": "INSTALL", "appId": "app-fake", "companyId": "comp-fake", "locationIds": ids}
    body |= {"webhookId": str(uuid.uuid4()), "timestamp": now_iso()}
    raw = compact(body)
    resp = await rig.gateway.post("/webhooks/ghl", content=raw, headers=rig.signer.ghl_headers(raw))
    assert resp.status_code == 200, resp.text
    for location in ids:
        got = await rig.m.clients.ingest.GetLocation(
            ingest_pb.GetLocationRequest(location_id=location), timeout=5
        )
        assert got.location.location_id == location


async def test_without_an_install_or_env_token_a_highlevel_message_stays_simulated(rig: Rig) -> None:
    cid = await sms_via_highlevel(rig, f"loc-{uuid.uuid4().hex[:10]}")
    row = await send(rig, cid)
    assert row["status"] == pb.COMMUNICATION_STATUS_SIMULATED
    assert "no HighLevel app install" in row["status_reason"]


async def test_an_opt_out_is_written_back_with_the_locations_own_token(rig: Rig) -> None:
    location, _ = await installed(rig)
    cid = await sms_via_highlevel(rig, location)
    row = await rig.conn.fetchrow(
        "SELECT c.lead_id, c.address, d.external_contact_id FROM communications c"
        " JOIN delivery_contacts d USING (lead_id) WHERE c.communication_id = $1",
        cid,
    )
    await ConsentRepository(rig.database).revoke(
        Revocation(
            channel=SMS,
            address=row["address"],
            lead_id=row["lead_id"],
            source=REPORT,
            reason="STOP by text",
            block_reason="lead opted out (test)",
            at=NOON,
        )
    )
    writer = DndWriteback(
        rig.database,
        rig.http,
        rig.pcfg,
        poll_s=1.0,
        lease=timedelta(seconds=30),
        clock=timestamps.now,
        tokens=rig.credentials,
    )
    await writer.run_once(now=NOON)
    assert rig.fakes.dnd_update_tokens[row["external_contact_id"]] == current_token(rig, location)


async def test_a_highlevel_failure_report_is_worded_as_highlevel_s(rig: Rig) -> None:
    location, _ = await installed(rig)
    cid = await sms_via_highlevel(rig, location)
    row = await send(rig, cid)
    await rig.m.clients.coordinator.HandleLeadEvent(
        pb.HandleLeadEventRequest(
            event=pb.LeadEventEnvelope(
                event_id=str(uuid.uuid4()),
                kind=pb.LEAD_EVENT_KIND_DELIVERY_STATUS,
                location_id=location,
                delivery=pb.DeliveryFacts(
                    provider_message_id=row["provider_message_id"], provider_status="failed", channel=SMS
                ),
            )
        ),
        timeout=5,
    )
    row = (await statuses(rig.conn, [cid]))[cid]
    assert (row["status"], row["status_reason"]) == (pb.COMMUNICATION_STATUS_FAILED, "HighLevel failed")
