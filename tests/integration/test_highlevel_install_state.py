"""The OAuth `state` of HighLevel installs through the real gateway and coordinator: an install
starts at our link, and a callback without its state, with a forged, expired or used one is
a 400 with words, and nothing is exchanged or written."""

# ruff: noqa: F811  (the tests take the install suite's `rig` fixture, imported by name)
from __future__ import annotations

import uuid
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import grpc
import pytest
from leadengine.coordinator.v1 import coordinator_service_pb2 as pb

from cli import fake_providers
from services.coordinator.delivery import oauth_state
from shared import timestamps
from shared.errors import error_reason
from tests.integration.test_highlevel_install import STATE_KEY, Rig, rig, started_state  # noqa: F401


async def counts(r: Rig) -> tuple[int, int, int]:
    installs = await r.conn.fetchval("SELECT count(*) FROM highlevel_installs")
    states = await r.conn.fetchval("SELECT count(*) FROM highlevel_oauth_states")
    return installs, states, len(r.fakes.oauth.grants("authorization_code"))


async def callback(r: Rig, **params: str) -> tuple[int, str]:
    resp = await r.gateway.get("/oauth/highlevel/callback", params=params)
    return resp.status_code, resp.text


def new_location() -> str:
    return f"loc-{uuid.uuid4().hex[:10]}"


async def test_the_start_link_is_highlevels_authorization_page_with_our_state(rig: Rig) -> None:
    resp = await rig.gateway.get("/oauth/highlevel/start")
    assert resp.status_code == 303
    assert resp.headers["cache-control"] == "no-store"
    url = urlsplit(resp.headers["location"])
    assert (
        f"{url.scheme}://{url.netloc}{url.path}" == "https://marketplace.gohighlevel.com/oauth/chooselocation"
    )
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert query["response_type"] == "code"
    assert query["client_id"] == fake_providers.HIGHLEVEL_CLIENT_ID
    assert query["redirect_uri"] == "https://hooks.example.com/oauth/highlevel/callback"
    assert "conversations/message.write" in query["scope"].split()
    oauth_state.verify(query["state"], STATE_KEY, timestamps.now())
    # The CLI's call: the same kind of link, a new state each time.
    started = await rig.m.clients.coordinator.StartHighLevelInstall(
        pb.StartHighLevelInstallRequest(), timeout=5
    )
    assert started.state != query["state"]
    assert f"state={started.state}" in started.authorization_url
    assert started.expire_time.ToDatetime(tzinfo=timestamps.now().tzinfo) > timestamps.now()


async def test_a_callback_without_a_state_is_refused_and_nothing_written(rig: Rig) -> None:
    before = await counts(rig)
    status, text = await callback(rig, code=rig.fakes.oauth.issue_code(new_location()))
    assert status == 400
    assert "install state" in text
    assert await counts(rig) == before


async def test_a_forged_state_is_refused_and_nothing_written(rig: Rig) -> None:
    before = await counts(rig)
    forged, _ = oauth_state.issue("attacker-key-" + "x" * 32, timestamps.now() + timedelta(minutes=5))
    status, text = await callback(rig, code=rig.fakes.oauth.issue_code(new_location()), state=forged)
    assert status == 400
    assert "not issued by us" in text
    status, _ = await callback(rig, code=rig.fakes.oauth.issue_code(new_location()), state="garbage.state")
    assert status == 400
    assert await counts(rig) == before


async def test_an_expired_state_is_refused_and_nothing_written(rig: Rig) -> None:
    before = await counts(rig)
    # Signed with our key (as an old link would be), but past its expiry.
    old, _ = oauth_state.issue(STATE_KEY, timestamps.now() - timedelta(seconds=1))
    status, text = await callback(rig, code=rig.fakes.oauth.issue_code(new_location()), state=old)
    assert status == 400
    assert "expired" in text
    assert await counts(rig) == before


async def test_a_used_state_is_refused_for_another_code(rig: Rig) -> None:
    state = await started_state(rig)
    first = new_location()
    status, _ = await callback(rig, code=rig.fakes.oauth.issue_code(first), state=state)
    assert status == 200
    before = await counts(rig)
    # The attacker replays the state with a code for their own location.
    other = new_location()
    status, text = await callback(rig, code=rig.fakes.oauth.issue_code(other), state=state)
    assert status == 400
    assert "already used" in text
    assert await counts(rig) == before
    assert (
        await rig.conn.fetchval("SELECT count(*) FROM highlevel_installs WHERE location_id = $1", other) == 0
    )


async def test_the_coordinator_refuses_a_code_without_our_state(rig: Rig) -> None:
    """Callers other than the gateway get the same check: a bare code is never exchanged."""
    before = await counts(rig)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await rig.m.clients.coordinator.CompleteHighLevelInstall(
            pb.CompleteHighLevelInstallRequest(code=rig.fakes.oauth.issue_code(new_location())), timeout=5
        )
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_reason(err.value) == "HIGHLEVEL_STATE_INVALID"
    assert await counts(rig) == before
