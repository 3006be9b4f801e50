"""The gateway's pure webhook parsing: timestamps, public URLs, forms, SendGrid batches."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.gateway import signatures
from services.gateway.forwarding import Rejected
from services.gateway.webhooks import (
    check_ghl_timestamp,
    parse_form,
    parse_json,
    public_url,
    sendgrid_events,
)

VECTORS = Path(__file__).resolve().parents[1] / "vectors"
TWILIO = json.loads((VECTORS / "twilio_signature.json").read_text())["vectors"]
SENDGRID_EVENTS = json.loads((VECTORS / "sendgrid_events.json").read_text())
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def rejection(call) -> Rejected:
    with pytest.raises(Rejected) as caught:
        call()
    return caught.value


# --- HighLevel timestamp ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sent",
    [
        NOW,
        NOW - timedelta(minutes=70),  # HighLevel's last 429 retry carries the first attempt's timestamp
        NOW - timedelta(seconds=7200),
        NOW + timedelta(seconds=299),
    ],
)
def test_ghl_timestamps_inside_the_window_pass(sent: datetime) -> None:
    check_ghl_timestamp({"timestamp": iso(sent)}, NOW.timestamp(), 7200)


def test_ghl_timestamp_may_be_absent_from_older_integrations() -> None:
    check_ghl_timestamp({"type": "ContactCreate"}, NOW.timestamp(), 7200)


@pytest.mark.parametrize(
    ("sent", "reason"),
    [
        (NOW - timedelta(seconds=7201), "STALE_TIMESTAMP"),
        (NOW + timedelta(seconds=301), "TIMESTAMP_IN_FUTURE"),
    ],
)
def test_ghl_timestamps_outside_the_window_are_unauthorized(sent: datetime, reason: str) -> None:
    rej = rejection(lambda: check_ghl_timestamp({"timestamp": iso(sent)}, NOW.timestamp(), 7200))
    assert (rej.status, rej.reason) == (401, reason)


def test_ghl_timestamp_with_an_offset_or_none_counts_as_written() -> None:
    check_ghl_timestamp({"timestamp": "2026-11-25T07:00:00-05:00"}, NOW.timestamp(), 60)
    check_ghl_timestamp({"timestamp": "2026-11-25T12:00:00"}, NOW.timestamp(), 60)  # no offset: UTC
    rej = rejection(
        lambda: check_ghl_timestamp({"timestamp": "2026-11-25T12:00:00+05:00"}, NOW.timestamp(), 60)
    )
    assert rej.reason == "STALE_TIMESTAMP"


@pytest.mark.parametrize("value", ["yesterday", "", 1795600000, None, ["2026-11-25"], "9999-99-99T00:00:00Z"])
def test_malformed_ghl_timestamp_is_a_bad_request(value) -> None:
    rej = rejection(lambda: check_ghl_timestamp({"timestamp": value}, NOW.timestamp(), 7200))
    assert (rej.status, rej.reason) == (400, "BAD_TIMESTAMP")


@given(st.text(max_size=40))
def test_any_ghl_timestamp_text_passes_or_is_rejected_cleanly(value: str) -> None:
    status = 200
    try:
        check_ghl_timestamp({"timestamp": value}, NOW.timestamp(), 7200)
    except Rejected as rej:
        status = rej.status
    assert status in (200, 400, 401)


# --- JSON ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [b"", b"{", b"\xff\xfe", b'{"a": NaN}', b"[Infinity]", b"[" * 100_000 + b"]" * 100_000],
)
def test_bodies_that_are_not_json_are_bad_requests(raw: bytes) -> None:
    rej = rejection(lambda: parse_json(raw))
    assert (rej.status, rej.reason) == (400, "BAD_JSON")


# --- Twilio ----------------------------------------------------------------------------------------


def test_public_url_rebuilds_the_documented_vector_url_and_its_signature() -> None:
    vector = next(v for v in TWILIO if v["name"] == "made_up_token_inbound_sms")
    url = public_url("https://hooks.example.com", "/twilio/sms", "tenant=demo")
    assert url == vector["url"]
    raw = urlencode(list(vector["params"].items())).encode()
    signatures.verify_twilio(url, parse_form(raw), vector["expected_signature"], vector["auth_token"])


def test_public_url_without_a_query_has_no_question_mark_and_keeps_percent_encoding() -> None:
    assert (
        public_url("https://h.example/p", "/webhooks/twilio/sms", "")
        == "https://h.example/p/webhooks/twilio/sms"
    )
    assert public_url("https://h", "/x", "a=%2B1&b=c+d") == "https://h/x?a=%2B1&b=c+d"


def test_form_keeps_every_field_blank_and_repeated_ones_in_order() -> None:
    raw = b"Body=&MediaUrl0=b&MediaUrl0=a&To=%2B15555550100&Note=two+words&Flag"
    assert parse_form(raw) == [
        ("Body", ""),
        ("MediaUrl0", "b"),
        ("MediaUrl0", "a"),
        ("To", "+15555550100"),
        ("Note", "two words"),
        ("Flag", ""),
    ]


@pytest.mark.parametrize("raw", [b"Body=%FF%FE", b"\xff=1", b"&".join(b"a=1" for _ in range(1001))])
def test_forms_that_cannot_be_read_are_bad_requests(raw: bytes) -> None:
    rej = rejection(lambda: parse_form(raw))
    assert (rej.status, rej.reason) == (400, "BAD_FORM")


# --- SendGrid --------------------------------------------------------------------------------------


def test_sendgrid_batch_keeps_the_first_copy_of_a_repeated_event() -> None:
    batch = SENDGRID_EVENTS["payload"]
    events = sendgrid_events(batch)
    ids = [eid for eid, _, _ in events]
    assert len(batch) == 11
    assert len(events) == 10
    assert ids.count(SENDGRID_EVENTS["duplicate_sg_event_id"]) == 1
    assert [name for _, name, _ in events][:3] == ["processed", "delivered", "open"]
    # Each payload is that one element, as compact JSON.
    assert events[0][2] == json.dumps(batch[0], separators=(",", ":")).encode()


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"sg_event_id": "x", "event": "open"}, "NOT_AN_EVENT_ARRAY"),
        ([], "NOT_AN_EVENT_ARRAY"),
        (["open"], "NOT_AN_EVENT_ARRAY"),
        ([{"event": "open"}], "MISSING_EVENT_ID"),
        ([{"sg_event_id": 7, "event": "open"}], "MISSING_EVENT_ID"),
        ([{"sg_event_id": "x", "event": ""}], "MISSING_EVENT_ID"),
        ([{"sg_event_id": "x", "event": "open", "email": "\ud800"}], "BAD_JSON"),
    ],
)
def test_sendgrid_bodies_that_are_not_event_arrays_are_bad_requests(body, reason: str) -> None:
    rej = rejection(lambda: sendgrid_events(body))
    assert (rej.status, rej.reason) == (400, reason)
