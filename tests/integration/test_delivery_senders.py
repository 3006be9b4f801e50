"""Real senders against local fake Twilio / SendGrid / HighLevel servers: wire formats,
provider failures, reconciliation of in-doubt calls, the send-time re-check under the
row lock, and two schedulers racing. Real PostgreSQL, real HTTP, the real scheduler."""

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

from cli import fake_providers
from cli.fake_providers import FakeProviders
from services.coordinator.app import create_dispatcher, create_scheduler
from services.coordinator.compliance import reply_keys
from services.coordinator.compliance.replies import ComplianceReplies, ReplyTexts
from services.coordinator.compliance.repository import REPORT, ConsentRepository, Revocation
from services.coordinator.delivery import providers
from services.coordinator.delivery.attempts import AttemptRepository
from services.coordinator.delivery.dispatch import Dispatcher
from services.coordinator.delivery.dnd_writeback import DndWriteback
from services.coordinator.delivery.provider_config import ProviderConfig
from services.coordinator.delivery.repository import CommunicationRepository
from services.coordinator.delivery.scheduler import Scheduler
from shared import db, timestamps, unsubscribe
from tests.delivery import EMAIL, SMS, coordinator_database, local_noon, seed_message, set_provider, statuses
from tests.support import service_config

KEY = "test-unsubscribe-key"


@dataclasses.dataclass
class Rig:
    dsn: str
    conn: asyncpg.Connection
    fakes: FakeProviders
    scheduler: Scheduler
    dispatcher: Dispatcher
    database: db.Database
    http: Any
    dispatcher_cfg: ProviderConfig


@pytest.fixture(scope="module")
async def rig(postgres_url: str) -> AsyncIterator[Rig]:
    async with coordinator_database(postgres_url) as dsn, fake_providers.running_fakes() as (fakes, base):
        env = fake_providers.env_for(base, gateway_url="https://hooks.example.com")
        env |= {
            "UNSUBSCRIBE_SIGNING_KEY": KEY,
            "COORDINATOR_PROVIDER_TIMEOUT_S": "0.5",
            "COORDINATOR_SEND_RETRY_BUDGET_S": "2",
            "COORDINATOR_SEND_BACKOFF_S": "0.01",
            "COORDINATOR_SEND_BACKOFF_MAX_S": "0.05",
        }
        cfg = service_config("coordinator", dsn, providers=ProviderConfig.from_env(env), scheduler_batch=100)
        pool = await db.create_pool(dsn, schema="coordinator", service="delivery-test", max_size=6)
        http = providers.http_client(cfg.providers)
        database = db.Database(pool)
        dispatcher = create_dispatcher(database, cfg, providers.build_senders(http, cfg.providers))
        conn = await asyncpg.connect(dsn, server_settings={"search_path": "coordinator"})
        try:
            scheduler = create_scheduler(database, cfg, dispatcher=dispatcher)
            yield Rig(dsn, conn, fakes, scheduler, dispatcher, database, http, cfg.providers)
        finally:
            await conn.close()
            await http.aclose()
            await pool.close()


@pytest.fixture(autouse=True)
def clean_fakes(rig: Rig) -> None:
    for p in (rig.fakes.twilio, rig.fakes.sendgrid, rig.fakes.highlevel):
        p.faults.clear()
        p.revoked = False
        p.calls = 0
        p.hang_s = 1.0


NOON = local_noon("America/Chicago")
DUE = NOON - timedelta(minutes=1)


def receipts_for(fakes: FakeProviders, to: str) -> list[fake_providers.Receipt]:
    return [r for r in fakes.receipts if r.to == to]


async def sent_once(rig: Rig, cid: uuid.UUID) -> fake_providers.Receipt:
    """Run the scheduler; the message must be QUEUED under the id of its one receipt."""
    await rig.scheduler.run_once(now=NOON)
    row = (await statuses(rig.conn, [cid]))[cid]
    to = await rig.conn.fetchval("SELECT address FROM communications WHERE communication_id = $1", cid)
    got = receipts_for(rig.fakes, to)
    assert len(got) == 1
    assert row["status"] == pb.COMMUNICATION_STATUS_QUEUED
    assert row["provider_message_id"] == got[0].provider_message_id
    return got[0]


async def test_twilio_text_is_sent_once_and_its_sid_stored(rig: Rig) -> None:
    cid = await seed_message(rig.conn, channel=SMS, due=DUE)
    got = await sent_once(rig, cid)
    assert got.details["From"] == "+15125550199"
    assert got.details["StatusCallback"] == "https://hooks.example.com/webhooks/twilio/status"


async def test_sendgrid_email_carries_its_id_and_one_click_unsubscribe(rig: Rig) -> None:
    cid = await seed_message(rig.conn, channel=EMAIL, due=DUE)
    await rig.scheduler.run_once(now=NOON)
    row = (await statuses(rig.conn, [cid]))[cid]
    got = [r for r in rig.fakes.sendgrid.receipts if r.communication_id == str(cid)]
    assert len(got) == 1
    assert row["status"] == pb.COMMUNICATION_STATUS_QUEUED
    assert row["provider_message_id"] == got[0].provider_message_id
    headers = got[0].details["headers"]
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = headers["List-Unsubscribe"].strip("<>")
    assert url in got[0].body  # the footer link too
    token = url.rsplit("/", 1)[1]
    lead_id = await rig.conn.fetchval("SELECT lead_id FROM communications WHERE communication_id = $1", cid)
    assert unsubscribe.verify(token, KEY) == unsubscribe.Unsubscribe(lead_id, EMAIL, "loc-delivery")


async def test_location_setting_sends_through_highlevel(rig: Rig) -> None:
    await set_provider(rig.conn, "loc-hl", sms="highlevel", email="highlevel")
    sms = await seed_message(rig.conn, channel=SMS, due=DUE, location_id="loc-hl", contact_id="ct-1")
    mail = await seed_message(rig.conn, channel=EMAIL, due=DUE, location_id="loc-hl", contact_id="ct-2")
    await rig.scheduler.run_once(now=NOON)
    rows = await statuses(rig.conn, [sms, mail])
    by_contact = {r.contact_id: r for r in rig.fakes.highlevel.receipts}
    assert by_contact["ct-1"].details["type"] == "SMS"
    assert by_contact["ct-2"].details["type"] == "Email"
    assert rows[sms]["provider_message_id"] == by_contact["ct-1"].provider_message_id
    assert rows[mail]["provider_message_id"] == by_contact["ct-2"].provider_message_id


async def test_credentials_revoked_mid_run_fail_messages_without_retrying(rig: Rig) -> None:
    before = await seed_message(rig.conn, channel=SMS, due=DUE)
    await rig.scheduler.run_once(now=NOON)
    rig.fakes.twilio.revoked = True
    first = await seed_message(rig.conn, channel=SMS, due=DUE)
    second = await seed_message(rig.conn, channel=SMS, due=DUE)
    await rig.scheduler.run_once(now=NOON)
    rows = await statuses(rig.conn, [before, first, second])
    assert rows[before]["status"] == pb.COMMUNICATION_STATUS_QUEUED
    for cid in (first, second):
        assert rows[cid]["status"] == pb.COMMUNICATION_STATUS_FAILED
        assert rows[cid]["status_reason"].startswith("Twilio 20003")
    assert rig.fakes.twilio.calls == 3  # one call each, never retried


async def test_twilio_21610_fails_the_message_and_opts_the_number_out(rig: Rig) -> None:
    rig.fakes.twilio.faults.append("21610")
    cid = await seed_message(rig.conn, channel=SMS, due=DUE)
    await rig.scheduler.run_once(now=NOON)
    row = (await statuses(rig.conn, [cid]))[cid]
    assert row["status"] == pb.COMMUNICATION_STATUS_FAILED
    assert row["status_reason"].startswith("Twilio 21610")
    lead_id = await rig.conn.fetchval("SELECT lead_id FROM communications WHERE communication_id = $1", cid)
    assert await rig.conn.fetchval("SELECT sms_opted_out FROM consents WHERE lead_id = $1", lead_id)


async def test_429_and_500_are_retried_until_accepted_once(rig: Rig) -> None:
    rig.fakes.twilio.faults.extend(["429", "500", "slow"])
    await sent_once(rig, await seed_message(rig.conn, channel=SMS, due=DUE))
    assert rig.fakes.twilio.calls == 3


@pytest.mark.parametrize("fault", ["500_accepted", "timeout"])
@pytest.mark.parametrize("channel", [SMS, EMAIL])
async def test_a_lost_answer_is_found_at_the_provider_not_sent_again(
    rig: Rig, fault: str, channel: int
) -> None:
    provider = rig.fakes.twilio if channel == SMS else rig.fakes.sendgrid
    provider.faults.append(fault)
    cid = await seed_message(rig.conn, channel=channel, due=DUE)  # type: ignore[arg-type]
    await sent_once(rig, cid)
    assert provider.calls == 1


async def test_retries_stop_at_the_budget_with_a_truthful_failure(rig: Rig) -> None:
    rig.fakes.sendgrid.faults.extend(["429"] * 500)
    cid = await seed_message(rig.conn, channel=EMAIL, due=DUE)
    await rig.scheduler.run_once(now=NOON)
    row = (await statuses(rig.conn, [cid]))[cid]
    assert row["status"] == pb.COMMUNICATION_STATUS_FAILED
    assert row["status_reason"].startswith("gave up after")
    assert not [r for r in rig.fakes.sendgrid.receipts if r.communication_id == str(cid)]


async def test_an_opt_out_after_the_claim_stops_the_send(rig: Rig) -> None:
    cid = await seed_message(rig.conn, channel=SMS, due=DUE)
    claimed = [
        c
        for c in await CommunicationRepository(rig.database).claim_due(NOON, NOON + timedelta(minutes=1), 100)
        if c.communication_id == cid
    ]
    assert len(claimed) == 1
    await ConsentRepository(rig.database).revoke(
        Revocation(
            channel=SMS,
            address=claimed[0].address,
            lead_id=claimed[0].lead_id,
            source=REPORT,
            reason="test opt-out",
            block_reason="lead opted out (test)",
            at=NOON,
        )
    )
    done = await rig.dispatcher.dispatch(claimed[0], NOON)
    assert done.status == pb.COMMUNICATION_STATUS_BLOCKED
    assert not receipts_for(rig.fakes, claimed[0].address)


async def test_a_call_left_open_by_a_dead_worker_is_reconciled(rig: Rig) -> None:
    """One worker dies after the provider took the message, another after committing
    'sending' but before calling: the first is found, the second is sent, each once."""
    attempts = AttemptRepository(rig.database)
    repo = CommunicationRepository(rig.database)
    arrived = await seed_message(rig.conn, channel=SMS, due=DUE)
    never = await seed_message(rig.conn, channel=SMS, due=DUE)
    claimed = {c.communication_id: c for c in await repo.claim_due(NOON, NOON + timedelta(seconds=30), 100)}
    for cid in (arrived, never):
        begin = await attempts.begin(
            cid, claimed[cid].claim_token, NOON, lambda held: rig.dispatcher._decide(held, NOON)
        )
        assert begin.attempt is not None
        assert begin.held is not None
        if cid == arrived:
            answer = await rig.dispatcher._senders["twilio"].send(rig.dispatcher.outgoing(begin.held))
            assert answer.verdict is providers.Verdict.ACCEPTED
    # Neither is claimable while its call is open, even after the lease has run out...
    later = NOON + timedelta(minutes=5)
    assert not [c for c in await repo.claim_due(later, later, 100) if c.communication_id in (arrived, never)]
    # ...until the scheduler's reconciler has asked Twilio.
    await rig.scheduler.run_once(now=later)
    await rig.scheduler.run_once(now=later)
    rows = await statuses(rig.conn, [arrived, never])
    for cid in (arrived, never):
        got = receipts_for(rig.fakes, claimed[cid].address)
        assert len(got) == 1, cid
        assert rows[cid]["status"] == pb.COMMUNICATION_STATUS_QUEUED
        assert rows[cid]["provider_message_id"] == got[0].provider_message_id


async def test_two_schedulers_racing_send_each_message_once(rig: Rig) -> None:
    ids = [await seed_message(rig.conn, channel=EMAIL, due=DUE) for _ in range(30)]
    pool = await db.create_pool(rig.dsn, schema="coordinator", service="delivery-test-2", max_size=4)
    try:
        cfg = service_config("coordinator", rig.dsn, providers=rig.dispatcher._cfg, scheduler_batch=7)
        other_db = db.Database(pool)
        other = create_scheduler(
            other_db, cfg, dispatcher=create_dispatcher(other_db, cfg, rig.dispatcher._senders)
        )
        for _ in range(6):
            await asyncio.gather(rig.scheduler.run_once(now=NOON), other.run_once(now=NOON))
    finally:
        await pool.close()
    rows = await statuses(rig.conn, ids)
    assert {r["status"] for r in rows.values()} == {pb.COMMUNICATION_STATUS_QUEUED}
    sent = [r.communication_id for r in rig.fakes.sendgrid.receipts if uuid.UUID(r.communication_id) in ids]
    assert sorted(sent) == sorted(str(i) for i in ids)


async def test_the_opt_out_confirmation_reaches_the_provider_once_though_the_lead_opted_out(rig: Rig) -> None:
    """The lead's STOP asked for it: it passes no consent gate, goes through the same
    exactly-once path as everything else, and a redelivered STOP sends nothing more."""
    cid = await seed_message(rig.conn, channel=SMS, due=DUE)
    lead_id, phone = await rig.conn.fetchrow(
        "SELECT lead_id, address FROM communications WHERE communication_id = $1", cid
    )
    await rig.conn.execute("UPDATE consents SET sms_opted_out = true WHERE lead_id = $1", lead_id)
    communications = CommunicationRepository(rig.database)
    answering = await communications.find_step(lead_id, "test")  # the seeded message
    assert answering is not None
    replies = ComplianceReplies(
        communications,
        rig.dispatcher,
        ReplyTexts("{brand}: you are unsubscribed.", "{brand}: help.", "Acme Realty"),
        timestamps.now,
        lease=timedelta(seconds=60),
    )
    for _ in range(2):  # the STOP is delivered twice
        confirmation = await replies.confirm_opt_out(lead_id, None, phone, answering, timestamps.now())
        assert confirmation is not None
        assert confirmation.status == pb.COMMUNICATION_STATUS_QUEUED
    (got,) = receipts_for(rig.fakes, phone)
    assert got.body == "Acme Realty: you are unsubscribed."
    assert confirmation.provider_message_id == got.provider_message_id
    # Anything else to that number is still refused at send time.
    await rig.scheduler.run_once(now=NOON)
    assert (await statuses(rig.conn, [cid]))[cid]["status"] == pb.COMMUNICATION_STATUS_BLOCKED
    assert len(receipts_for(rig.fakes, phone)) == 1


async def test_a_confirmation_found_later_than_five_minutes_is_never_sent(rig: Rig) -> None:
    cid = await seed_message(rig.conn, channel=SMS, due=DUE)
    row = await rig.conn.fetchrow(
        "SELECT lead_id, address FROM communications WHERE communication_id = $1", cid
    )
    late = await rig.conn.fetchval(
        "INSERT INTO communications (lead_id, step_key, channel, direction, status, body, address,"
        " scheduled_time, create_time) VALUES ($1, $2, $3, $4, $5, 'unsubscribed', $6, $7, $8)"
        " RETURNING communication_id",
        row["lead_id"],
        f"{reply_keys.CONFIRMATION_KEY}:{uuid.uuid4()}",
        SMS,
        pb.DIRECTION_OUTBOUND,
        pb.COMMUNICATION_STATUS_SCHEDULED,
        row["address"],
        NOON - timedelta(minutes=10),
        NOON - timedelta(minutes=10),
    )
    await rig.scheduler.run_once(now=NOON)  # e.g. a worker died after recording it
    got = (await statuses(rig.conn, [late]))[late]
    assert (got["status"], got["status_reason"]) == (pb.COMMUNICATION_STATUS_BLOCKED, reply_keys.TOO_LATE)
    assert [r for r in receipts_for(rig.fakes, row["address"]) if r.body == "unsubscribed"] == []


async def test_an_opt_out_is_written_back_to_highlevel_as_dnd_once(rig: Rig) -> None:
    """A location that texts through HighLevel: the lead's contact gets DND for SMS, once,
    after a provider hiccup; a location on Twilio has nothing written back."""
    writer = DndWriteback(
        rig.database,
        rig.http,
        rig.dispatcher_cfg,
        poll_s=1.0,
        lease=timedelta(seconds=30),
        clock=timestamps.now,
    )
    ghl_loc, twilio_loc = f"loc-ghl-{uuid.uuid4().hex[:6]}", f"loc-tw-{uuid.uuid4().hex[:6]}"
    await set_provider(rig.conn, ghl_loc, sms="highlevel")
    contact = f"ct-{uuid.uuid4().hex[:10]}"
    leads = {}
    for loc, ct in ((ghl_loc, contact), (twilio_loc, f"ct-{uuid.uuid4().hex[:10]}")):
        cid = await seed_message(rig.conn, channel=SMS, location_id=loc, contact_id=ct)
        row = await rig.conn.fetchrow(
            "SELECT lead_id, address FROM communications WHERE communication_id = $1", cid
        )
        leads[loc] = row
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
    rig.fakes.highlevel.faults.append("500")  # the first call fails: retried, not lost
    await writer.run_once(now=NOON)
    assert [c for c, _ in rig.fakes.dnd_updates if c == contact] == []
    await writer.run_once(now=NOON + timedelta(minutes=5))  # past the backoff
    mine = [body for c, body in rig.fakes.dnd_updates if c == contact]
    assert len(mine) == 1
    assert mine[0]["dndSettings"]["SMS"]["status"] == "active"
    await writer.run_once(now=NOON + timedelta(hours=1))  # done: never again
    assert len([c for c, _ in rig.fakes.dnd_updates if c == contact]) == 1
    twilio_lead = leads[twilio_loc]["lead_id"]
    written = await rig.conn.fetchval(
        "SELECT count(*) FROM dnd_writebacks w JOIN consent_ledger l USING (entry_id) WHERE l.lead_id = $1",
        twilio_lead,
    )
    assert written == 0
