"""Compliance through gRPC against real Postgres: the record of every send, export
paging, frequency caps, held-for-review texts, HELP, phrase revocations, the late
confirmation, the per-number cap across leads and locations, and SimulateCadence."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from google.protobuf import duration_pb2, field_mask_pb2
from leadengine.common.v1 import common_pb2
from leadengine.coordinator.v1 import coordinator_service_pb2 as pb
from leadengine.ingest.v1 import ingest_service_pb2 as ingest_pb

from services.coordinator.app import create_checks
from services.coordinator.compliance import gates, replies
from services.coordinator.compliance.checks import ComplianceChecks
from services.coordinator.compliance.gates import Action, ContactFacts
from shared import db, timestamps
from tests.journeys import (
    DAY_HOURS,
    TOLL_FREE,
    add_agent,
    add_lead,
    comms_of,
    eventually,
    handle,
    inbound,
    notes_of,
    settled_first_touch,
    started_lead,
    unique_phone,
    zone_where,
)
from tests.support import Mesh, error_reason, field_violations, location_of, service_config

SMS = common_pb2.CHANNEL_SMS
EMAIL = common_pb2.CHANNEL_EMAIL
SCHEDULED = pb.COMMUNICATION_STATUS_SCHEDULED
BLOCKED = pb.COMMUNICATION_STATUS_BLOCKED
MIAMI = "+13055550142"  # a Florida number: at most 3 texts per 24 h, whoever sends them
# Monday 2026-06-15 16:00 UTC: noon in Miami.
MONDAY_NOON_EAST = datetime(2026, 6, 15, 16, 0, tzinfo=UTC)


async def record_of(m: Mesh, touch: pb.Communication) -> pb.ComplianceRecord:
    resp = await m.clients.coordinator.GetComplianceRecord(
        pb.GetComplianceRecordRequest(
            communication_id=touch.communication_id, location_id=await location_of(m, touch.lead_id)
        ),
        timeout=5,
    )
    return resp.record


# -- proof per send -------------------------------------------------------------


async def test_a_first_touch_carries_its_compliance_record(m: Mesh) -> None:
    lead = await started_lead(m)
    touch = await settled_first_touch(m, lead.lead_id)
    assert touch.status == pb.COMMUNICATION_STATUS_SIMULATED
    record = await record_of(m, touch)
    assert (record.lead_id, record.location_id, record.channel) == (lead.lead_id, lead.location_id, SMS)
    assert (record.decision, record.address, record.step_key) == ("send", lead.phone, "first_touch")
    assert record.consent_entry_id > 0  # the ledger entry of the lead-record basis
    assert {g.gate: g.verdict for g in record.gates} == {
        "suppression": "pass",
        "opt_out": "pass",
        "consent": "pass",
        "address": "pass",
        "recipient_zone": "pass",
        "time_window": "pass",
        "frequency_cap": "pass",
        "state_cap": "not applicable",
    }
    assert list(record.recipient.zones) == [lead.timezone]
    assert any("the lead's time zone" in why for why in record.recipient.reasons)
    assert record.rules_version
    assert record.HasField("send_time")
    assert record.evaluations == 1


async def test_records_page_oldest_first_for_export(m: Mesh) -> None:
    loc = f"loc-{uuid.uuid4()}"
    await add_agent(m, loc)
    leads = [
        await add_lead(m, loc, phone=unique_phone(), timezone=zone_where(DAY_HOURS), sms_consent=True)
        for _ in range(3)
    ]
    for lead in leads:
        await settled_first_touch(m, lead.lead_id)
    start = timestamps.to_proto(datetime.now(UTC) - timedelta(hours=1))
    end = timestamps.to_proto(datetime.now(UTC) + timedelta(hours=1))
    seen: list[pb.ComplianceRecord] = []
    token = ""
    while True:
        resp = await m.clients.coordinator.ListComplianceRecords(
            pb.ListComplianceRecordsRequest(
                location_id=loc, start_time=start, end_time=end, page_size=2, page_token=token
            ),
            timeout=5,
        )
        seen.extend(resp.records)
        token = resp.next_page_token
        if not token:
            break
    assert {r.lead_id for r in seen} == {lead.lead_id for lead in leads}
    times = [timestamps.from_proto(r.evaluate_time) for r in seen]
    assert times == sorted(times)  # type: ignore[type-var]
    assert all(r.communication_id for r in seen if r.step_key == "first_touch")


async def test_bad_record_requests_are_refused(m: Mesh) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await m.clients.coordinator.GetComplianceRecord(
            pb.GetComplianceRecordRequest(communication_id=str(uuid.uuid4()), location_id="loc-never-stored"),
            timeout=5,
        )
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    assert error_reason(err.value) == "COMPLIANCE_RECORD_NOT_FOUND"
    now = timestamps.to_proto(datetime.now(UTC))
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await m.clients.coordinator.ListComplianceRecords(
            pb.ListComplianceRecordsRequest(location_id="loc", start_time=now, end_time=now), timeout=5
        )
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field_violations(err.value) == ["end_time"]


# -- frequency caps -------------------------------------------------------------


async def test_frequency_caps_default_then_set(m: Mesh) -> None:
    loc = f"loc-{uuid.uuid4()}"
    got = await m.clients.coordinator.GetFrequencyCaps(pb.GetFrequencyCapsRequest(location_id=loc), timeout=5)
    assert (got.caps.sms_per_day, got.caps.sms_per_week) == (2, 5)
    caps = pb.FrequencyCaps(sms_per_day=1, sms_per_week=3, email_per_day=1, email_per_week=2)
    await m.clients.coordinator.SetFrequencyCaps(
        pb.SetFrequencyCapsRequest(location_id=loc, caps=caps), timeout=5
    )
    got = await m.clients.coordinator.GetFrequencyCaps(pb.GetFrequencyCapsRequest(location_id=loc), timeout=5)
    assert got.caps == caps
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await m.clients.coordinator.SetFrequencyCaps(
            pb.SetFrequencyCapsRequest(
                location_id=loc,
                caps=pb.FrequencyCaps(sms_per_day=5, sms_per_week=2, email_per_day=1, email_per_week=1),
            ),
            timeout=5,
        )
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field_violations(err.value) == ["caps.sms_per_week"]
    got = await m.clients.coordinator.GetFrequencyCaps(pb.GetFrequencyCapsRequest(location_id=loc), timeout=5)
    assert got.caps == caps  # the bad request changed nothing


# -- held for review ------------------------------------------------------------


async def test_unknown_zone_holds_the_text_tells_the_agent_and_releases_it_once_known(m: Mesh) -> None:
    loc = f"loc-{uuid.uuid4()}"
    await add_agent(m, loc, phone="+12125550123")
    lead = await add_lead(m, loc, phone=TOLL_FREE, sms_consent=True, first_name="Hal")
    touch = await settled_first_touch(m, lead.lead_id)
    assert (touch.status, touch.status_reason) == (SCHEDULED, gates.ZONE_UNKNOWN)
    assert not touch.HasField("scheduled_time")
    record = await record_of(m, touch)
    assert record.decision == "hold"
    assert list(record.recipient.zones) == []
    notes = await eventually(
        lambda: notes_of(m, lead.lead_id),
        lambda ns: any("held" in n.body for n in ns),
        "the held-for-review notice",
    )
    assert any(lead.phone in n.body for n in notes if "held" in n.body)

    await m.clients.ingest.UpsertLead(
        ingest_pb.UpsertLeadRequest(
            lead=ingest_pb.Lead(lead_id=lead.lead_id, location_id=loc, timezone="America/Chicago"),
            update_mask=field_mask_pb2.FieldMask(paths=["timezone"]),
            request_id=str(uuid.uuid4()),
        ),
        timeout=5,
    )
    comms = await eventually(
        lambda: comms_of(m, lead.lead_id),
        lambda cs: any(
            c.communication_id == touch.communication_id and c.HasField("scheduled_time") for c in cs
        ),
        "the held text to be due again",
    )
    released = next(c for c in comms if c.communication_id == touch.communication_id)
    assert released.status in (SCHEDULED, pb.COMMUNICATION_STATUS_SIMULATED)


# -- inbound: HELP, phrases, the confirmation -----------------------------------


async def test_help_is_answered_with_the_help_text(m: Mesh) -> None:
    lead = await started_lead(m)
    await handle(m, inbound(lead, "HELP"))
    comms = await comms_of(m, lead.lead_id)
    answers = [c for c in comms if c.direction == pb.DIRECTION_OUTBOUND and "Msg & data rates" in c.body]
    assert [(a.status, a.address) for a in answers] == [(pb.COMMUNICATION_STATUS_SIMULATED, lead.phone)]
    consent = await m.clients.coordinator.GetConsent(
        pb.GetConsentRequest(lead_id=lead.lead_id, location_id=lead.location_id), timeout=5
    )
    assert not consent.consent.sms_opted_out


async def test_help_names_the_locations_own_brand(m: Mesh) -> None:
    loc = f"loc-{uuid.uuid4()}"
    await m.clients.ingest.UpdateLocation(
        ingest_pb.UpdateLocationRequest(
            location=ingest_pb.Location(location_id=loc, brand_name="Harbor Homes"),
            update_mask=field_mask_pb2.FieldMask(paths=["brand_name"]),
            request_id=str(uuid.uuid4()),
        ),
        timeout=5,
    )
    lead = await started_lead(m, location=loc)
    await handle(m, inbound(lead, "INFO"))
    answers = [c for c in await comms_of(m, lead.lead_id) if "Msg & data rates" in c.body]
    assert [a.body.split(":")[0] for a in answers] == ["Harbor Homes"]


async def test_a_revocation_in_other_words_opts_out_and_is_confirmed_once(m: Mesh) -> None:
    lead = await started_lead(m)
    sid = f"SM{uuid.uuid4().hex}"
    for _ in range(2):  # redelivered: still one confirmation
        await handle(m, inbound(lead, "please stop texting me", sid=sid))
    consent = await m.clients.coordinator.GetConsent(
        pb.GetConsentRequest(lead_id=lead.lead_id, location_id=lead.location_id), timeout=5
    )
    assert consent.consent.sms_opted_out
    comms = await comms_of(m, lead.lead_id)
    [received] = [c for c in comms if c.direction == pb.DIRECTION_INBOUND]
    assert received.status_reason == "opt-out phrase 'stop texting': SMS revoked"
    confirmations = [c for c in comms if "unsubscribed" in c.body]
    assert [c.status for c in confirmations] == [pb.COMMUNICATION_STATUS_SIMULATED]
    # A second STOP later: already opted out, so no second confirmation.
    await handle(m, inbound(lead, "STOP"))
    assert len([c for c in await comms_of(m, lead.lead_id) if "unsubscribed" in c.body]) == 1


async def test_no_confirmation_for_an_opt_out_older_than_five_minutes(m: Mesh) -> None:
    lead = await started_lead(m)
    old = timestamps.to_proto(datetime.now(UTC) - timedelta(minutes=6))
    await handle(m, inbound(lead, "Stop please", occurred_time=old))
    comms = await comms_of(m, lead.lead_id)
    [late] = [c for c in comms if "unsubscribed" in c.body]
    assert (late.status, late.status_reason) == (BLOCKED, replies.TOO_LATE)


async def test_a_message_merely_containing_a_keyword_does_not_opt_out(m: Mesh) -> None:
    lead = await started_lead(m)
    await handle(m, inbound(lead, "Can you cancel my showing?"))
    consent = await m.clients.coordinator.GetConsent(
        pb.GetConsentRequest(lead_id=lead.lead_id, location_id=lead.location_id), timeout=5
    )
    assert not consent.consent.sms_opted_out


# -- the per-number cap in production -------------------------------------------


@pytest.fixture(scope="module")
async def checks(migrated_dsn: str) -> AsyncIterator[ComplianceChecks]:
    pool = await db.create_pool(migrated_dsn, schema="coordinator", service="coordinator-test", max_size=2)
    try:
        yield create_checks(db.Database(pool), service_config("coordinator", migrated_dsn))
    finally:
        await pool.close()


async def test_three_texts_per_24h_to_a_florida_number_across_leads_and_locations(
    checks: ComplianceChecks,
) -> None:
    phone = f"+1305{uuid.uuid4().int % 8_000_000 + 2_000_000}"
    facts = ContactFacts(phone=phone, sms_consent=True)
    leads = [(uuid.uuid4(), f"loc-{uuid.uuid4()}") for _ in range(2)]
    decisions = []
    for n in range(4):
        lead_id, location = leads[n % 2]
        evaluation = await checks.check(
            lead_id=lead_id,
            location_id=location,
            step_key=f"step:{n}",
            channel=SMS,
            address=phone,
            facts=facts,
            now=MONDAY_NOON_EAST + timedelta(minutes=10 * n),
        )
        decisions.append(evaluation.decision)
    assert [d.action for d in decisions] == [Action.SEND, Action.SEND, Action.SEND, Action.SCHEDULE]
    assert decisions[3].scheduled_time == MONDAY_NOON_EAST + timedelta(hours=24)
    assert "FL cap 3" in decisions[3].reason


# -- SimulateCadence ------------------------------------------------------------


def _step(hours: float, channel: int = SMS) -> pb.CadenceStep:
    return pb.CadenceStep(delay=duration_pb2.Duration(seconds=int(hours * 3600)), channel=channel)


async def simulate(m: Mesh, **kw: object) -> list[pb.PlannedMessage]:
    resp = await m.clients.coordinator.SimulateCadence(pb.SimulateCadenceRequest(**kw), timeout=30)  # type: ignore[arg-type]
    return list(resp.planned)


async def test_simulation_shares_the_florida_cap_between_leads_with_one_phone(m: Mesh) -> None:
    loc = f"loc-{uuid.uuid4()}"
    await m.clients.coordinator.SetFrequencyCaps(
        pb.SetFrequencyCapsRequest(
            location_id=loc,
            caps=pb.FrequencyCaps(sms_per_day=10, sms_per_week=50, email_per_day=1, email_per_week=1),
        ),
        timeout=5,
    )
    lead = ingest_pb.Lead(phone=MIAMI, sms_consent=True)
    planned = await simulate(
        m,
        location_id=loc,
        cadence=pb.Cadence(steps=[_step(0), _step(1), _step(2)]),
        leads=[lead, lead],
        start_time=timestamps.to_proto(MONDAY_NOON_EAST),
        horizon_days=3,
    )
    sent = sorted(
        (timestamps.from_proto(p.send_time), p.lead_index, p.step_index)
        for p in planned
        if p.HasField("send_time")
    )
    assert len(sent) == 6
    assert {p.status for p in planned} == {SCHEDULED}
    for at, _, _ in sent:  # never more than 3 in any 24 h
        assert sum(1 for other, _, _ in sent if at - timedelta(hours=24) < other <= at) <= 3
    assert [s[0] for s in sent[:3]] == [
        MONDAY_NOON_EAST,
        MONDAY_NOON_EAST,
        MONDAY_NOON_EAST + timedelta(hours=1),
    ]
    assert sent[3][0] == MONDAY_NOON_EAST + timedelta(hours=24)
    assert any("FL cap 3" in p.reason for p in planned)


async def test_simulation_holds_unknown_zones_stops_on_reply_and_writes_nothing(m: Mesh) -> None:
    loc = f"loc-{uuid.uuid4()}"
    cadence = pb.Cadence(steps=[_step(0), _step(0, EMAIL), _step(26), _step(50)])
    leads = [
        ingest_pb.Lead(phone=TOLL_FREE, email="held@example.com", sms_consent=True),
        ingest_pb.Lead(phone="+12135550142", email="la@example.com", sms_consent=True),
    ]
    reply = pb.SimulatedReply(
        lead_index=1, after=duration_pb2.Duration(seconds=40 * 3600), body="no más mensajes"
    )
    planned = await simulate(
        m,
        location_id=loc,
        cadence=cadence,
        leads=leads,
        start_time=timestamps.to_proto(MONDAY_NOON_EAST),
        horizon_days=5,
        replies=[reply],
    )
    held = [p for p in planned if p.lead_index == 0 and p.channel == SMS]
    assert held
    assert all(p.status == SCHEDULED and not p.HasField("send_time") for p in held)
    assert all(p.reason == gates.ZONE_UNKNOWN for p in held)
    emails = [p for p in planned if p.lead_index == 0 and p.channel == EMAIL]
    assert [(p.status, timestamps.from_proto(p.send_time)) for p in emails] == [(SCHEDULED, MONDAY_NOON_EAST)]
    replied = sorted((p for p in planned if p.lead_index == 1), key=lambda p: p.step_index)
    assert [(p.step_index, p.status) for p in replied] == [
        (0, SCHEDULED),
        (1, SCHEDULED),
        (2, SCHEDULED),
        (3, BLOCKED),
    ]
    assert replied[3].reason == "journey stopped: lead opted out ('no mas mensajes')"
    # 09:00 Pacific at the earliest: the first text waits for Los Angeles's window.
    assert timestamps.from_proto(replied[0].send_time) == datetime(2026, 6, 15, 16, 0, tzinfo=UTC)
    # Nothing written: no default cadence created, no compliance record.
    cadences = await m.clients.coordinator.ListCadences(pb.ListCadencesRequest(location_id=loc), timeout=5)
    assert list(cadences.cadences) == []
    records = await m.clients.coordinator.ListComplianceRecords(
        pb.ListComplianceRecordsRequest(
            location_id=loc,
            start_time=timestamps.to_proto(MONDAY_NOON_EAST - timedelta(days=1)),
            end_time=timestamps.to_proto(datetime.now(UTC) + timedelta(days=30)),
        ),
        timeout=5,
    )
    assert list(records.records) == []


async def test_simulation_uses_the_default_cadence_without_creating_it(m: Mesh) -> None:
    loc = f"loc-{uuid.uuid4()}"
    planned = await simulate(
        m,
        location_id=loc,
        leads=[ingest_pb.Lead(phone="+12125550142", email="ny@example.com", sms_consent=True)],
        start_time=timestamps.to_proto(MONDAY_NOON_EAST),
        horizon_days=31,
    )
    assert [(p.step_index, p.channel) for p in planned][:3] == [(0, SMS), (1, EMAIL), (2, SMS)]
    cadences = await m.clients.coordinator.ListCadences(pb.ListCadencesRequest(location_id=loc), timeout=5)
    assert list(cadences.cadences) == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"horizon_days": 0}, "horizon_days"),
        ({"leads": [ingest_pb.Lead(phone="12")]}, "leads[0].phone"),
        ({"leads": []}, "leads"),
        ({"replies": [pb.SimulatedReply(lead_index=3, body="hi")]}, "replies[0].lead_index"),
        ({"cadence": pb.Cadence(steps=[])}, "cadence.steps"),
        ({"cadence_id": "nope"}, "cadence_id"),
        ({"start_time": None}, "start_time"),
    ],
)
async def test_simulation_names_the_bad_field(m: Mesh, change: dict[str, object], field: str) -> None:
    request: dict[str, object] = {
        "location_id": "loc-sim",
        "leads": [ingest_pb.Lead(phone=MIAMI, sms_consent=True)],
        "start_time": timestamps.to_proto(MONDAY_NOON_EAST),
        "horizon_days": 2,
    }
    request.update(change)
    request = {k: v for k, v in request.items() if v is not None}
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await simulate(m, **request)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field_violations(err.value) == [field]
