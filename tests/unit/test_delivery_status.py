"""The delivery-status state machine: forward only, whatever order reports arrive in."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from leadengine.common.v1 import common_pb2
from leadengine.coordinator.v1 import coordinator_service_pb2 as pb

from services.coordinator.delivery import provider_status
from services.coordinator.delivery.provider_status import Transition, advance
from services.coordinator.delivery.reports import candidate_ids

SMS = common_pb2.CHANNEL_SMS
EMAIL = common_pb2.CHANNEL_EMAIL
QUEUED = pb.COMMUNICATION_STATUS_QUEUED
SENT = pb.COMMUNICATION_STATUS_SENT
DELIVERED = pb.COMMUNICATION_STATUS_DELIVERED
UNDELIVERED = pb.COMMUNICATION_STATUS_UNDELIVERED
FAILED = pb.COMMUNICATION_STATUS_FAILED
TRACKED = [QUEUED, SENT, DELIVERED, UNDELIVERED, FAILED]
RANK = {QUEUED: 1, SENT: 2, DELIVERED: 3, UNDELIVERED: 4, FAILED: 4}


@pytest.mark.parametrize(
    ("word", "status"),
    [
        ("queued", QUEUED),
        ("accepted", QUEUED),
        ("sending", SENT),
        ("sent", SENT),
        ("delivered", DELIVERED),
        ("read", DELIVERED),
        ("undelivered", UNDELIVERED),
        ("failed", FAILED),
        ("processed", QUEUED),
        ("deferred", SENT),
        ("bounce", UNDELIVERED),
        ("dropped", UNDELIVERED),
        ("Delivered", DELIVERED),  # providers' case is not ours to trust
    ],
)
def test_provider_words(word: str, status: int) -> None:
    step = advance(QUEUED if status != QUEUED else SENT, SMS, word)
    if status == QUEUED:
        assert step is None  # SENT never goes back to QUEUED
    else:
        assert step is not None
        assert step.status == status


def test_twilio_sequence_moves_forward() -> None:
    assert advance(QUEUED, SMS, "sent") == Transition(SENT, "")
    assert advance(SENT, SMS, "delivered") == Transition(DELIVERED, "")


def test_late_sent_after_delivered_changes_nothing() -> None:
    assert advance(DELIVERED, SMS, "sent") is None
    assert advance(DELIVERED, SMS, "queued") is None
    assert advance(DELIVERED, SMS, "read") is None  # same rank: nothing new to record


def test_error_code_becomes_the_reason() -> None:
    step = advance(SENT, SMS, "undelivered", "30007")
    assert step == Transition(UNDELIVERED, "Twilio 30007: carrier filtered")
    assert advance(SENT, SMS, "failed", "12345") == Transition(FAILED, "Twilio 12345 (failed)")
    assert advance(SENT, SMS, "undelivered") == Transition(UNDELIVERED, "Twilio undelivered")


def test_sendgrid_bounce_after_delivered_is_recorded() -> None:
    # An asynchronous bounce: the receiving server accepted the mail, then bounced it.
    assert advance(DELIVERED, EMAIL, "bounce", "5.1.1") == Transition(UNDELIVERED, "SendGrid bounce (5.1.1)")
    assert advance(DELIVERED, EMAIL, "dropped") == Transition(UNDELIVERED, "SendGrid dropped")


def test_deferred_says_it_is_still_trying() -> None:
    step = advance(QUEUED, EMAIL, "deferred")
    assert step is not None
    assert step.status == SENT
    assert "retry" in step.reason


def test_final_failures_do_not_flip() -> None:
    assert advance(UNDELIVERED, SMS, "failed") is None
    assert advance(FAILED, SMS, "undelivered") is None
    assert advance(UNDELIVERED, SMS, "delivered") is None


@pytest.mark.parametrize(
    "current",
    [
        pb.COMMUNICATION_STATUS_SIMULATED,
        pb.COMMUNICATION_STATUS_BLOCKED,
        pb.COMMUNICATION_STATUS_SCHEDULED,
        pb.COMMUNICATION_STATUS_RECEIVED,
        pb.COMMUNICATION_STATUS_UNSPECIFIED,
    ],
)
def test_untracked_statuses_are_left_alone(current: int) -> None:
    assert advance(current, SMS, "delivered") is None


def test_unknown_words_change_nothing() -> None:
    assert advance(SENT, SMS, "receiving") is None
    assert advance(SENT, EMAIL, "spamreport") is None
    assert advance(SENT, SMS, "") is None


def test_21610_is_an_sms_opt_out() -> None:
    assert provider_status.opts_out(SMS, "21610")
    assert not provider_status.opts_out(SMS, "30007")
    assert not provider_status.opts_out(EMAIL, "21610")


def test_sendgrid_ids_fall_back_to_the_send_id() -> None:
    assert candidate_ids("W86EgYT6SQKk0lRflfLRsA.filter0001.16648.5515E0B88.0", EMAIL) == [
        "W86EgYT6SQKk0lRflfLRsA.filter0001.16648.5515E0B88.0",
        "W86EgYT6SQKk0lRflfLRsA",
    ]
    assert candidate_ids("SM0123456789abcdef0123456789abcdef", SMS) == ["SM0123456789abcdef0123456789abcdef"]


WORDS = [*sorted(provider_status.STATUS_WORDS), "receiving", "canceledx", "spamreport"]


@given(
    start=st.sampled_from(TRACKED),
    reports=st.lists(st.tuples(st.sampled_from(WORDS), st.sampled_from(["", "30007", "21610"])), max_size=12),
)
def test_any_sequence_only_moves_forward(start: int, reports: list[tuple[str, str]]) -> None:
    status = start
    for word, code in reports:
        step = advance(status, SMS, word, code)
        if step is not None:
            assert RANK[step.status] > RANK[status]
            status = step.status
    # The end state is the highest-ranked of the start and every known word reported.
    ranks = [RANK[start]] + [
        RANK[provider_status.STATUS_WORDS[w]] for w, _ in reports if w in provider_status.STATUS_WORDS
    ]
    assert RANK[status] == max(ranks)


@given(reports=st.permutations(["queued", "sent", "delivered"]))
def test_order_of_arrival_does_not_matter(reports: list[str]) -> None:
    status = QUEUED
    for word in reports:
        step = advance(status, SMS, word)
        status = step.status if step is not None else status
    assert status == DELIVERED
