"""SimulateCadence: what a cadence would send to given leads, when, and what would be
held or blocked and why. In memory, writing nothing, with the gates production runs
(compliance.evaluation) and the walk production takes (journeys.cadence).

Every message is an event on one clock shared by all leads, taken in time order, so
leads sharing a phone number share its caps just as they do in production. As in
production, a message the gates reschedule is evaluated again at its new time, a step
falls due on the lead's wall clock (journeys.cadence.step_time), the next step is
scheduled once the previous one is settled, and any reply stops the journey.
Not simulated: content refusing to write a message, suppressions from earlier
activity (each lead's consent and DND are as given), pauses by a person.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from leadengine.common.v1 import common_pb2
from leadengine.coordinator.v1 import coordinator_service_pb2 as pb
from leadengine.ingest.v1 import ingest_service_pb2 as ingest_pb

from services.coordinator.compliance import basis, gates, keywords
from services.coordinator.compliance.basis import Policy
from services.coordinator.compliance.evaluation import DAY, WEEK, History, Limits, evaluate
from services.coordinator.compliance.gates import EMAIL, SMS, Action, ContactFacts
from services.coordinator.compliance.recipient import Recipient
from services.coordinator.compliance.recipient import of as recipient_of
from services.coordinator.journeys import cadence
from services.coordinator.journeys.cadence import Step
from shared import contact

SCHEDULED = pb.COMMUNICATION_STATUS_SCHEDULED
BLOCKED = pb.COMMUNICATION_STATUS_BLOCKED
MAX_LEADS = 10_000
MAX_HORIZON_DAYS = 400


@dataclass(frozen=True)
class Reply:
    lead_index: int
    after: timedelta
    body: str


@dataclass(frozen=True)
class Planned:
    lead_index: int
    channel: common_pb2.Channel.ValueType
    step_index: int
    status: pb.CommunicationStatus.ValueType
    reason: str
    send_time: datetime | None = None


@dataclass
class _Lead:
    facts: ContactFacts
    recipient: Recipient
    start: datetime
    # The zone the walker counts a step's calendar days in (None: UTC days).
    zone_for_steps: ZoneInfo | None
    first_channel: common_pb2.Channel.ValueType = common_pb2.CHANNEL_UNSPECIFIED
    stop_time: datetime | None = None
    stop_reason: str = ""
    stopped: bool = False
    sends: dict[int, list[datetime]] = field(default_factory=lambda: defaultdict(list))


def facts_of(lead: ingest_pb.Lead, policy: Policy, at: datetime) -> ContactFacts:
    """The lead's contact facts as production would record them under `policy`."""
    sms = basis.sms_basis(lead_consent=lead.sms_consent, lead_tags=lead.tags, policy=policy, at=at)
    email = basis.email_basis(lead_consent=lead.email_consent, policy=policy)
    return ContactFacts(
        phone=lead.phone,
        email=lead.email,
        timezone=lead.timezone,
        sms_consent=bool(sms.key),
        email_consent=bool(email.key),
        sms_opted_out=lead.sms_dnd,
        email_opted_out=lead.email_dnd,
        state=lead.state if lead.country.upper() in ("", "US") else "",
        postal_code=lead.postal_code if lead.country.upper() in ("", "US") else "",
    )


def _stop(replies: list[Reply]) -> tuple[timedelta, str] | None:
    """The first reply stops the journey; an opt-out in it is named."""
    if not replies:
        return None
    first = min(replies, key=lambda r: r.after)
    found = keywords.classify(first.body)
    if found.intent is keywords.Intent.OPT_OUT:
        return first.after, f"journey stopped: lead opted out ({found.words})"
    return first.after, "journey stopped: lead replied"


def simulate(
    steps: tuple[Step, ...],
    leads: list[ingest_pb.Lead],
    policy: Policy,
    limits: Limits,
    start: datetime,
    horizon: timedelta,
    replies: list[Reply],
) -> list[Planned]:
    """Every planned message, in the order the gates decided them."""
    end = start + horizon
    by_lead: dict[int, list[Reply]] = defaultdict(list)
    for reply in replies:
        by_lead[reply.lead_index].append(reply)
    state: list[_Lead] = []
    for i, lead in enumerate(leads):
        facts = facts_of(lead, policy, start)
        walk = _Lead(
            facts=facts,
            recipient=recipient_of(facts),
            start=start,
            zone_for_steps=contact.zone_for(facts.timezone, facts.phone),
        )
        stop = _stop(by_lead.get(i, []))
        if stop is not None:
            walk.stop_time, walk.stop_reason = start + stop[0], stop[1]
        state.append(walk)
    phone_sends: dict[str, list[datetime]] = defaultdict(list)
    # Why a message went later than due (the first reason the gates gave), by (lead, step).
    delayed: dict[tuple[int, int], str] = {}
    planned: list[Planned] = []
    # (time, lead, step, channel): a message due for the gates at `time`.
    queue: list[tuple[datetime, int, int, int]] = []
    for i, walk in enumerate(state):
        first = gates.choose_channel(walk.facts)
        if first is None:
            planned.append(Planned(i, common_pb2.CHANNEL_UNSPECIFIED, 0, BLOCKED, gates.NO_CONSENTED_CHANNEL))
            _schedule_after(walk, i, steps, 0, queue)
            continue
        walk.first_channel = first
        queue.append((start, i, 0, first))
    heapq.heapify(queue)

    while queue:
        at, i, index, raw_channel = heapq.heappop(queue)
        channel = common_pb2.Channel.ValueType(raw_channel)
        if at > end:
            break
        walk = state[i]
        if walk.stopped:
            continue
        if walk.stop_time is not None and walk.stop_time <= at:
            planned.append(Planned(i, channel, index, BLOCKED, walk.stop_reason))
            walk.stopped = True
            continue
        address = walk.facts.address(channel)
        lead_sends = tuple(s for s in walk.sends[channel] if s > at - WEEK)
        phone = tuple(s for s in phone_sends[address] if s > at - DAY) if channel == SMS else ()
        decision = evaluate(
            channel, address, walk.facts, walk.recipient, at, limits, History(phone, lead_sends)
        ).decision
        if decision.action is Action.SCHEDULE:
            assert decision.scheduled_time is not None
            delayed.setdefault((i, index), decision.reason)
            heapq.heappush(queue, (decision.scheduled_time, i, index, channel))
            continue
        if decision.action is Action.SEND:
            held = delayed.pop((i, index), "")
            reason = f"gates passed after {held}" if held else "gates passed"
            planned.append(Planned(i, channel, index, SCHEDULED, reason, at))
            walk.sends[channel].append(at)
            if channel == SMS:
                phone_sends[address].append(at)
        elif decision.action is Action.HOLD:
            planned.append(Planned(i, channel, index, SCHEDULED, decision.reason))
        else:
            planned.append(Planned(i, channel, index, BLOCKED, decision.reason))
        _schedule_after(walk, i, steps, index, queue, at)
    return planned


def _schedule_after(
    walk: _Lead,
    i: int,
    steps: tuple[Step, ...],
    index: int,
    queue: list[tuple[datetime, int, int, int]],
    settled: datetime | None = None,
) -> None:
    """journeys.steps.CadenceWalker.schedule_after, in memory."""
    facts = walk.facts
    reachable = any(
        facts.address(ch) and not (facts.sms_opted_out if ch == SMS else facts.email_opted_out)
        for ch in (SMS, EMAIL)
    )
    if not reachable:
        return
    addressable = frozenset(ch for ch in (SMS, EMAIL) if facts.address(ch))
    following = cadence.next_step(steps, index, walk.first_channel, addressable)
    if following is None:
        return
    step = steps[following]
    due = cadence.step_time(walk.start, step.delay, walk.zone_for_steps)
    # The scheduler claims a step no earlier than the one before it settled.
    heapq.heappush(queue, (max(due, settled or due), i, following, step.channel))
