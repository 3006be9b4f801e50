"""Every gate an automated message passes, evaluated at one instant, with each verdict
kept for the compliance record. Pure: the caller passes the clock, the recipient and
the send history, so the first touch, the scheduler (at send time) and SimulateCadence
(dry run, nothing written) all run this same code.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from leadengine.common.v1 import common_pb2

from services.coordinator.compliance import gates, rules
from services.coordinator.compliance.gates import SMS, Action, ContactFacts, Gate
from services.coordinator.compliance.recipient import Recipient
from services.coordinator.compliance.recipient import of as recipient_of
from services.coordinator.compliance.rules import TimeRule

DAY = timedelta(hours=24)
WEEK = timedelta(days=7)
PASS, FAIL, WAIT, HOLD, SKIP = "pass", "fail", "wait", "hold", "not applicable"
# Re-evaluations while windows and caps push each other later; far more than any table needs.
_MAX_ROUNDS = 50


@dataclass(frozen=True)
class Caps:
    """Automated messages per lead per channel (rolling 24 h and 7 days)."""

    sms_day: int = 2
    sms_week: int = 5
    email_day: int = 2
    email_week: int = 5

    def of(self, channel: common_pb2.Channel.ValueType) -> tuple[int, int]:
        return (self.sms_day, self.sms_week) if channel == SMS else (self.email_day, self.email_week)


@dataclass(frozen=True)
class Limits:
    caps: Caps
    # The configured quiet hours as a rule (None: the legal window only).
    window: TimeRule | None = None


@dataclass(frozen=True)
class History:
    """Sends the caps count, any order. phone_sends: texts to this number in the last
    24 h from any lead or location (automated or a person's); lead_sends: this lead's
    automated messages on this channel in the last 7 days."""

    phone_sends: tuple[datetime, ...] = ()
    lead_sends: tuple[datetime, ...] = ()


@dataclass(frozen=True)
class Verdict:
    gate: str
    verdict: str  # PASS, FAIL, WAIT (later), HOLD (for review) or SKIP
    detail: str = ""

    def as_record(self) -> dict[str, str]:
        return {"gate": self.gate, "verdict": self.verdict, "detail": self.detail}


@dataclass(frozen=True)
class Evaluation:
    decision: Gate
    verdicts: tuple[Verdict, ...]
    recipient: Recipient | None
    rules_version: str = rules.RULES_VERSION

    def gates_record(self) -> list[dict[str, Any]]:
        return [v.as_record() for v in self.verdicts]


def _release(sends: tuple[datetime, ...], at: datetime, span: timedelta, cap: int) -> datetime | None:
    """When fewer than `cap` of `sends` fall in (t - span, t] for t >= at; None if already."""
    recent = sorted(s for s in sends if at - span < s <= at)
    if len(recent) < cap:
        return None
    return recent[len(recent) - cap] + span


def _caps_at(
    channel: common_pb2.Channel.ValueType,
    at: datetime,
    limits: Limits,
    history: History,
    state_cap: tuple[int, str] | None,
) -> tuple[datetime | None, str]:
    """The earliest instant the caps allow a send at or after `at` (None: `at` itself)
    and, if not `at`, which cap held it."""
    day_cap, week_cap = limits.caps.of(channel)
    checks: list[tuple[datetime | None, str]] = [
        (_release(history.lead_sends, at, DAY, day_cap), f"frequency cap {day_cap} per 24 h for this lead"),
        (
            _release(history.lead_sends, at, WEEK, week_cap),
            f"frequency cap {week_cap} per 7 days for this lead",
        ),
    ]
    if state_cap is not None:
        cap, states = state_cap
        checks.append(
            (_release(history.phone_sends, at, DAY, cap), f"{states} cap {cap} texts per 24 h to this number")
        )
    held = [(t, why) for t, why in checks if t is not None]
    if not held:
        return None, ""
    return max(held, key=lambda c: c[0])


@cache
def _rules_words(applied: tuple[TimeRule, ...]) -> str:
    return " and ".join(r.describe() for r in applied)


@cache
def _state_cap(applied: tuple[TimeRule, ...]) -> tuple[int, str] | None:
    capped = [r for r in applied if r.cap_24h is not None]
    if not capped:
        return None
    cap = min(r.cap_24h for r in capped if r.cap_24h is not None)
    return cap, "/".join(r.key for r in capped)


def _cap_verdicts(
    channel: common_pb2.Channel.ValueType,
    now: datetime,
    limits: Limits,
    history: History,
    state_cap: tuple[int, str] | None,
) -> list[Verdict]:
    day_cap, week_cap = limits.caps.of(channel)
    day = sum(1 for s in history.lead_sends if now - DAY < s <= now)
    week = sum(1 for s in history.lead_sends if now - WEEK < s <= now)
    out = [
        Verdict(
            "frequency_cap",
            PASS if day < day_cap and week < week_cap else WAIT,
            f"{day} of {day_cap} in 24 h, {week} of {week_cap} in 7 days to this lead",
        )
    ]
    if channel == SMS:
        if state_cap is None:
            out.append(Verdict("state_cap", SKIP, "no per-number cap in the recipient's states"))
        else:
            sent = sum(1 for s in history.phone_sends if now - DAY < s <= now)
            out.append(
                Verdict(
                    "state_cap",
                    PASS if sent < state_cap[0] else WAIT,
                    f"{sent} of {state_cap[0]} texts in 24 h to this number ({state_cap[1]})",
                )
            )
    return out


def plan(
    channel: common_pb2.Channel.ValueType,
    address: str,
    facts: ContactFacts,
    at: datetime,
    window: TimeRule | None,
) -> Gate:
    """The gates at `at` without the caps' send history: for deciding when to record a
    message (a trigger touch, a campaign preview) and for the send-time re-check under the
    row lock, in each case just before or long before ComplianceChecks.check, which counts
    the caps and keeps the record."""
    return evaluate(
        channel, address, facts, recipient_of(facts), at, Limits(Caps(), window), History()
    ).decision


def evaluate(
    channel: common_pb2.Channel.ValueType,
    address: str,
    facts: ContactFacts,
    recipient: Recipient | None,
    now: datetime,
    limits: Limits,
    history: History,
) -> Evaluation:
    """May a message on `channel` to `address` go out at `now`; if not now, when?"""
    verdicts = [
        Verdict(name, FAIL if why else PASS, why)
        for name, why in gates.consent_checks(channel, address, facts)
    ]
    refused = next((v.detail for v in verdicts if v.verdict == FAIL), "")
    if refused:
        return Evaluation(Gate(Action.BLOCK, refused), tuple(verdicts), recipient)
    applied: tuple[TimeRule, ...] = ()
    if channel == SMS:
        if recipient is None or not recipient.known:
            verdicts.append(Verdict("recipient_zone", HOLD, gates.ZONE_UNKNOWN))
            return Evaluation(Gate(Action.HOLD, gates.ZONE_UNKNOWN), tuple(verdicts), recipient)
        verdicts.append(Verdict("recipient_zone", PASS, "; ".join(recipient.why)))
        applied = rules.rules_for(recipient.states, limits.window)
    else:
        verdicts.append(Verdict("time_window", SKIP, "email is not a telephone solicitation"))
    state_cap = _state_cap(applied)
    zones = recipient.zone_infos if recipient is not None and channel == SMS else ()
    at, first_why = now, ""
    for _ in range(_MAX_ROUNDS):
        if zones:
            opening = rules.next_opening(at, zones, applied)
            if opening is None:
                reason = "held for review: no time in the next days that every rule allows"
                verdicts.append(Verdict("time_window", HOLD, reason))
                return Evaluation(Gate(Action.HOLD, reason), tuple(verdicts), recipient)
            if opening != at:
                refusing = rules.first_refusal(at, zones, applied)
                assert refusing is not None
                first_why = first_why or f"quiet hours in {refusing[1].key} ({refusing[0].name})"
                at = opening
        released, cap_why = _caps_at(channel, at, limits, history, state_cap)
        if released is None:
            break
        first_why = first_why or cap_why
        at = released
    else:
        raise ValueError(f"no send time found on channel {channel} from {now.isoformat()}")
    if channel == SMS:
        refusing_now = rules.first_refusal(now, zones, applied)
        verdicts.append(
            Verdict(
                "time_window",
                PASS if refusing_now is None else WAIT,
                _rules_words(applied)
                + ("" if refusing_now is None else f"; closed now in {refusing_now[1].key}"),
            ),
        )
    verdicts.extend(_cap_verdicts(channel, now, limits, history, state_cap))
    if at == now:
        return Evaluation(Gate(Action.SEND), tuple(verdicts), recipient)
    shown = at.astimezone(zones[0]) if zones else at
    label = f"{shown:%Y-%m-%d %H:%M} local" if zones else f"{shown:%Y-%m-%d %H:%M} UTC"
    return Evaluation(
        Gate(Action.SCHEDULE, f"{first_why}; held until {label}", scheduled_time=at),
        tuple(verdicts),
        recipient,
    )
