"""Agent notifications through the real senders against the local fake Twilio / SendGrid:
no credentials, provider failures, in-doubt calls reconciled from the provider's records,
a worker that died mid-send, and two sweepers racing. Real PostgreSQL, real HTTP."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import asyncpg
import pytest
from leadengine.coordinator.v1 import coordinator_service_pb2 as pb
from leadengine.routing.v1 import routing_service_pb2 as routing_pb

from cli import fake_providers
from cli.fake_providers import FakeProviders
from services.coordinator.app import create_notification_delivery
from services.coordinator.compliance.repository import ConsentRepository
from services.coordinator.delivery import providers
from services.coordinator.delivery.provider_config import ProviderConfig
from services.coordinator.delivery.reports import ReportHandler
from services.coordinator.delivery.repository import CommunicationRepository
from services.coordinator.delivery.senders import NO_CREDENTIALS
from services.coordinator.envelope import DeliveryReport, Envelope
from services.coordinator.journeys.repository import JourneyRepository
from services.coordinator.notifications import notifier
from services.coordinator.notifications.delivery import NotificationDelivery
from services.coordinator.notifications.notifier import AgentNotifier
from services.coordinator.notifications.repository import NotificationRepository, notification_from_row
from shared import db, timestamps
from tests.delivery import EMAIL, SMS, coordinator_database
from tests.journeys import unique_phone
from tests.support import service_config

LATER = timedelta(hours=1)


@dataclasses.dataclass
class Rig:
    conn: asyncpg.Connection
    fakes: FakeProviders
    database: db.Database
    delivery: NotificationDelivery
    notes: AgentNotifier
    cfg: Any
    # The provider as a call that went out before its caller died reaches it.
    twilio: providers.TwilioSender


@pytest.fixture(scope="module")
async def rig(postgres_url: str) -> AsyncIterator[Rig]:
    async with coordinator_database(postgres_url) as dsn, fake_providers.running_fakes() as (fakes, base):
        env = fake_providers.env_for(base, gateway_url="https://hooks.example.com") | {
            "COORDINATOR_PROVIDER_TIMEOUT_S": "0.5",
            "COORDINATOR_SEND_RETRY_BUDGET_S": "30",
            "COORDINATOR_SEND_BACKOFF_S": "0.01",
            "COORDINATOR_SEND_BACKOFF_MAX_S": "0.05",
        }
        cfg = service_config("coordinator", dsn, providers=ProviderConfig.from_env(env), scheduler_batch=100)
        pool = await db.create_pool(dsn, schema="coordinator", service="notify-test", max_size=8)
        http = providers.http_client(cfg.providers)
        database = db.Database(pool)
        delivery = create_notification_delivery(database, cfg, providers.build_senders(http, cfg.providers))
        conn = await asyncpg.connect(dsn, server_settings={"search_path": "coordinator"})
        try:
            notes = AgentNotifier(NotificationRepository(database), delivery)
            twilio = providers.TwilioSender(http, cfg.providers)
            yield Rig(conn, fakes, database, delivery, notes, cfg, twilio)
        finally:
            await conn.close()
            await http.aclose()
            await pool.close()


@pytest.fixture(autouse=True)
def clean_fakes(rig: Rig) -> None:
    for p in (rig.fakes.twilio, rig.fakes.sendgrid):
        p.faults.clear()
        p.revoked = False
        p.hang_s = 1.0
        p.delay_s = 0.0


def an_agent(*, email: bool = True) -> routing_pb.Agent:
    return routing_pb.Agent(
        agent_id=str(uuid.uuid4()),
        name="Ana Agent",
        phone=unique_phone(),
        email=f"ana-{uuid.uuid4().hex[:8]}@example.com" if email else "",
    )


async def notify(rig: Rig, agent: routing_pb.Agent, what: str = "New lead: Dana") -> uuid.UUID:
    lead_id = uuid.uuid4()
    await rig.notes.notify(
        agent_id=uuid.UUID(agent.agent_id),
        lead_id=lead_id,
        step_key="assigned",
        target=notifier.agent_target(agent),
        subject=what,
        body=f"{what} ({lead_id.hex[:8]}), score 80/100. Reach them at +15125550100.",
    )
    return lead_id


async def note_of(rig: Rig, lead_id: uuid.UUID) -> asyncpg.Record:
    row = await rig.conn.fetchrow("SELECT * FROM notifications WHERE lead_id = $1", lead_id)
    assert row is not None
    return row


async def note_by_id(rig: Rig, nid: uuid.UUID) -> asyncpg.Record:
    row = await rig.conn.fetchrow("SELECT * FROM notifications WHERE notification_id = $1", nid)
    assert row is not None
    return row


async def attempts_of(rig: Rig, notification_id: uuid.UUID) -> list[str]:
    rows = await rig.conn.fetch(
        "SELECT state FROM notification_attempts WHERE notification_id = $1 ORDER BY start_time",
        notification_id,
    )
    return [r["state"] for r in rows]


def texts_to(rig: Rig, phone: str) -> list[fake_providers.Receipt]:
    return [r for r in rig.fakes.twilio.receipts if r.to == phone]


async def sweep(rig: Rig) -> None:
    """The sweeper as it runs once every claim and backoff has lapsed."""
    await rig.delivery.run_once(now=timestamps.now() + LATER)


async def test_without_credentials_a_notification_is_simulated_not_sent(rig: Rig) -> None:
    bare = NotificationDelivery(
        rig.delivery.attempts, {}, rig.cfg.providers, lease=timedelta(seconds=60), clock=timestamps.now
    )
    notes = AgentNotifier(NotificationRepository(rig.database), bare)
    agent = an_agent()
    lead_id = uuid.uuid4()
    await notes.notify(
        agent_id=uuid.UUID(agent.agent_id),
        lead_id=lead_id,
        step_key="assigned",
        target=notifier.agent_target(agent),
        body="New lead",
    )
    row = await note_of(rig, lead_id)
    assert (row["channel"], row["status"], row["status_reason"]) == (
        SMS,
        pb.COMMUNICATION_STATUS_SIMULATED,
        NO_CREDENTIALS,
    )
    assert await attempts_of(rig, row["notification_id"]) == []
    assert texts_to(rig, agent.phone) == []


async def test_a_text_is_sent_once_with_its_status_callback(rig: Rig) -> None:
    agent = an_agent()
    lead_id = await notify(rig, agent)
    row = await note_of(rig, lead_id)
    [text] = texts_to(rig, agent.phone)
    assert row["status"] == pb.COMMUNICATION_STATUS_QUEUED
    assert row["provider_message_id"] == text.provider_message_id
    assert text.details["StatusCallback"] == "https://hooks.example.com/webhooks/twilio/status"
    await notify_again(rig, agent, lead_id)
    assert len(texts_to(rig, agent.phone)) == 1


async def notify_again(rig: Rig, agent: routing_pb.Agent, lead_id: uuid.UUID) -> None:
    """The same event redelivered: the same (lead, step_key)."""
    await rig.notes.notify(
        agent_id=uuid.UUID(agent.agent_id),
        lead_id=lead_id,
        step_key="assigned",
        target=notifier.agent_target(agent),
        body="New lead again",
    )


async def test_twilio_stop_block_is_the_agents_opt_out_and_email_takes_over(rig: Rig) -> None:
    agent = an_agent()
    rig.fakes.twilio.faults.append("21610")
    first = await note_of(rig, await notify(rig, agent))
    assert first["status"] == pb.COMMUNICATION_STATUS_FAILED
    assert "21610" in first["status_reason"]
    assert await rig.delivery.attempts.sms_opt_out(agent.phone)
    # No lead was touched: the agent's opt-out lives apart from leads' suppressions.
    assert await rig.conn.fetchval("SELECT count(*) FROM suppressions WHERE address = $1", agent.phone) == 0
    second = await note_of(rig, await notify(rig, agent))
    assert (second["channel"], second["status"]) == (EMAIL, pb.COMMUNICATION_STATUS_QUEUED)
    assert "21610" in second["channel_reason"]
    assert [
        r.to for r in rig.fakes.sendgrid.receipts if r.communication_id == str(second["notification_id"])
    ] == [agent.email]


async def test_opted_out_agent_without_email_is_blocked_with_the_reason(rig: Rig) -> None:
    agent = an_agent(email=False)
    await rig.delivery.attempts.stop_texts(agent.phone, uuid.UUID(agent.agent_id), "agent texted STOP")
    row = await note_of(rig, await notify(rig, agent))
    assert row["status"] == pb.COMMUNICATION_STATUS_BLOCKED
    assert "opted out of notification texts" in row["status_reason"]
    assert "no email" in row["status_reason"]
    assert texts_to(rig, agent.phone) == []


async def test_a_429_waits_for_the_sweeper_then_goes_once(rig: Rig) -> None:
    agent = an_agent()
    rig.fakes.twilio.faults.append("429")
    row = await note_of(rig, await notify(rig, agent))
    assert row["status"] == pb.COMMUNICATION_STATUS_SCHEDULED
    assert row["status_reason"].startswith("provider asked to retry later: Twilio")
    await sweep(rig)
    row = await note_of(rig, row["lead_id"])
    assert row["status"] == pb.COMMUNICATION_STATUS_QUEUED
    assert await attempts_of(rig, row["notification_id"]) == ["refused", "accepted"]
    assert len(texts_to(rig, agent.phone)) == 1


@pytest.mark.parametrize(("fault", "arrived"), [("500", False), ("500_accepted", True), ("timeout", True)])
async def test_an_in_doubt_call_is_settled_from_twilios_records(rig: Rig, fault: str, arrived: bool) -> None:
    agent = an_agent()
    rig.fakes.twilio.faults.append(fault)
    row = await note_of(rig, await notify(rig, agent))
    assert row["status"] == pb.COMMUNICATION_STATUS_SCHEDULED
    assert await attempts_of(rig, row["notification_id"]) == ["in_doubt"]
    assert len(texts_to(rig, agent.phone)) == (1 if arrived else 0)
    await sweep(rig)
    row = await note_of(rig, row["lead_id"])
    [text] = texts_to(rig, agent.phone)  # found when it had arrived, sent once when it had not
    assert row["status"] == pb.COMMUNICATION_STATUS_QUEUED
    assert row["provider_message_id"] == text.provider_message_id
    expected = ["accepted"] if arrived else ["absent", "accepted"]
    assert await attempts_of(rig, row["notification_id"]) == expected


async def pending_left_by_a_dead_worker(rig: Rig, agent: routing_pb.Agent, body: str) -> uuid.UUID:
    """A notification whose creator committed its 'sending' attempt and then died."""
    nid = await rig.conn.fetchval(
        "INSERT INTO notifications (agent_id, lead_id, step_key, channel, status, body, address,"
        " claim_token, claim_until) VALUES ($1, $2, 'assigned', $3, $4, $5, $6, $7, now() - interval '1 s')"
        " RETURNING notification_id",
        uuid.UUID(agent.agent_id),
        uuid.uuid4(),
        SMS,
        pb.COMMUNICATION_STATUS_SCHEDULED,
        body,
        agent.phone,
        uuid.uuid4(),
    )
    await rig.conn.execute(
        "INSERT INTO notification_attempts (attempt_id, notification_id, provider, state, start_time)"
        " VALUES ($1, $2, 'twilio', 'sending', now() - interval '1 min')",
        uuid.uuid4(),
        nid,
    )
    return uuid.UUID(str(nid))


@pytest.mark.parametrize("reached_twilio", [False, True])
async def test_a_worker_dying_mid_send_neither_loses_nor_repeats_it(rig: Rig, reached_twilio: bool) -> None:
    agent = an_agent()
    body = f"New lead for you: {uuid.uuid4().hex[:8]}"
    nid = await pending_left_by_a_dead_worker(rig, agent, body)
    if reached_twilio:  # the call had gone out before the crash
        note = notification_from_row(await note_by_id(rig, nid))
        assert (await rig.twilio.send(rig.delivery.outgoing(note))).provider_message_id
    await sweep(rig)
    [text] = texts_to(rig, agent.phone)
    row = await note_by_id(rig, nid)
    assert row["status"] == pb.COMMUNICATION_STATUS_QUEUED
    assert row["provider_message_id"] == text.provider_message_id


async def test_two_sweepers_racing_send_each_notification_once(rig: Rig) -> None:
    agents = [an_agent() for _ in range(20)]
    ids = [await pending_left_by_a_dead_worker(rig, a, f"Lead {i} is yours") for i, a in enumerate(agents)]
    await rig.conn.execute("DELETE FROM notification_attempts WHERE notification_id = ANY($1::uuid[])", ids)
    rig.fakes.twilio.delay_s = 0.02  # calls overlap
    await asyncio.gather(sweep(rig), sweep(rig))
    for agent in agents:
        assert len(texts_to(rig, agent.phone)) == 1
    statuses = await rig.conn.fetch(
        "SELECT status FROM notifications WHERE notification_id = ANY($1::uuid[])", ids
    )
    assert {r["status"] for r in statuses} == {pb.COMMUNICATION_STATUS_QUEUED}


def status_report(provider_message_id: str, status: str, error_code: str = "") -> Envelope:
    return Envelope(
        event_id=str(uuid.uuid4()),
        kind=pb.LEAD_EVENT_KIND_DELIVERY_STATUS,
        lead_id=None,
        location_id="",
        delivery=DeliveryReport(provider_message_id, status, error_code, SMS),
    )


async def test_status_callbacks_move_a_notification_and_a_stop_block_is_the_agents(rig: Rig) -> None:
    reports = ReportHandler(
        CommunicationRepository(rig.database),
        ConsentRepository(rig.database),
        JourneyRepository(rig.database),
        notifications=rig.delivery.attempts,
    )
    agent = an_agent()
    row = await note_of(rig, await notify(rig, agent))
    sid = row["provider_message_id"]
    await reports.delivery(status_report(sid, "sent"))
    await reports.delivery(status_report(sid, "delivered"))
    assert (await note_of(rig, row["lead_id"]))["status"] == pb.COMMUNICATION_STATUS_DELIVERED
    other = await note_of(rig, await notify(rig, an_agent()))
    await reports.delivery(status_report(other["provider_message_id"], "undelivered", "21610"))
    assert (await note_of(rig, other["lead_id"]))["status"] == pb.COMMUNICATION_STATUS_UNDELIVERED
    assert await rig.delivery.attempts.sms_opt_out(other["address"])
    assert (
        await rig.conn.fetchval("SELECT count(*) FROM suppressions WHERE address = $1", other["address"]) == 0
    )
