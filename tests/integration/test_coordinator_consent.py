"""Consent basis through gRPC and real PostgreSQL: a location's policy, each lead's basis
under it, the ledger of changes, and the first touch that uses the basis."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import grpc
import pytest
from google.protobuf import field_mask_pb2
from leadengine.common.v1 import common_pb2
from leadengine.coordinator.v1 import coordinator_service_pb2 as pb
from leadengine.ingest.v1 import ingest_service_pb2 as ingest_pb

from services.coordinator.compliance import basis, gates
from tests.journeys import (
    DAY_HOURS,
    PHONE,
    add_agent,
    add_lead,
    eventually,
    fresh_phone,
    settled_first_touch,
    zone_where,
)
from tests.support import Mesh, field_violations, location_of

ATTESTATION = "Website form /contact, checkbox 'Text me about homes', screenshot 2026-11-01"


async def set_policy(m: Mesh, location: str, **policy: Any) -> pb.ConsentPolicy:
    resp = await m.clients.coordinator.SetConsentPolicy(
        pb.SetConsentPolicyRequest(
            location_id=location, policy=pb.ConsentPolicy(**policy), request_id=str(uuid.uuid4())
        ),
        timeout=5,
    )
    return resp.policy


async def get_policy(m: Mesh, location: str) -> pb.ConsentPolicy:
    resp = await m.clients.coordinator.GetConsentPolicy(
        pb.GetConsentPolicyRequest(location_id=location), timeout=5
    )
    return resp.policy


async def consent_of(m: Mesh, lead_id: str) -> pb.Consent:
    resp = await m.clients.coordinator.GetConsent(
        pb.GetConsentRequest(lead_id=lead_id, location_id=await location_of(m, lead_id)), timeout=5
    )
    return resp.consent


def new_location() -> str:
    return f"loc-{uuid.uuid4()}"


@pytest.fixture
async def ledger(migrated_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    """Read-only look at the coordinator's ledger table (no RPC lists it)."""
    conn = await asyncpg.connect(migrated_dsn, server_settings={"search_path": "coordinator"})
    try:
        yield conn
    finally:
        await conn.close()


async def test_policy_defaults_then_versions(m: Mesh) -> None:
    loc = new_location()
    default = await get_policy(m, loc)
    assert (list(default.sms_consent_tags), default.version, default.email_requires_opt_in) == ([], 0, False)

    request = pb.SetConsentPolicyRequest(
        location_id=loc,
        policy=pb.ConsentPolicy(sms_consent_tags=["  SMS-Opt-In ", "sms-opt-in"], attestation=ATTESTATION),
        request_id="req-1",
    )
    first = (await m.clients.coordinator.SetConsentPolicy(request, timeout=5)).policy
    assert (list(first.sms_consent_tags), first.version, first.location_id) == (["SMS-Opt-In"], 1, loc)
    again = (await m.clients.coordinator.SetConsentPolicy(request, timeout=5)).policy
    assert again == first  # same request_id: nothing new

    second = await set_policy(m, loc, sms_consent_tags=["sms-opt-in"], attestation="v2 form")
    assert second.version == 2
    assert await get_policy(m, loc) == second


@pytest.mark.parametrize(
    ("policy", "location", "field"),
    [
        ({"sms_consent_tags": ["ok", "  "], "attestation": ATTESTATION}, "loc", "policy.sms_consent_tags[1]"),
        ({"sms_consent_tags": ["sms-opt-in"], "attestation": "  "}, "loc", "policy.attestation"),
        ({"sms_consent_tags": ["sms-opt-in"], "attestation": ATTESTATION}, " ", "location_id"),
    ],
)
async def test_bad_policy_is_refused_naming_the_field(
    m: Mesh, policy: dict[str, Any], location: str, field: str
) -> None:
    loc = new_location() if location == "loc" else location
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await set_policy(m, loc, **policy)
    assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in field_violations(exc.value)
    if loc.strip():
        assert (await get_policy(m, loc)).version == 0  # nothing stored


async def test_a_consent_tag_is_an_sms_basis_whatever_its_case(m: Mesh, ledger: asyncpg.Connection) -> None:
    loc = new_location()
    await add_agent(m, loc)
    await set_policy(m, loc, sms_consent_tags=["SMS-Opt-In"], attestation=ATTESTATION)
    lead = await add_lead(m, loc, phone=PHONE, timezone=zone_where(DAY_HOURS), tags=["buyer", "sms-OPT-in"])

    touch = await settled_first_touch(m, lead.lead_id)
    assert (touch.channel, touch.status) == (common_pb2.CHANNEL_SMS, pb.COMMUNICATION_STATUS_SIMULATED)
    consent = await consent_of(m, lead.lead_id)
    assert consent.sms_basis.startswith(f"tag 'SMS-Opt-In' under policy v1 (attestation: {ATTESTATION}), ")
    assert not consent.sms_consent  # the lead record itself says nothing
    rows = await ledger.fetch(
        "SELECT change, actor, evidence::text FROM consent_ledger WHERE lead_id = $1 AND channel = 1",
        uuid.UUID(lead.lead_id),
    )
    assert [(r["change"], r["actor"]) for r in rows] == [("basis", "consent policy")]
    assert '"policy_version": 1' in rows[0]["evidence"]
    assert '"tag": "SMS-Opt-In"' in rows[0]["evidence"]


async def test_the_lead_record_is_an_sms_basis(m: Mesh) -> None:
    loc = new_location()
    await add_agent(m, loc)
    lead = await add_lead(m, loc, phone=PHONE, timezone=zone_where(DAY_HOURS), sms_consent=True)
    touch = await settled_first_touch(m, lead.lead_id)
    assert touch.channel == common_pb2.CHANNEL_SMS
    assert (await consent_of(m, lead.lead_id)).sms_basis == basis.LEAD_RECORD


async def notes_of(m: Mesh, lead_id: str, count: int) -> list[pb.Notification]:
    async def fetch() -> list[pb.Notification]:
        resp = await m.clients.coordinator.ListNotifications(
            pb.ListNotificationsRequest(lead_id=lead_id, location_id=await location_of(m, lead_id)), timeout=5
        )
        return list(resp.notifications)

    def done(notes: list[pb.Notification]) -> bool:
        return len(notes) == count and all(n.status != pb.COMMUNICATION_STATUS_QUEUED for n in notes)

    notes: list[pb.Notification] = await eventually(fetch, done, f"{count} notifications")
    return notes


async def test_no_sms_basis_means_email_under_can_spam_and_a_call(m: Mesh) -> None:
    """A tag the policy does not name proves nothing: no text, but email is lawful, and
    the agent is told to call."""
    loc = new_location()
    await add_agent(m, loc, phone="+12125550123")
    await set_policy(m, loc, sms_consent_tags=["sms-opt-in"], attestation=ATTESTATION)
    lead = await add_lead(
        m, loc, phone=PHONE, email="lee@example.com", timezone=zone_where(DAY_HOURS), tags=["newsletter"]
    )
    touch = await settled_first_touch(m, lead.lead_id)
    assert (touch.channel, touch.status) == (common_pb2.CHANNEL_EMAIL, pb.COMMUNICATION_STATUS_SIMULATED)
    assert touch.address == "lee@example.com"
    consent = await consent_of(m, lead.lead_id)
    assert (consent.sms_basis, consent.email_basis) == ("", basis.CAN_SPAM)
    assert not consent.email_consent

    notes = await notes_of(m, lead.lead_id, 2)
    calls = [n for n in notes if "needs a call" in n.body]
    assert len(calls) == 1, [n.body for n in notes]
    assert PHONE in calls[0].body
    assert "email only" in calls[0].body
    assert calls[0].status == pb.COMMUNICATION_STATUS_SIMULATED


async def test_email_requires_opt_in_when_the_policy_says_so(m: Mesh) -> None:
    loc = new_location()
    await add_agent(m, loc)
    await set_policy(m, loc, email_requires_opt_in=True)
    silent = await add_lead(m, loc, email="no.flag@example.com")
    touch = await settled_first_touch(m, silent.lead_id)
    assert (touch.status, touch.status_reason) == (
        pb.COMMUNICATION_STATUS_BLOCKED,
        gates.NO_CONSENTED_CHANNEL,
    )
    assert (await consent_of(m, silent.lead_id)).email_basis == ""

    opted_in = await add_lead(m, loc, email="flag@example.com", email_consent=True)
    touch = await settled_first_touch(m, opted_in.lead_id)
    assert (touch.channel, touch.status) == (common_pb2.CHANNEL_EMAIL, pb.COMMUNICATION_STATUS_SIMULATED)
    assert (await consent_of(m, opted_in.lead_id)).email_basis == basis.LEAD_RECORD


async def test_an_opt_out_wins_over_a_consent_tag(m: Mesh, ledger: asyncpg.Connection) -> None:
    loc = new_location()
    await add_agent(m, loc, phone="+12125550123")
    await set_policy(m, loc, sms_consent_tags=["sms-opt-in"], attestation=ATTESTATION)
    lead = await add_lead(
        m, loc, phone=fresh_phone(), timezone=zone_where(DAY_HOURS), tags=["sms-opt-in"], sms_dnd=True
    )
    touch = await settled_first_touch(m, lead.lead_id)
    assert touch.channel != common_pb2.CHANNEL_SMS
    assert touch.status == pb.COMMUNICATION_STATUS_BLOCKED
    consent = await consent_of(m, lead.lead_id)
    assert consent.sms_opted_out
    assert consent.sms_basis
    changes = await ledger.fetch(
        "SELECT change FROM consent_ledger WHERE lead_id = $1 AND channel = 1 ORDER BY entry_id",
        uuid.UUID(lead.lead_id),
    )
    assert {r["change"] for r in changes} == {"basis", "opt_out"}
    notes = await notes_of(m, lead.lead_id, 1)  # assigned only: an opted-out lead is no call list
    assert "needs a call" not in notes[0].body


async def test_the_ledger_appends_and_never_overwrites(m: Mesh, ledger: asyncpg.Connection) -> None:
    loc = new_location()
    await add_agent(m, loc)
    await set_policy(m, loc, sms_consent_tags=["sms-opt-in"], attestation="form v1")
    lead = await add_lead(m, loc, phone=PHONE, timezone=zone_where(DAY_HOURS), tags=["sms-opt-in"])
    await settled_first_touch(m, lead.lead_id)
    first = (await consent_of(m, lead.lead_id)).sms_basis
    assert "policy v1" in first

    await set_policy(m, loc, sms_consent_tags=["sms-opt-in"], attestation="form v2")
    await m.clients.ingest.UpsertLead(
        ingest_pb.UpsertLeadRequest(
            lead=ingest_pb.Lead(lead_id=lead.lead_id, location_id=loc, first_name="Leigh"),
            update_mask=field_mask_pb2.FieldMask(paths=["first_name"]),
            request_id=str(uuid.uuid4()),
        ),
        timeout=5,
    )
    second = await eventually(
        lambda: consent_of(m, lead.lead_id), lambda c: "policy v2" in c.sms_basis, "re-evaluation"
    )
    assert "form v2" in second.sms_basis
    rows = await ledger.fetch(
        "SELECT entry_id, basis, evidence->>'policy_version' AS v FROM consent_ledger"
        " WHERE lead_id = $1 AND channel = 1 ORDER BY entry_id",
        uuid.UUID(lead.lead_id),
    )
    assert [(r["basis"], r["v"]) for r in rows] == [(first, "1"), (second.sms_basis, "2")]
    with pytest.raises(asyncpg.RaiseError, match="append-only"):
        await ledger.execute("UPDATE consent_ledger SET basis = '' WHERE entry_id = $1", rows[0]["entry_id"])
    with pytest.raises(asyncpg.RaiseError, match="append-only"):
        await ledger.execute("DELETE FROM consent_ledger WHERE entry_id = $1", rows[0]["entry_id"])
