"""Campaigns, purely: what a valid one is, who of a page of leads joins its audience,
and when each member is enrolled. No I/O.

Enrolment is spread: member k is enrolled on day k // daily_limit (days counted from
the campaign's start) at the (k % daily_limit + ½) / daily_limit point of the lead's
own sending window that day, so a day's enrolments trickle through the window instead
of landing at its opening, and every first touch falls in the lead's allowed hours.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from leadengine.coordinator.v1 import coordinator_service_pb2 as pb
from leadengine.ingest.v1 import ingest_service_pb2 as ingest_pb

from services.coordinator.journeys.cadence import EMAIL, FOLLOW_UP, RE_ENGAGEMENT, SMS, Step
from shared.errors import FieldViolation, InvalidArgument

ACTIVE = pb.CAMPAIGN_STATE_ACTIVE
PAUSED = pb.CAMPAIGN_STATE_PAUSED
COMPLETED = pb.CAMPAIGN_STATE_COMPLETED
MAX_DAILY_LIMIT = 100_000
MAX_NAME = 200
MAX_TAGS = 50
DAY = timedelta(days=1)

# A member's state.
WAITING = 1
ENROLLED = 2
SKIPPED = 3

# Why a lead of the location is not part of the audience.
IN_JOURNEY = "already in a journey"
IN_CAMPAIGN = "already in another campaign"
OPTED_OUT = "opted out"
SUPPRESSED = "address suppressed"
CRM_DND = "do-not-disturb in the CRM"
DELETED = "deleted"
SCORE_ABOVE = "score above max_score"

RECOVERY_NAME = "Recovery: re-engage, then follow up for four weeks"
# domain.md §6: SMS first, email for longer content, 2-4 weeks of follow-ups, then stop.
RECOVERY_STEPS: tuple[Step, ...] = (
    Step(timedelta(0), SMS, RE_ENGAGEMENT),
    Step(timedelta(0), EMAIL, RE_ENGAGEMENT),
    Step(timedelta(days=3), SMS, FOLLOW_UP),
    Step(timedelta(days=7), EMAIL, FOLLOW_UP),
    Step(timedelta(days=14), SMS, FOLLOW_UP),
    Step(timedelta(days=28), EMAIL, FOLLOW_UP),
)
_RECOVERY_IDS = uuid.UUID("0b6f5c1e-3f0a-4c7e-9a51-4d9b8f2e7c10")
_CAMPAIGN_IDS = uuid.UUID("9d3a8e44-1c55-4f0b-b1a2-6e7f0c9d2a31")


class CampaignNotActive(Exception):
    """The campaign was paused while one of its members was being enrolled: the member
    goes back to waiting."""


def recovery_cadence_id(location_id: str) -> uuid.UUID:
    return uuid.uuid5(_RECOVERY_IDS, location_id)


def campaign_id_for(location_id: str, request_id: str) -> uuid.UUID:
    """A retried StartCampaign finds the campaign its first call started."""
    return uuid.uuid5(_CAMPAIGN_IDS, f"{location_id}:{request_id}")


@dataclass(frozen=True)
class Audience:
    min_days_inactive: int = 0
    tags: tuple[str, ...] = ()
    sources: tuple[int, ...] = ()
    max_score: float = 0.0


@dataclass(frozen=True)
class Counts:
    audience: int = 0
    enrolled: int = 0
    sent: int = 0
    replied: int = 0
    opted_out: int = 0
    converted: int = 0
    skipped: int = 0


@dataclass(frozen=True)
class Campaign:
    campaign_id: uuid.UUID
    location_id: str
    name: str
    cadence_id: uuid.UUID | None
    audience: Audience
    daily_limit: int
    state: pb.CampaignState.ValueType = ACTIVE
    counts: Counts = field(default_factory=Counts)
    start_time: datetime | None = None
    inactive_since: datetime | None = None
    # ingest's page token of the next audience page; None once every page was read.
    audience_token: str | None = ""
    create_time: datetime | None = None
    update_time: datetime | None = None


def _bad(field_path: str, why: str) -> InvalidArgument:
    return InvalidArgument(
        f"{field_path} {why}", reason="INVALID_CAMPAIGN", violations=[FieldViolation(field_path, why)]
    )


def validated(given: pb.Campaign, *, campaign_id: uuid.UUID, cadence_id: uuid.UUID | None) -> Campaign:
    """INVALID_ARGUMENT naming the first bad field; nothing is stored then."""
    location = given.location_id.strip()
    if not location:
        raise _bad("campaign.location_id", "is required")
    name = " ".join(given.name.split())
    if not name:
        raise _bad("campaign.name", "is required")
    if len(name) > MAX_NAME:
        raise _bad("campaign.name", f"must be at most {MAX_NAME} characters")
    if not 1 <= given.daily_limit <= MAX_DAILY_LIMIT:
        raise _bad("campaign.daily_limit", f"must be 1..{MAX_DAILY_LIMIT}")
    a = given.audience
    if not 0 <= a.min_days_inactive <= 36_600:
        raise _bad("campaign.audience.min_days_inactive", "must be 0..36600")
    if not 0 <= a.max_score <= 100:
        raise _bad("campaign.audience.max_score", "must be 0..100 (0: any score)")
    tags = tuple(dict.fromkeys(" ".join(t.split()).lower() for t in a.tags if t.strip()))
    if len(tags) > MAX_TAGS or any(len(t) > 100 for t in tags):
        raise _bad("campaign.audience.tags", f"at most {MAX_TAGS} tags of at most 100 characters")
    known = set(ingest_pb.LeadSource.values()) - {ingest_pb.LEAD_SOURCE_UNSPECIFIED}
    if any(s not in known for s in a.sources):
        raise _bad("campaign.audience.sources", "must name LeadSource values other than UNSPECIFIED")
    return Campaign(
        campaign_id=campaign_id,
        location_id=location,
        name=name,
        cadence_id=cadence_id,
        audience=Audience(
            min_days_inactive=a.min_days_inactive,
            tags=tags,
            sources=tuple(sorted(set(a.sources))),
            max_score=a.max_score,
        ),
        daily_limit=given.daily_limit,
    )


def inactive_since(audience: Audience, now: datetime) -> datetime | None:
    return now - timedelta(days=audience.min_days_inactive) if audience.min_days_inactive else None


def leads_request(
    c: Campaign, since: datetime | None, page_token: str, page_size: int
) -> ingest_pb.ListLeadsRequest:
    """The ingest query for one page of the campaign's candidates, oldest first (stable)."""
    request = ingest_pb.ListLeadsRequest(
        location_id=c.location_id,
        page_size=page_size,
        page_token=page_token,
        sources=list(c.audience.sources),  # type: ignore[arg-type]
        any_tags=list(c.audience.tags),
        oldest_first=True,
    )
    if since is not None:
        request.inactive_since_time.FromDatetime(since)
    return request


@dataclass(frozen=True)
class Standing:
    """What the coordinator knows of a lead that keeps it out of every campaign."""

    in_journey: bool = False
    in_campaign: bool = False
    opted_out: bool = False
    suppressed: bool = False


def exclusion(lead: ingest_pb.Lead, standing: Standing, score: float | None, max_score: float) -> str:
    """Why the lead is not part of the audience, or "" when it is. Opt-outs, suppressions
    and deletions always exclude; so does a journey or another campaign (never twice)."""
    if lead.HasField("delete_time"):
        return DELETED
    if standing.opted_out:
        return OPTED_OUT
    if standing.suppressed:
        return SUPPRESSED
    if lead.sms_dnd or lead.email_dnd:
        return CRM_DND
    if standing.in_journey:
        return IN_JOURNEY
    if standing.in_campaign:
        return IN_CAMPAIGN
    if max_score and (score or 0.0) > max_score:
        return SCORE_ABOVE
    return ""


def _window_length(window: SendWindow) -> timedelta:
    start = timedelta(hours=window.start.hour, minutes=window.start.minute)
    end = timedelta(hours=window.end.hour, minutes=window.end.minute)
    return (end - start) % DAY


@dataclass(frozen=True)
class SendWindow:
    """Local wall-clock hours over which a day's enrolments are spread: [start, end), the
    complement of the configured quiet hours. Only a spread: the gates (state windows
    included) decide when each message goes."""

    start: time
    end: time

    @classmethod
    def from_quiet_hours(cls, quiet_start: time, quiet_end: time) -> SendWindow:
        return cls(start=quiet_end, end=quiet_start)

    def contains(self, wall: time) -> bool:
        if self.start < self.end:
            return self.start <= wall < self.end
        return wall >= self.start or wall < self.end


def due_time(
    start: datetime, position: int, daily_limit: int, zone: ZoneInfo | None, window: SendWindow
) -> datetime:
    """When member `position` is enrolled: on its day, inside the lead's window. A lead
    with no known zone (reachable by email only) is spread over the whole day instead."""
    day, slot = divmod(position, daily_limit)
    block = start + day * DAY
    fraction = (slot + 0.5) / daily_limit
    if zone is None:
        return block + fraction * DAY
    offset = timedelta(hours=window.start.hour, minutes=window.start.minute) + fraction * _window_length(
        window
    )
    local_day = block.astimezone(zone).date()
    for extra in range(3):
        wall = datetime.combine(local_day + timedelta(days=extra), time(0)) + offset
        candidate = wall.replace(tzinfo=zone).astimezone(UTC)
        if candidate >= block:
            return candidate
    return block  # unreachable for real zones; the gates still hold a text outside the window


def day_start(start: datetime, now: datetime) -> datetime:
    """The start of the campaign day `now` falls in (days run from the campaign's start)."""
    if now <= start:
        return start
    return start + ((now - start) // DAY) * DAY


def days_to_enroll(audience: int, daily_limit: int) -> int:
    return -(-audience // daily_limit)
