"""Cadences, purely: what a valid one is, the default every location gets, and when a
step falls due in the lead's own time zone. No I/O.

The default (speed to lead first, then thinning out; domain.md §5): a text and an email
at once, then follow-ups after 1, 3, 7, 14 and 30 days, then monthly to six months.
Step 0 is the first touch, which keeps choosing its channel by consent (text, else
email); a same-moment step on the channel step 0 already used is skipped, so a lead
reachable only by email gets one email at the start, not two. Steps on a channel the
lead has no address for are skipped (a phone-only lead walks the texts only). Steps on a channel the
lead has no address for are skipped (a phone-only lead walks the texts only).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from leadengine.common.v1 import common_pb2
from leadengine.content.v1 import content_service_pb2 as content_pb

from shared.errors import FieldViolation, InvalidArgument

SMS = common_pb2.CHANNEL_SMS
EMAIL = common_pb2.CHANNEL_EMAIL
FIRST_TOUCH = content_pb.MESSAGE_PURPOSE_FIRST_TOUCH
FOLLOW_UP = content_pb.MESSAGE_PURPOSE_FOLLOW_UP
RE_ENGAGEMENT = content_pb.MESSAGE_PURPOSE_RE_ENGAGEMENT
MAX_STEPS = 50
MAX_DELAY = timedelta(days=3 * 366)
DEFAULT_NAME = "Speed to lead, then nurture for six months"


@dataclass(frozen=True)
class Step:
    delay: timedelta
    channel: common_pb2.Channel.ValueType
    purpose: content_pb.MessagePurpose.ValueType = FOLLOW_UP


@dataclass(frozen=True)
class Cadence:
    cadence_id: uuid.UUID
    location_id: str
    name: str
    steps: tuple[Step, ...]
    is_default: bool
    create_time: datetime | None = None
    update_time: datetime | None = None


def _days(n: int) -> timedelta:
    return timedelta(days=n)


DEFAULT_STEPS: tuple[Step, ...] = (
    Step(timedelta(0), SMS, FIRST_TOUCH),
    Step(timedelta(0), EMAIL, FIRST_TOUCH),
    *(Step(_days(d), ch) for d in (1, 3, 7, 14, 30) for ch in ((SMS,) if d in (1, 7) else (EMAIL,))),
    *(Step(_days(30 * month), EMAIL) for month in range(2, 7)),
)


def validate(steps: tuple[Step, ...], location_id: str) -> None:
    """INVALID_ARGUMENT naming the first bad field; nothing is stored then."""

    def bad(field: str, why: str) -> InvalidArgument:
        return InvalidArgument(
            f"{field} {why}", reason="INVALID_CADENCE", violations=[FieldViolation(field, why)]
        )

    if not location_id.strip():
        raise bad("cadence.location_id", "is required")
    if not steps:
        raise bad("cadence.steps", "must name at least one step")
    if len(steps) > MAX_STEPS:
        raise bad("cadence.steps", f"has {len(steps)} steps; the limit is {MAX_STEPS}")
    previous = timedelta(0)
    for i, step in enumerate(steps):
        if step.delay < timedelta(0):
            raise bad(f"cadence.steps[{i}].delay", "must not be negative")
        if step.delay < previous:
            raise bad(f"cadence.steps[{i}].delay", "must not be shorter than the step before it")
        if step.delay > MAX_DELAY:
            raise bad(f"cadence.steps[{i}].delay", "must be at most three years")
        if step.channel not in (SMS, EMAIL):
            raise bad(f"cadence.steps[{i}].channel", "must be CHANNEL_SMS or CHANNEL_EMAIL")
        if step.purpose not in (FIRST_TOUCH, FOLLOW_UP, RE_ENGAGEMENT):
            raise bad(f"cadence.steps[{i}].purpose", "must be FIRST_TOUCH, FOLLOW_UP or RE_ENGAGEMENT")
        previous = step.delay


def step_time(start: datetime, delay: timedelta, zone: ZoneInfo | None) -> datetime:
    """When a step `delay` after `start` falls due. Whole days are calendar days on the
    lead's wall clock (a +1 d step at 10:00 local stays 10:00 local across a DST change);
    the rest of the delay is elapsed time. A wall time a DST change skips is shifted
    forward by the gap; a repeated one takes its first occurrence."""
    if zone is None:
        return start + delay
    whole_days = timedelta(days=delay.days)
    wall = start.astimezone(zone) + whole_days  # aware + timedelta: wall-clock arithmetic
    return wall.astimezone(UTC) + (delay - whole_days)


def next_step(
    steps: tuple[Step, ...],
    after: int,
    first_channel: common_pb2.Channel.ValueType,
    addressable: frozenset[common_pb2.Channel.ValueType],
) -> int | None:
    """The index of the step that follows step `after`, or None when the cadence is done.
    Skips steps on a channel the lead has no address for, and a same-moment step on the
    channel the first touch already used."""
    for i in range(after + 1, len(steps)):
        step = steps[i]
        if step.channel not in addressable:
            continue
        if step.delay == timedelta(0) and step.channel == first_channel:
            continue
        return i
    return None
