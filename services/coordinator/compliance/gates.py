"""The consent side of the gates (channel choice, suppression, opt-out, basis, address)
and the words every gate decision is told in (Action, Gate). Pure.

The clock side is compliance.rules (windows per state) and the whole evaluation, with
caps and each verdict, is compliance.evaluation; both take `now` from the caller, so
the same rules run when a message is first recorded and again when the scheduler is
about to send it (recompute at send time: DST and delays move the window).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from functools import lru_cache
from zoneinfo import ZoneInfo

from leadengine.common.v1 import common_pb2

SMS = common_pb2.CHANNEL_SMS
EMAIL = common_pb2.CHANNEL_EMAIL

NO_CONSENTED_CHANNEL = "no channel the lead consented to"
ZONE_UNKNOWN = (
    "held for review: recipient's time zone unknown, automated texts wait for a person (compliance)"
)


@dataclass(frozen=True)
class ContactFacts:
    """What the coordinator knows about reaching a lead, opt-outs included."""

    phone: str = ""
    email: str = ""
    timezone: str = ""
    sms_consent: bool = False
    email_consent: bool = False
    sms_opted_out: bool = False
    email_opted_out: bool = False
    # Why the lead's phone / email is on the suppression list (anyone's STOP from that
    # number, a bounce, a spam report...); empty when it is not.
    sms_suppressed: str = ""
    email_suppressed: str = ""
    # Where the lead says it lives (two-letter state, ZIP): more signals for its zone.
    state: str = ""
    postal_code: str = ""

    def allows(self, channel: common_pb2.Channel.ValueType) -> bool:
        if channel == SMS:
            return bool(self.phone) and self.sms_consent and not self.sms_opted_out
        if channel == EMAIL:
            return bool(self.email) and self.email_consent and not self.email_opted_out
        return False

    def address(self, channel: common_pb2.Channel.ValueType) -> str:
        return self.phone if channel == SMS else self.email if channel == EMAIL else ""

    def suppression(self, channel: common_pb2.Channel.ValueType) -> str:
        return self.sms_suppressed if channel == SMS else self.email_suppressed if channel == EMAIL else ""


def choose_channel(facts: ContactFacts) -> common_pb2.Channel.ValueType | None:
    """SMS first (it is read within minutes), else email; None when the lead allows neither.
    A suppressed address loses to one that is not; when every allowed one is suppressed,
    the first is returned so that the gate records why it was refused."""
    allowed = [channel for channel in (SMS, EMAIL) if facts.allows(channel)]
    for channel in allowed:
        if not facts.suppression(channel):
            return channel
    return allowed[0] if allowed else None


def consent_checks(
    channel: common_pb2.Channel.ValueType, address: str, facts: ContactFacts
) -> list[tuple[str, str]]:
    """Each consent-side gate as (gate, why it refuses or ""), in the order they decide."""
    name = "SMS" if channel == SMS else "email"
    suppressed = facts.suppression(channel)
    opted_out = facts.sms_opted_out if channel == SMS else facts.email_opted_out
    consented = facts.sms_consent if channel == SMS else facts.email_consent
    withdrawn = f"lead no longer allows {name} (consent withdrawn or opted out)"
    moved = f"lead's {name} address changed after this message was written"
    return [
        (
            "suppression",
            f"{name} to {address} is suppressed: {suppressed}"
            if suppressed and address == facts.address(channel)
            else "",
        ),
        ("opt_out", withdrawn if opted_out else ""),
        ("consent", "" if consented and facts.address(channel) else withdrawn),
        # Consent is given for a specific number or address, not for whatever the lead has now.
        ("address", moved if address != facts.address(channel) else ""),
    ]


def refusal(channel: common_pb2.Channel.ValueType, address: str, facts: ContactFacts) -> str:
    """Why a message on `channel` to `address` may not go out at all, or "" when it may
    (the clock aside). Cheap and pure: callers run it before asking anyone to write."""
    return next((why for _, why in consent_checks(channel, address, facts) if why), "")


def lawful_channel(facts: ContactFacts) -> tuple[common_pb2.Channel.ValueType, str, str]:
    """The channel an automated message would go by, its address, and why it may not go
    at all ("" when it may, the clock aside). Callers run it before asking anyone to write."""
    channel = choose_channel(facts)
    if channel is None:
        return common_pb2.CHANNEL_UNSPECIFIED, "", NO_CONSENTED_CHANNEL
    address = facts.address(channel)
    return channel, address, refusal(channel, address, facts)


def _wall(instant: datetime, zone: ZoneInfo) -> datetime:
    return instant.astimezone(zone).replace(tzinfo=None)


@lru_cache(maxsize=8192)  # few (day, time, zone) combinations recur across many leads
def first_instant_at_or_after(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The earliest UTC instant whose local wall time is >= day+at. Usually that wall time
    itself; when it falls in a DST gap it does not exist, and the answer is the gap's end."""
    wall = datetime.combine(day, at)
    early = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if _wall(early, zone) == wall:
        return early
    # In a gap fold=1 reads the wall time with the later offset (an instant before the
    # jump) and fold=0 with the earlier one (after it); the jump lies between them.
    lo = int(wall.replace(tzinfo=zone, fold=1).astimezone(UTC).timestamp())
    hi = int(early.timestamp())
    while lo + 1 < hi:
        mid = (lo + hi) // 2
        if _wall(datetime.fromtimestamp(mid, UTC), zone) >= wall:
            hi = mid
        else:
            lo = mid
    return datetime.fromtimestamp(hi, UTC)


class Action(enum.Enum):
    SEND = "send"
    SCHEDULE = "schedule"
    # Held for a person to review: not sent, not dropped, no time to retry by itself.
    HOLD = "hold"
    BLOCK = "block"


@dataclass(frozen=True)
class Gate:
    action: Action
    reason: str = ""
    scheduled_time: datetime | None = None
