"""Agent notifications delivered for real: all five services in-process on real PostgreSQL,
the coordinator's real senders pointed at local fake Twilio and SendGrid over HTTP.

A new lead reaches its agent once, by the agent's channel; an agent's STOP (texted
through Twilio's inbound webhook into ingest, as in production) moves their notifications
to email and touches no lead's consent; an SLA breach reaches both agents."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import grpc
import pytest
from leadengine.common.v1 import common_pb2
from leadengine.coordinator.v1 import coordinator_service_pb2 as pb
from leadengine.ingest.v1 import ingest_service_pb2 as ingest_pb
from leadengine.routing.v1 import routing_service_pb2 as routing_pb

from cli import fake_providers
from cli.fake_providers import FakeProviders
from services.coordinator.delivery.provider_config import ProviderConfig
from tests.conftest import with_database
from tests.journeys import DAY_HOURS, add_agent, add_lead, eventually, unique_phone, zone_where
from tests.support import Mesh, error_reason, location_of, mesh, migrate_all
from tests.webhooks import twilio_inbound

SMS, EMAIL = common_pb2.CHANNEL_SMS, common_pb2.CHANNEL_EMAIL
SETTLED = (
    pb.COMMUNICATION_STATUS_QUEUED,
    pb.COMMUNICATION_STATUS_BLOCKED,
    pb.COMMUNICATION_STATUS_FAILED,
    pb.COMMUNICATION_STATUS_SIMULATED,
)


@pytest.fixture(scope="module")
async def own_dsn(postgres_url: str) -> AsyncIterator[str]:
    """A database of this module's own: ingest's relay here never works through the outbox
    backlog earlier modules leave in the session database (a 30 s wait under load)."""
    name = f"leadengine_notify_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(postgres_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    dsn = with_database(postgres_url, name)
    try:
        await migrate_all(dsn)
        yield dsn
    finally:
        admin = await asyncpg.connect(postgres_url)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture(scope="module")
async def rig(own_dsn: str) -> AsyncIterator[tuple[Mesh, FakeProviders]]:
    async with fake_providers.running_fakes() as (fakes, base):
        env = fake_providers.env_for(base) | {"COORDINATOR_SEND_BACKOFF_S": "0.01"}
        overrides: dict[str, dict[str, Any]] = {
            "ingest": {"outbox_poll_s": 0.1},
            "routing": {"sla_sweep_s": 0.1, "outbox_poll_s": 0.1},
            "content": {"postal_address": "1 Main St, Austin, TX 78701"},
            "coordinator": {"providers": ProviderConfig.from_env(env), "scheduler_poll_s": 0.1},
        }
        async with mesh(own_dsn, overrides=overrides) as m:
            yield m, fakes


async def notes(m: Mesh, lead_id: str, count: int = 1) -> list[pb.Notification]:
    """The lead's notifications once `count` of them have settled, oldest first."""

    async def fetch() -> list[pb.Notification]:
        resp = await m.clients.coordinator.ListNotifications(
            pb.ListNotificationsRequest(lead_id=lead_id, location_id=await location_of(m, lead_id)), timeout=5
        )
        return list(reversed(resp.notifications))

    def done(found: list[pb.Notification]) -> bool:
        return len(found) >= count and all(n.status in SETTLED for n in found)

    result: list[pb.Notification] = await eventually(fetch, done, f"{count} notification(s) of {lead_id}")
    return result


def texts_to(fakes: FakeProviders, phone: str) -> list[fake_providers.Receipt]:
    return [r for r in fakes.twilio.receipts if r.to == phone]


def emails_to(fakes: FakeProviders, address: str) -> list[fake_providers.Receipt]:
    return [r for r in fakes.sendgrid.receipts if r.to == address]


async def new_lead(m: Mesh, loc: str, **kw: Any) -> ingest_pb.Lead:
    kw.setdefault("phone", unique_phone())
    return await add_lead(
        m, loc, first_name="Dana", last_name="Reyes", timezone=zone_where(DAY_HOURS), sms_consent=True, **kw
    )


async def test_a_new_lead_reaches_its_agent_as_exactly_one_text(rig: tuple[Mesh, FakeProviders]) -> None:
    m, fakes = rig
    loc = f"loc-{uuid.uuid4()}"
    phone = unique_phone()
    agent = await add_agent(m, loc, phone=phone, email=f"ana-{uuid.uuid4().hex[:8]}@example.com")
    lead = await new_lead(m, loc)
    [note] = await notes(m, lead.lead_id)
    assert (note.agent_id, note.channel, note.status) == (agent.agent_id, SMS, pb.COMMUNICATION_STATUS_QUEUED)
    [text] = texts_to(fakes, phone)
    assert text.provider_message_id == note.provider_message_id
    # What happened, who, how good, and how to reach them.
    assert "Dana" in text.body
    assert "Score" in text.body
    assert lead.phone in text.body
    assert not note.template_reason
    assert emails_to(fakes, agent.email) == []


async def test_an_agent_who_prefers_email_gets_it_through_sendgrid(rig: tuple[Mesh, FakeProviders]) -> None:
    m, fakes = rig
    loc = f"loc-{uuid.uuid4()}"
    phone, address = unique_phone(), f"bo-{uuid.uuid4().hex[:8]}@example.com"
    agent = await add_agent(
        m, loc, phone=phone, email=address, notify_channel=routing_pb.AGENT_NOTIFY_CHANNEL_EMAIL
    )
    assert agent.notify_channel == routing_pb.AGENT_NOTIFY_CHANNEL_EMAIL
    lead = await new_lead(m, loc)
    [note] = await notes(m, lead.lead_id)
    assert (note.channel, note.status) == (EMAIL, pb.COMMUNICATION_STATUS_QUEUED)
    [mail] = emails_to(fakes, address)
    assert mail.communication_id == note.notification_id
    assert mail.details["subject"]
    assert texts_to(fakes, phone) == []


async def test_an_agent_who_turned_notifications_off_gets_none(rig: tuple[Mesh, FakeProviders]) -> None:
    m, fakes = rig
    loc = f"loc-{uuid.uuid4()}"
    phone = unique_phone()
    await add_agent(m, loc, phone=phone, notify_channel=routing_pb.AGENT_NOTIFY_CHANNEL_NONE)
    lead = await new_lead(m, loc)
    [note] = await notes(m, lead.lead_id)
    assert note.status == pb.COMMUNICATION_STATUS_BLOCKED
    assert "notify_channel NONE" in note.status_reason
    assert texts_to(fakes, phone) == []


async def test_a_preference_nothing_can_honour_is_refused(rig: tuple[Mesh, FakeProviders]) -> None:
    m, _ = rig
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await add_agent(
            m,
            f"loc-{uuid.uuid4()}",
            phone=unique_phone(),
            notify_channel=routing_pb.AGENT_NOTIFY_CHANNEL_EMAIL,
        )
    assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_reason(exc.value) == "INVALID_AGENT"


async def agent_texts(m: Mesh, phone: str, body: str) -> ingest_pb.WebhookResult:
    events = [twilio_inbound(phone, unique_phone(), body)]
    resp = await m.clients.ingest.RecordWebhook(ingest_pb.RecordWebhookRequest(events=events), timeout=10)
    [result] = resp.results
    return result


async def opted_out_numbers(dsn: str, phone: str) -> tuple[int, int]:
    """(agent text opt-outs, lead-side suppressions) of the number."""
    conn = await asyncpg.connect(dsn, server_settings={"search_path": "coordinator"})
    try:
        agent = await conn.fetchval("SELECT count(*) FROM agent_sms_opt_outs WHERE address = $1", phone)
        lead = await conn.fetchval(
            "SELECT count(*) FROM suppressions WHERE address = $1 AND lift_time IS NULL", phone
        )
    finally:
        await conn.close()
    return int(agent), int(lead)


async def test_agent_stop_moves_their_notifications_to_email_and_opts_no_lead_out(
    rig: tuple[Mesh, FakeProviders], own_dsn: str
) -> None:
    m, fakes = rig
    loc = f"loc-{uuid.uuid4()}"
    phone, address = unique_phone(), f"cy-{uuid.uuid4().hex[:8]}@example.com"
    await add_agent(m, loc, phone=phone, email=address)
    first = await new_lead(m, loc)
    await notes(m, first.lead_id)
    assert len(texts_to(fakes, phone)) == 1

    result = await agent_texts(m, phone, "STOP")
    assert (result.outcome, result.lead_id) == ("sender_only", "")
    await eventually(
        lambda: opted_out_numbers(own_dsn, phone), lambda n: n[0] == 1, "the agent's STOP recorded"
    )
    assert (await opted_out_numbers(own_dsn, phone))[1] == 0  # no lead suppression for it

    second = await new_lead(m, loc)
    [note] = await notes(m, second.lead_id)
    assert (note.channel, note.status) == (EMAIL, pb.COMMUNICATION_STATUS_QUEUED)
    assert "opted out of notification texts" in note.channel_reason
    assert len(texts_to(fakes, phone)) == 1  # nothing more by text
    assert len(emails_to(fakes, address)) == 1

    await agent_texts(m, phone, "START")
    await eventually(
        lambda: opted_out_numbers(own_dsn, phone), lambda n: n[0] == 0, "the agent's START recorded"
    )
    third = await new_lead(m, loc)
    [note] = await notes(m, third.lead_id)
    assert (note.channel, note.status) == (SMS, pb.COMMUNICATION_STATUS_QUEUED)
    assert len(texts_to(fakes, phone)) == 2


async def test_a_lead_stop_does_not_silence_the_agent(rig: tuple[Mesh, FakeProviders], own_dsn: str) -> None:
    m, fakes = rig
    loc = f"loc-{uuid.uuid4()}"
    phone = unique_phone()
    await add_agent(m, loc, phone=phone)
    lead = await new_lead(m, loc)
    await notes(m, lead.lead_id)
    await m.clients.ingest.RecordWebhook(
        ingest_pb.RecordWebhookRequest(events=[twilio_inbound(lead.phone, unique_phone(), "STOP")]),
        timeout=10,
    )
    # The lead's STOP is the lead's: their opt-out notice still reaches the agent by text.
    found = await notes(m, lead.lead_id, count=2)
    assert [n.channel for n in found] == [SMS, SMS]
    assert "opted out" in found[1].body
    assert len(texts_to(fakes, phone)) == 2
    assert (await opted_out_numbers(own_dsn, phone))[0] == 0


async def test_an_sla_breach_reaches_the_agent_who_missed_it_and_the_next_one(
    rig: tuple[Mesh, FakeProviders],
) -> None:
    m, fakes = rig
    loc = f"loc-{uuid.uuid4()}"
    await m.clients.routing.SetRoutingSettings(
        routing_pb.SetRoutingSettingsRequest(
            location_id=loc, settings=routing_pb.RoutingSettings(accept_sla_seconds=1, max_reassignments=1)
        ),
        timeout=5,
    )
    phones = {}
    for name in ("Ann Slow", "Bob Next"):
        agent = await add_agent(m, loc, name=name, phone=unique_phone())
        phones[agent.agent_id] = agent.phone
    lead = await new_lead(m, loc)
    found = await notes(m, lead.lead_id, count=3)
    first, second = found[0].agent_id, found[-1].agent_id
    assert first != second
    by_agent = {n.agent_id: n for n in found[1:]}
    breach = by_agent[first]
    assert "SLA missed" in breach.body
    assert "Dana" in breach.body
    assert "reassigned to you" in by_agent[second].body
    assert lead.phone in by_agent[second].body
    assert all(n.status == pb.COMMUNICATION_STATUS_QUEUED for n in found)
    assert len(texts_to(fakes, phones[first])) == 2  # the new lead, then the breach
    assert len(texts_to(fakes, phones[second])) == 1
