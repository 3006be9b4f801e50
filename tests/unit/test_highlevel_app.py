"""The HighLevel app's pure parts: its settings, token encryption with key rotation, the
INSTALL / UNINSTALL / OutboundMessage webhooks as ingest reads them, and what a contact
read from HighLevel adds to a lead."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography.fernet import Fernet
from hypothesis import given
from hypothesis import strategies as st
from leadengine.common.v1 import common_pb2
from leadengine.ingest.v1 import ingest_service_pb2 as pb

from services.coordinator.delivery.credentials import NotUsable, TokenCipher
from services.coordinator.delivery.enrichment import merge
from services.coordinator.delivery.highlevel_app import HighLevelApp
from services.coordinator.delivery.provider_config import ProviderConfig
from services.ingest import webhooks
from shared.config import ConfigError

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
KEY = Fernet.generate_key().decode()
APP = {
    "HIGHLEVEL_CLIENT_ID": "app",
    "HIGHLEVEL_CLIENT_SECRET": "secret",
    "HIGHLEVEL_TOKEN_KEYS": KEY,
    "HIGHLEVEL_OAUTH_STATE_KEY": "k" * 32,
}


def ghl(payload: dict[str, Any], location_id: str = "") -> webhooks.Parsed:
    return webhooks.parse(
        pb.PROVIDER_GHL, str(payload.get("type", "")), json.dumps(payload).encode(), location_id, NOW
    )


def test_app_settings_from_env() -> None:
    app = HighLevelApp.from_env(APP)
    assert app.ready
    assert app.token_endpoint("https://services.leadconnectorhq.com") == (
        "https://services.leadconnectorhq.com/oauth/token"
    )
    assert not HighLevelApp.from_env({}).ready
    cfg = ProviderConfig.from_env(APP)
    assert cfg.highlevel_ready
    assert not cfg.highlevel_token


@pytest.mark.parametrize(
    "env",
    [
        {"HIGHLEVEL_CLIENT_ID": "app", "HIGHLEVEL_CLIENT_SECRET": "secret"},  # no key: never in the clear
        {"HIGHLEVEL_CLIENT_ID": "app", "HIGHLEVEL_TOKEN_KEYS": KEY},
        APP | {"HIGHLEVEL_TOKEN_KEYS": "not-a-fernet-key"},
        APP | {"HIGHLEVEL_TOKEN_URL": "ftp://example.com/token"},
        # No install could complete without a key signing the OAuth state.
        {k: v for k, v in APP.items() if k != "HIGHLEVEL_OAUTH_STATE_KEY"},
        APP | {"HIGHLEVEL_OAUTH_STATE_KEY": "short"},
        APP | {"HIGHLEVEL_AUTHORIZE_URL": "javascript:alert(1)"},
    ],
)
def test_bad_app_settings_stop_start_up(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        HighLevelApp.from_env(env)


def test_rotated_keys_still_read_old_tokens_and_write_with_the_new() -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    sealed = TokenCipher((old,)).seal("hl-at-1")
    rotated = TokenCipher((new, old))
    assert rotated.open(sealed) == "hl-at-1"
    assert TokenCipher((new,)).open(rotated.seal("hl-at-2")) == "hl-at-2"
    with pytest.raises(NotUsable):
        TokenCipher((new,)).open(sealed)


def test_install_names_every_location_of_a_bulk_install() -> None:
    parsed = ghl({"type": "INSTALL", "companyId": "c1", "locationIds": ["L1", "L2", "L1"]})
    assert parsed.location_id == "L1"
    assert parsed.action == webhooks.AppInstall(("L1", "L2"), installed=True)


def test_uninstall_and_agency_installs() -> None:
    assert ghl({"type": "UNINSTALL", "locationId": "L9"}).action == webhooks.AppInstall(
        ("L9",), installed=False
    )
    agency = ghl({"type": "INSTALL", "companyId": "c1"})
    assert isinstance(agency.action, webhooks.NoAction)


def test_outbound_message_status_becomes_a_delivery_report() -> None:
    base = {"locationId": "L1", "contactId": "ct1", "messageId": "hl-1", "messageType": "SMS", "body": "hi"}
    out = ghl({"type": "OutboundMessage", "direction": "outbound", "status": "Delivered", **base}).action
    assert isinstance(out, webhooks.ContactMessage)
    assert out.delivery is not None
    assert (out.delivery.provider_message_id, out.delivery.provider_status) == ("hl-1", "delivered")
    assert out.delivery.channel == common_pb2.CHANNEL_SMS
    inbound = ghl({"type": "InboundMessage", "direction": "inbound", "status": "delivered", **base}).action
    assert isinstance(inbound, webhooks.ContactMessage)
    assert inbound.delivery is None


@given(
    st.dictionaries(st.sampled_from(["type", "locationId", "locationIds", "companyId"]), st.from_type(object))
)
def test_any_install_payload_parses_or_is_refused_as_a_payload_error(raw: dict[str, Any]) -> None:
    raw["type"] = "UNINSTALL"
    try:
        body = json.dumps(raw, default=str).encode()
    except (TypeError, ValueError):
        return
    with contextlib.suppress(webhooks.PayloadError):
        webhooks.parse(pb.PROVIDER_GHL, "UNINSTALL", body, "", NOW)


def test_contact_adds_zone_dnd_and_custom_fields() -> None:
    lead = pb.Lead(lead_id="00000000-0000-0000-0000-000000000001", timezone="America/Chicago")
    contact = {
        "timezone": "America/Denver",
        "dndSettings": {"SMS": {"status": "permanent"}, "Email": {"status": "inactive"}},
        "customFields": [{"id": "cf1", "value": "x"}, {"bad": 1}],
    }
    merged, paths = merge(lead, contact)
    assert paths == ["timezone", "sms_dnd", "custom_fields"]
    assert (merged.timezone, merged.sms_dnd, merged.email_dnd) == ("America/Denver", True, False)
    assert merged.custom_fields["cf1"] == "x"
    assert lead.timezone == "America/Chicago"  # the given lead is left as it was


def test_contact_never_lifts_a_dnd_and_ignores_a_zone_it_cannot_name() -> None:
    lead = pb.Lead(sms_dnd=True, timezone="America/Chicago")
    merged, paths = merge(lead, {"dnd": False, "timezone": "Mars/Olympus"})
    assert paths == []
    assert merged.sms_dnd
    _everything, paths = merge(pb.Lead(), {"dnd": True})
    assert paths == ["sms_dnd", "email_dnd"]


@given(
    st.dictionaries(
        st.sampled_from(["timezone", "dnd", "dndSettings", "customFields"]),
        st.recursive(
            st.none() | st.booleans() | st.text(max_size=20) | st.integers(),
            lambda inner: (
                st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
            ),
            max_leaves=8,
        ),
    )
)
def test_any_contact_json_merges_without_error(contact: dict[str, Any]) -> None:
    _merged, paths = merge(pb.Lead(), contact)
    assert set(paths) <= {"timezone", "sms_dnd", "email_dnd", "custom_fields"}
