"""Delivery rules that need no server: unsubscribe tokens, provider settings, crash points,
backoff, and how provider answers are read."""

from __future__ import annotations

import random
import uuid

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.coordinator.delivery import crashpoints
from services.coordinator.delivery.dispatch import backoff_s
from services.coordinator.delivery.provider_config import ProviderConfig, secret
from services.coordinator.delivery.providers import Verdict, classify_failure
from shared import unsubscribe
from shared.config import ConfigError

KEY = "k"


@given(st.uuids(), st.sampled_from([1, 2]), st.text(max_size=40))
def test_tokens_round_trip(lead_id: uuid.UUID, channel: int, location: str) -> None:
    named = unsubscribe.Unsubscribe(lead_id, channel, location)
    assert unsubscribe.verify(unsubscribe.sign(named, KEY), KEY) == named


@given(st.text(max_size=200))
def test_any_text_is_a_named_unsubscribe_or_bad_token(text: str) -> None:
    try:
        unsubscribe.verify(text, KEY)
    except unsubscribe.BadToken:
        return
    raise AssertionError("an unsigned text verified")


def test_a_token_does_not_verify_under_another_key() -> None:
    token = unsubscribe.sign(unsubscribe.Unsubscribe(uuid.uuid4(), 2, "loc"), KEY)
    with pytest.raises(unsubscribe.BadToken):
        unsubscribe.verify(token, "other")


def test_secret_from_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "token"
    path.write_text("s3cret\n")
    assert secret({"TWILIO_AUTH_TOKEN_FILE": str(path)}, "TWILIO_AUTH_TOKEN") == "s3cret"
    assert (
        secret({"TWILIO_AUTH_TOKEN": "env", "TWILIO_AUTH_TOKEN_FILE": str(path)}, "TWILIO_AUTH_TOKEN")
        == "env"
    )
    with pytest.raises(ConfigError):
        secret({"TWILIO_AUTH_TOKEN_FILE": str(path / "missing")}, "TWILIO_AUTH_TOKEN")


def test_provider_settings_are_checked() -> None:
    with pytest.raises(ConfigError):
        ProviderConfig.from_env({"COORDINATOR_SMS_PROVIDER": "sendgrid"})
    with pytest.raises(ConfigError):
        ProviderConfig.from_env({"TWILIO_BASE_URL": "ftp://x"})
    with pytest.raises(ConfigError):
        ProviderConfig(timeout_s=40).check_lease(60)
    assert not ProviderConfig(twilio_account_sid="AC1", twilio_auth_token="t").twilio_ready  # no sender
    assert ProviderConfig(twilio_account_sid="AC1", twilio_auth_token="t", twilio_from="+1").twilio_ready


def test_crash_points_parse() -> None:
    assert crashpoints.parse("before_call:0.5, after_commit:0") == {"before_call": 0.5, "after_commit": 0.0}
    with pytest.raises(ConfigError):
        crashpoints.parse("nowhere:1")
    with pytest.raises(ConfigError):
        crashpoints.parse("before_call")
    crashpoints.CrashPoints({"before_call": 0.0}).at("before_call")  # never fires at 0


def test_backoff_grows_and_stays_under_the_cap() -> None:
    rng = random.Random(1)
    for tries in range(20):
        pause = backoff_s(tries, 0.5, 15.0, rng)
        assert 0.0 <= pause <= min(15.0, 0.5 * 2**tries)


@pytest.mark.parametrize(
    ("status", "verdict"),
    [
        (401, Verdict.AUTH),
        (403, Verdict.AUTH),
        (429, Verdict.RETRY),
        (500, Verdict.IN_DOUBT),
        (400, Verdict.REFUSED),
    ],
)
def test_provider_answers(status: int, verdict: Verdict) -> None:
    resp = httpx.Response(status, headers={"Retry-After": "3"})
    got = classify_failure("Twilio", resp, "words", "21211" if status == 400 else "")
    assert got.verdict is verdict
    if status == 429:
        assert got.retry_after_s == 3.0
    if status == 400:
        assert got.reason == "Twilio 21211: invalid To number"
