"""One-click unsubscribe through the real gateway to the real coordinator, and the
per-location delivery settings RPCs."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
import grpc
import httpx
import pytest
from leadengine.coordinator.v1 import coordinator_service_pb2 as pb

from services.coordinator.delivery.provider_config import ProviderConfig
from services.gateway.config import Config as GatewayConfig
from services.gateway.serving import running_gateway
from shared import unsubscribe
from tests.delivery import EMAIL, coordinator_database, seed_message
from tests.support import Mesh, error_reason, field_violations, location_of, mesh

KEY = "unsubscribe-test-key"


@dataclass
class Rig:
    m: Mesh
    conn: asyncpg.Connection
    http: httpx.AsyncClient


@pytest.fixture(scope="module")
async def rig(postgres_url: str) -> AsyncIterator[Rig]:
    async with coordinator_database(postgres_url) as dsn:
        overrides = {"coordinator": {"providers": ProviderConfig(unsubscribe_key=KEY)}}
        async with mesh(dsn, only=("coordinator",), overrides=overrides) as m:
            cfg = GatewayConfig(host="127.0.0.1", coordinator_addr=m.addr["coordinator"])
            async with running_gateway(cfg, access_log=False) as url, httpx.AsyncClient(base_url=url) as http:
                conn = await asyncpg.connect(dsn, server_settings={"search_path": "coordinator"})
                try:
                    yield Rig(m, conn, http)
                finally:
                    await conn.close()


async def lead_with_waiting_email(rig: Rig) -> tuple[uuid.UUID, uuid.UUID]:
    # Due later: the coordinator's own scheduler runs in this mesh.
    cid = await seed_message(rig.conn, channel=EMAIL, due=datetime.now(UTC) + timedelta(hours=1))
    lead_id = await rig.conn.fetchval("SELECT lead_id FROM communications WHERE communication_id = $1", cid)
    return lead_id, cid


async def email_opted_out(rig: Rig, lead_id: uuid.UUID) -> bool:
    got = await rig.m.clients.coordinator.GetConsent(
        pb.GetConsentRequest(lead_id=str(lead_id), location_id=await location_of(rig.m, str(lead_id))),
        timeout=5,
    )
    return bool(got.consent.email_opted_out)


def token_for(lead_id: uuid.UUID, key: str = KEY) -> str:
    return unsubscribe.sign(unsubscribe.Unsubscribe(lead_id, EMAIL, "loc-delivery"), key)


async def test_one_click_post_suppresses_email_and_blocks_what_waits(rig: Rig) -> None:
    lead_id, cid = await lead_with_waiting_email(rig)
    token = token_for(lead_id)
    resp = await rig.http.post(f"/unsubscribe/{token}", content=b"List-Unsubscribe=One-Click")
    assert resp.status_code == 200
    assert "Unsubscribed" in resp.text
    assert await email_opted_out(rig, lead_id)
    status = await rig.conn.fetchval("SELECT status FROM communications WHERE communication_id = $1", cid)
    assert status == pb.COMMUNICATION_STATUS_BLOCKED
    address = await rig.conn.fetchval("SELECT address FROM communications WHERE communication_id = $1", cid)
    assert await rig.conn.fetchval("SELECT count(*) FROM suppressions WHERE address = $1", address) == 1
    again = await rig.http.post(f"/unsubscribe/{token}", content=b"List-Unsubscribe=One-Click")
    assert again.status_code == 200


async def test_get_only_shows_the_button(rig: Rig) -> None:
    lead_id, _ = await lead_with_waiting_email(rig)
    resp = await rig.http.get(f"/unsubscribe/{token_for(lead_id)}")
    assert resp.status_code == 200
    assert 'method="post"' in resp.text
    assert not await email_opted_out(rig, lead_id)


@pytest.mark.parametrize("forge", ["flip", "other_key", "garbage", "long"])
async def test_a_token_we_did_not_sign_changes_nothing(rig: Rig, forge: str) -> None:
    lead_id, _ = await lead_with_waiting_email(rig)
    good = token_for(lead_id)
    token = {
        "flip": good[:5] + ("A" if good[5] != "A" else "B") + good[6:],
        "other_key": token_for(lead_id, key="not-our-key"),
        "garbage": "abc.def",
        "long": "x" * 600,
    }[forge]
    resp = await rig.http.post(f"/unsubscribe/{token}", content=b"List-Unsubscribe=One-Click")
    assert resp.status_code == 404
    assert not await email_opted_out(rig, lead_id)


async def test_rpc_names_the_bad_token(rig: Rig) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await rig.m.clients.coordinator.UnsubscribeByToken(
            pb.UnsubscribeByTokenRequest(token="x.y"), timeout=5
        )
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_reason(err.value) == "UNSUBSCRIBE_TOKEN_INVALID"
    assert field_violations(err.value) == ["token"]


async def test_delivery_settings_round_trip_and_validation(rig: Rig) -> None:
    stub = rig.m.clients.coordinator
    put = await stub.SetDeliverySettings(
        pb.SetDeliverySettingsRequest(
            settings=pb.DeliverySettings(location_id="loc-s", sms_provider="HighLevel", email_provider="")
        ),
        timeout=5,
    )
    assert (put.settings.sms_provider, put.settings.email_provider) == ("highlevel", "")
    got = await stub.GetDeliverySettings(pb.GetDeliverySettingsRequest(location_id="loc-s"), timeout=5)
    assert got.settings.sms_provider == "highlevel"
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.SetDeliverySettings(
            pb.SetDeliverySettingsRequest(
                settings=pb.DeliverySettings(location_id="loc-s", email_provider="twilio")
            ),
            timeout=5,
        )
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field_violations(err.value) == ["settings.email_provider"]
    unchanged = await stub.GetDeliverySettings(pb.GetDeliverySettingsRequest(location_id="loc-s"), timeout=5)
    assert unchanged.settings.sms_provider == "highlevel"
