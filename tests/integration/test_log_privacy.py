"""No personal data in log lines (#15): every line the gateway and the five services log while
a lead goes through a whole journey (a signed HighLevel webhook with a name, phone and email →
first touch and the agent's notification → a reply → STOP → the confirmation) is read, and
none holds the lead's phone, email, name or the reply's words; the free text included, not
only the structured fields. Plus the redaction of text we do not write ourselves."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import AsyncIterator

import grpc
import httpx
import pytest
from leadengine.coordinator.v1 import coordinator_service_pb2 as pb
from leadengine.ingest.v1 import ingest_service_pb2 as ingest_pb

from shared import jsonlog, redaction
from tests.journeys import (
    DAY_HOURS,
    add_agent,
    eventually,
    fresh_phone,
    handle,
    inbound,
    notes_of,
    settled_first_touch,
    zone_where,
)
from tests.support import Mesh
from tests.webhooks import Signer, compact, gateway, ghl_contact

FIRST, LAST = "Zorabelle", "Quincewood"
REPLY = "Could we tour the bungalow on Wisteria Crescent after lunch"


@pytest.fixture(scope="module")
async def http(m: Mesh) -> AsyncIterator[tuple[httpx.AsyncClient, Signer]]:
    signer = Signer()
    async with gateway(signer.config(m.addr["ingest"], ingest_timeout_s=30.0)) as url:
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:
            yield client, signer


async def test_a_whole_journey_logs_no_phone_email_name_or_body(
    m: Mesh, http: tuple[httpx.AsyncClient, Signer], caplog: pytest.LogCaptureFixture
) -> None:
    # INFO is every service's default; our own loggers at DEBUG, to see all they could say.
    caplog.set_level(logging.INFO)
    for name in ("services", "shared", "cli"):
        caplog.set_level(logging.DEBUG, logger=name)
    client, signer = http
    location = f"loc-{uuid.uuid4().hex[:10]}"
    await add_agent(m, location)
    phone = fresh_phone()
    email = f"zq.{uuid.uuid4().hex[:10]}@example.com"
    raw = compact(
        ghl_contact(
            location,
            firstName=FIRST,
            lastName=LAST,
            name=f"{FIRST} {LAST}",
            email=email,
            phone=phone,
            timezone=zone_where(DAY_HOURS),
        )
    )
    assert (
        await client.post("/webhooks/ghl", content=raw, headers=signer.ghl_headers(raw))
    ).status_code == 200
    got = await m.clients.ingest.GetLeadByExternalId(
        ingest_pb.GetLeadByExternalIdRequest(location_id=location, external_contact_id=json.loads(raw)["id"]),
        timeout=10,
    )
    lead = got.lead
    assert (lead.first_name, lead.email, lead.phone) == (FIRST, email, phone)  # the data did arrive
    await settled_first_touch(m, lead.lead_id)
    await eventually(lambda: notes_of(m, lead.lead_id), bool, "the agent's notification")

    await handle(m, inbound(lead, REPLY))
    stopped = await handle(m, inbound(lead, "STOP"))
    assert stopped.journey.state == pb.JOURNEY_STATE_STOPPED

    # The paths that log on purpose, each with the lead's data in the request: a webhook whose
    # email is malformed, the same refused by UpsertLead, a webhook with a bad signature.
    bad_email = f"{email.split('@')[0]}@example"
    bad = compact(ghl_contact(location, firstName=FIRST, lastName=LAST, email=bad_email, phone=phone))
    await client.post("/webhooks/ghl", content=bad, headers=signer.ghl_headers(bad))
    forged = {**signer.ghl_headers(bad), "X-GHL-Signature": signer.ghl_headers(raw)["X-GHL-Signature"]}
    assert (await client.post("/webhooks/ghl", content=bad, headers=forged)).status_code == 401
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await m.clients.ingest.UpsertLead(
            ingest_pb.UpsertLeadRequest(
                lead=ingest_pb.Lead(location_id=location, first_name=FIRST, last_name=LAST, email=bad_email)
            ),
            timeout=10,
        )
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT

    formatter = jsonlog.JsonFormatter("test")
    lines = [formatter.format(record) for record in caplog.records]
    ours = [r for r in caplog.records if r.name.startswith(("services.", "shared."))]
    assert len(ours) >= 2, f"our services logged almost nothing: {[r.getMessage() for r in ours]}"
    personal = {
        "phone": phone,
        "phone digits": phone.lstrip("+"),
        "national number": phone[-10:],
        "email": email,
        "email local part": email.split("@")[0],
        "first name": FIRST,
        "last name": LAST,
        "reply": "Wisteria Crescent",
    }
    leaks = [(what, line) for line in lines for what, value in personal.items() if value in line]
    assert leaks == [], f"{len(leaks)} log lines hold personal data, e.g. {leaks[:3]}"


def test_text_we_did_not_write_is_redacted() -> None:
    """A peer's message or an exception carrying PostgreSQL's DETAIL: the pattern-shaped parts
    go; ids, times and trace ids stay readable."""
    detail = (
        'duplicate key value violates unique constraint "leads_email"\n'
        "DETAIL:  Key (email)=(a@b.co) already exists."
    )
    assert "a@b.co" not in redaction.text(detail)
    assert "Failing row contains" in redaction.text("Failing row contains (1, Jo, +15125550100)")
    assert "Jo" not in redaction.text("Failing row contains (1, Jo, +15125550100)")
    for phone in ("+15125550100", "+1 512 555 0100", "(512) 555-0100", "512-555-0100", "512.555.0100"):
        assert redaction.text(f"texted {phone}.") == "texted [redacted].", phone
    for kept in (
        str(uuid.UUID("12345678-1234-5678-1234-567812345678")),
        "2026-11-27T11:19:11.123+00:00",
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        "retry in 1764242351 s",
    ):
        assert redaction.text(kept) == kept
    record = logging.makeLogRecord(
        {"msg": "peer said %s", "args": ("bob@example.com is taken",), "detail": {"to": ["+15125550100"]}}
    )
    line = jsonlog.JsonFormatter("test").format(record)
    assert "bob@example.com" not in line
    assert "+15125550100" not in line
