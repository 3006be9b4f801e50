"""The circuit breaker (driven by an injected clock), our retry loop's bounds (driven by an
injected sleep), and how Claude's answers are read."""

from __future__ import annotations

import json

import pytest

from services.content.claude import prompts
from services.content.claude.breaker import CLOSED, HALF_OPEN, OPEN, CircuitBreaker
from services.content.writer import EMAIL, FIRST_TOUCH, SMS, Draft, Facts


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_breaker_opens_after_n_consecutive_failures_and_half_opens_after_the_cooldown() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failures=3, cooldown_s=30, clock=clock)
    for _ in range(2):
        assert breaker.allow()
        breaker.failed()
    breaker.succeeded()  # a success resets the count
    for _ in range(3):
        assert breaker.allow()
        breaker.failed()
    assert breaker.state == OPEN
    assert not breaker.allow()
    clock.now += 29.9
    assert not breaker.allow()
    clock.now += 0.2
    assert breaker.state == HALF_OPEN
    assert breaker.allow()  # one probe
    assert not breaker.allow()  # and only one at a time
    breaker.failed()  # the probe failed: open for another cooldown
    assert breaker.state == OPEN
    clock.now += 30
    assert breaker.allow()
    breaker.succeeded()
    assert breaker.state == CLOSED
    assert breaker.allow()
    assert breaker.allow()


def test_an_abandoned_probe_lets_the_next_one_through() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failures=1, cooldown_s=1, clock=clock)
    breaker.failed()
    clock.now += 1
    assert breaker.allow()
    breaker.abandoned()
    assert breaker.allow()


def draft(channel: str = SMS) -> Draft:
    return Draft(
        lead_id="00000000-0000-0000-0000-000000000001",
        channel=channel,
        purpose=FIRST_TOUCH,
        facts=Facts(lead_first_name="Maria", brand_name="Casa Realty", city="Austin"),
        max_body_chars=100,
    )


def answer(**fields: object) -> str:
    return json.dumps(fields)


def test_a_usable_answer_is_read_into_subject_and_body() -> None:
    sms = answer(subject="", body="  Hi Maria, Casa Realty here. Want a list of homes in Austin? ")
    assert prompts.read_message(draft(), sms, "end_turn") == (
        "",
        "Hi Maria, Casa Realty here. Want a list of homes in Austin?",
    )
    email = "```json\n" + answer(subject="Homes in  Austin", body="Hi Maria, happy to help.") + "\n```"
    assert prompts.read_message(draft(EMAIL), email, "end_turn") == (
        "Homes in Austin",
        "Hi Maria, happy to help.",
    )


@pytest.mark.parametrize(
    ("channel", "text", "stop", "why"),
    [
        (SMS, "Hi Maria, Casa Realty here.", "end_turn", "MALFORMED_REPLY"),  # not JSON
        (SMS, "[1, 2]", "end_turn", "MALFORMED_REPLY"),  # not an object
        (SMS, answer(body=""), "end_turn", "MALFORMED_REPLY"),
        (SMS, answer(body=7), "end_turn", "MALFORMED_REPLY"),
        (SMS, answer(body="Casa Realty " + "x" * 100), "end_turn", "MALFORMED_REPLY"),  # over the budget
        (SMS, answer(body="Hi Maria, want to see homes?"), "end_turn", "MALFORMED_REPLY"),  # no brand
        (SMS, answer(body="Hi Maria, Casa Realty here."), "max_tokens", "MALFORMED_REPLY"),  # cut off
        (SMS, "", "refusal", "MODEL_REFUSED"),
        (EMAIL, answer(subject="", body="Hi Maria"), "end_turn", "MALFORMED_REPLY"),  # email needs a subject
        (EMAIL, answer(subject="s" * 121, body="Hi Maria"), "end_turn", "MALFORMED_REPLY"),
    ],
)
def test_an_unusable_answer_is_refused_with_its_reason(channel: str, text: str, stop: str, why: str) -> None:
    with pytest.raises(prompts.Unusable) as refused:
        prompts.read_message(draft(channel), text, stop)
    assert refused.value.reason == why


def test_reply_readings_must_name_a_known_intent_and_a_score_in_range() -> None:
    assert prompts.read_reply_analysis(answer(intent="not_now", score=-0.2), "end_turn") == ("not_now", -0.2)
    for bad in (
        answer(intent="maybe", score=0),
        answer(intent="angry", score=3),
        answer(intent="angry", score=True),
    ):
        with pytest.raises(prompts.Unusable):
            prompts.read_reply_analysis(bad, "end_turn")


def test_the_system_part_is_the_same_for_every_lead_and_the_user_part_holds_only_this_one() -> None:
    a = prompts.message_prompt(draft())
    other = Draft(
        lead_id="00000000-0000-0000-0000-000000000002",
        channel=EMAIL,
        purpose="follow_up",
        facts=Facts(lead_first_name="Jordan", brand_name="Casa Realty", lead_score=87.0),
        max_body_chars=900,
        step_index=3,
    )
    b = prompts.message_prompt(other)
    assert a.system == b.system
    assert "Maria" not in a.system
    assert "Jordan" in b.user
    assert "Maria" not in b.user
    assert "87" not in b.user  # the lead's score is ours, not something to quote to them
    task = json.loads(b.user)
    assert (task["channel"], task["purpose"], task["step"], task["facts"]) == (
        "email",
        "follow_up",
        3,
        {"lead_first_name": "Jordan", "brand_name": "Casa Realty"},
    )
    assert a.sha256 != b.sha256
    assert len(a.sha256) == 64
    params = a.params("claude-sonnet-5-5", 600)
    assert params["system"][0]["cache_control"] == {"type": "ephemeral"}
    assert params["messages"] == [{"role": "user", "content": a.user}]
