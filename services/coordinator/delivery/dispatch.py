"""Hand one claimed message to its provider, exactly once.

    claim (scheduler / first touch)  ->  begin: row lock, send-time re-check, attempt 'sending'
    ->  provider call  ->  commit the provider id (QUEUED)

A crash between 'sending' and the commit leaves the attempt open. Nothing calls the
provider for that message again until the provider's own records have been asked
(`ProviderSender.find`): found, the id is recorded; provably absent, it is sent again.
An answerless call (timeout, 5xx) is treated the same way at once. 429 and connection
failures never reached the provider and are retried with exponential backoff and jitter,
the send-time check repeated before each call, for at most the retry budget.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from leadengine.common.v1 import common_pb2
from leadengine.coordinator.v1 import coordinator_service_pb2 as pb
from prometheus_client import Counter

from services.coordinator.compliance import evaluation, gates, reply_keys
from services.coordinator.compliance.gates import Action, Gate
from services.coordinator.compliance.repository import ConsentRepository
from services.coordinator.compliance.rules import TimeRule
from services.coordinator.delivery import crashpoints, provider_status
from services.coordinator.delivery.attempts import (
    IN_DOUBT,
    REFUSED,
    AttemptRepository,
    Decision,
    Held,
)
from services.coordinator.delivery.credentials import ACTIVE, NEEDS_REINSTALL, UNINSTALLED
from services.coordinator.delivery.provider_config import HIGHLEVEL, ProviderConfig
from services.coordinator.delivery.providers import (
    CallResult,
    LookupFailed,
    Outgoing,
    ProviderSender,
    Verdict,
)
from services.coordinator.delivery.reports import twilio_stop_block
from services.coordinator.delivery.repository import Communication
from services.coordinator.delivery.senders import NO_CREDENTIALS
from shared import unsubscribe

log = logging.getLogger(__name__)

SENT_TOTAL = Counter(
    "delivery_provider_calls_total", "Provider send calls by outcome", ["provider", "verdict"]
)
# What each dispatch left the message as: bounded labels only (never lead, address or body).
SENDS = Counter(
    "delivery_sends_total",
    "Outbound messages dispatched, by channel and the status they ended in (scheduled = deferred).",
    ["channel", "status"],
)
AUTH_ALERTS = Counter(
    "delivery_credentials_rejected_total", "Provider answers 401/403: credentials need a person", ["provider"]
)
UNSUBSCRIBE_FOOTER = "\n\nUnsubscribe: {url}"


def highlevel_decision(held: Held, *, has_env_token: bool) -> Decision:
    """A location whose app was uninstalled, or whose refresh HighLevel refused, must not
    be sent for with any token (not even the env one): FAILED with that reason. Without an
    install or an env token nothing can be sent: SIMULATED, as without credentials."""
    if held.highlevel_state in (NEEDS_REINSTALL, UNINSTALLED):
        return ("settle", pb.COMMUNICATION_STATUS_FAILED, held.highlevel_reason, None)
    if held.highlevel_state != ACTIVE and not has_env_token:
        reason = f"no HighLevel app install for location {held.location_id!r} and no HIGHLEVEL_ACCESS_TOKEN"
        return ("settle", pb.COMMUNICATION_STATUS_SIMULATED, reason, None)
    return ("send", HIGHLEVEL)


def label_of(channel: int) -> str:
    """CHANNEL_SMS -> "sms": a metric label from the enum's name, bounded by the enum."""
    return common_pb2.Channel.Name(channel).removeprefix("CHANNEL_").lower()  # type: ignore[arg-type]


def status_label(status: int) -> str:
    return pb.CommunicationStatus.Name(status).removeprefix("COMMUNICATION_STATUS_").lower()  # type: ignore[arg-type]


def backoff_s(tries: int, base: float, cap: float, rng: random.Random) -> float:
    """Full jitter: uniform in [0, min(cap, base * 2**tries)]."""
    return rng.uniform(0.0, min(cap, base * (2**tries)))


class Dispatcher:
    def __init__(
        self,
        attempts: AttemptRepository,
        consents: ConsentRepository,
        senders: dict[str, ProviderSender],
        cfg: ProviderConfig,
        *,
        window: TimeRule | None,
        lease: timedelta,
        clock: Callable[[], datetime],
        crash: crashpoints.CrashPoints | None = None,
        sleep: Callable[[float], object] = asyncio.sleep,
    ) -> None:
        self._attempts = attempts
        self._consents = consents
        self._senders = senders
        self._cfg = cfg
        self._window = window
        self._lease = lease
        self._clock = clock
        self._crash = crash or crashpoints.CrashPoints()
        self._sleep = sleep
        self._rng = random.Random()  # noqa: S311 - jitter, not security

    def provider_for(self, held: Held) -> str:
        if held.message.channel == gates.SMS:
            return held.sms_provider or self._cfg.sms_provider
        return held.email_provider or self._cfg.email_provider

    def _decide(self, held: Held, now: datetime) -> Decision:
        """The send-time check, made under the message's row lock: consent, suppression and
        every time rule re-read (the caps were counted by ComplianceChecks just before)."""
        m = held.message
        if reply_keys.answers_the_lead(m.step_key):
            late = reply_keys.too_late(m.step_key, m.create_time, now)
            if late:
                return ("settle", pb.COMMUNICATION_STATUS_BLOCKED, late, None)
            decision = Gate(Action.SEND)  # the lead asked for it by writing to us
        else:
            decision = evaluation.plan(m.channel, m.address, held.facts, now, self._window)
        if decision.action is Action.BLOCK:
            return ("settle", pb.COMMUNICATION_STATUS_BLOCKED, decision.reason, None)
        if decision.action is Action.HOLD:  # SCHEDULED with no time: held for review
            return ("settle", pb.COMMUNICATION_STATUS_SCHEDULED, decision.reason, None)
        if decision.action is Action.SCHEDULE:
            return ("settle", pb.COMMUNICATION_STATUS_SCHEDULED, decision.reason, decision.scheduled_time)
        provider = self.provider_for(held)
        if provider not in self._senders:
            return ("settle", pb.COMMUNICATION_STATUS_SIMULATED, NO_CREDENTIALS, None)
        if provider == HIGHLEVEL:
            return highlevel_decision(held, has_env_token=bool(self._cfg.highlevel_token))
        return ("send", provider)

    def outgoing(self, held: Held) -> Outgoing:
        m = held.message
        url = ""
        body = m.body
        if m.channel == gates.EMAIL and self._cfg.unsubscribe_key and self._cfg.public_base_url:
            named = unsubscribe.Unsubscribe(m.lead_id, int(m.channel), held.location_id)
            token = unsubscribe.sign(named, self._cfg.unsubscribe_key)
            url = f"{self._cfg.public_base_url}/unsubscribe/{token}"
            body += UNSUBSCRIBE_FOOTER.format(url=url)
        return Outgoing(
            communication_id=m.communication_id,
            channel=m.channel,
            to=m.address,
            subject=m.subject,
            body=body,
            contact_id=held.contact_id,
            unsubscribe_url=url,
            location_id=held.location_id,
        )

    async def remember_contact(self, lead_id: uuid.UUID, location_id: str, contact_id: str) -> None:
        """The lead's CRM contact id, which HighLevel sends need."""
        await self._attempts.remember_contact(lead_id, location_id, contact_id)

    async def dispatch(
        self, message: Communication, now: datetime | None = None, *, retry: bool = True
    ) -> Communication:
        """Send a message this worker has claimed, as of `now` (the scheduler's clock);
        returns the row as it ends up. With retry=False (a caller inside an RPC deadline)
        a 429/5xx/timeout hands the message to the scheduler instead of waiting here."""
        done = await self._dispatch(message, now, retry=retry)
        if done is not message:  # the row was gone or another worker's: nothing was decided here
            SENDS.labels(label_of(done.channel), status_label(done.status)).inc()
        return done

    async def _dispatch(self, message: Communication, now: datetime | None, *, retry: bool) -> Communication:
        cid, token = message.communication_id, message.claim_token
        started = self._clock()
        base = now or started
        tries = 0
        last = ""
        while True:
            now = base + (self._clock() - started)
            begin = await self._attempts.begin(cid, token, now, functools.partial(self._decide, now=now))
            if begin.settled is not None:
                return begin.settled
            if begin.attempt is None:
                if begin.held is None:
                    return message  # the row is gone
                # An earlier call's outcome is unknown: ask the provider before anything else.
                found = await self._reconcile(begin.held)
                if found is not None:
                    return found
                continue
            assert begin.held is not None
            held, attempt = begin.held, begin.attempt
            sender = self._senders[attempt.provider]
            out = self.outgoing(held)
            self._crash.at("before_call")
            timer = self._crash.arm("during_call")
            try:
                result = await sender.send(out)
            finally:
                if timer is not None:
                    timer.cancel()
            SENT_TOTAL.labels(attempt.provider, result.verdict.value).inc()
            self._crash.at("after_call")
            if result.verdict is Verdict.ACCEPTED:
                done = await self._attempts.accepted(
                    attempt.attempt_id, result.provider_message_id, pb.COMMUNICATION_STATUS_QUEUED
                )
                self._crash.at("after_commit")
                return done
            if result.verdict in (Verdict.REFUSED, Verdict.AUTH):
                await self._attempts.mark(attempt.attempt_id, REFUSED, result.reason)
                return await self._refused(held, attempt.provider, result)
            # RETRY: never arrived. IN_DOUBT: may have; the next begin() reconciles it first.
            state = IN_DOUBT if result.verdict is Verdict.IN_DOUBT else REFUSED
            await self._attempts.mark(attempt.attempt_id, state, result.reason)
            last = result.reason
            if not retry:
                await self._attempts.release(cid, token, f"provider asked to retry later: {last}")
                held_now = await self._attempts.hold(cid)
                return held_now.message if held_now is not None else message
            pause = backoff_s(tries, self._cfg.backoff_base_s, self._cfg.backoff_max_s, self._rng)
            if result.retry_after_s is not None:
                pause = max(pause, min(result.retry_after_s, self._cfg.backoff_max_s))
            tries += 1
            if (self._clock() - started).total_seconds() + pause > self._cfg.retry_budget_s:
                return await self._give_up(cid, token, tries, last)
            # Hold the claim across the pause, or stop if someone else has it now.
            # (On the caller's clock, which begin() checks the claim against.)
            at = base + (self._clock() - started)
            if not await self._attempts.extend(cid, token, at + self._lease):
                return message
            await self._sleep(pause)  # type: ignore[misc]

    async def _give_up(self, cid: uuid.UUID, token: uuid.UUID | None, tries: int, last: str) -> Communication:
        held = await self._attempts.hold(cid)
        assert held is not None
        if held.open_attempts:
            found = await self._reconcile(held)
            if found is not None:
                return found
            held = await self._attempts.hold(cid)
            assert held is not None
            if held.open_attempts:
                # The provider could not say whether it has the message: leave it to the
                # reconciler rather than claim a failure that may not be true.
                await self._attempts.release(cid, token)
                return held.message
        budget = self._cfg.retry_budget_s
        return await self._attempts.fail(
            cid, pb.COMMUNICATION_STATUS_FAILED, f"gave up after {tries} tries in {budget:g}s: {last}"
        )

    async def _refused(self, held: Held, provider: str, result: CallResult) -> Communication:
        m = held.message
        if result.verdict is Verdict.AUTH:
            AUTH_ALERTS.labels(provider).inc()
            log.error(
                "provider rejected our credentials; messages to it fail until they are fixed",
                extra={"provider": provider, "reason": result.reason, "location_id": held.location_id},
            )
        if provider_status.opts_out(m.channel, result.error_code):
            await self._consents.revoke(twilio_stop_block(m.address, m.lead_id, self._clock()))
        return await self._attempts.fail(m.communication_id, pb.COMMUNICATION_STATUS_FAILED, result.reason)

    async def _reconcile(self, held: Held) -> Communication | None:
        """Settle open attempts from the provider's records. Returns the row when the
        message turned out to be with the provider (or cannot be checked now); None when
        every open attempt is provably absent, so sending again is safe."""
        m = held.message
        provider = held.open_attempts[0].provider
        sender = self._senders.get(provider)
        if sender is None:
            log.error("open attempt for a provider no longer configured", extra={"provider": provider})
            await self._attempts.release(m.communication_id, m.claim_token)
            return m
        exclude = await self._attempts.ids_sent_to(m.channel, m.address, m.communication_id)
        try:
            found = await sender.find(self.outgoing(held), exclude)
        except LookupFailed as err:
            log.warning("in-doubt send not yet reconcilable", extra={"reason": str(err)})
            await self._attempts.release(m.communication_id, m.claim_token)
            return m
        if found:
            return await self._attempts.accepted(
                held.open_attempts[-1].attempt_id, found, pb.COMMUNICATION_STATUS_QUEUED
            )
        await self._attempts.absent([a.attempt_id for a in held.open_attempts])
        return None

    async def reconcile_stale(self, now: datetime, limit: int) -> int:
        """Settle calls a dead worker left open: found -> recorded; absent -> the message
        is due again (if still SCHEDULED). Returns how many messages were looked at."""
        older = now - timedelta(seconds=self._cfg.timeout_s * 2)
        claimed = await self._attempts.claim_stale(older, now, now + self._lease, limit)
        for message in claimed:
            held = await self._attempts.hold(message.communication_id)
            if held is None or not held.open_attempts:
                continue
            if await self._reconcile(held) is None:
                await self._attempts.release(message.communication_id, message.claim_token)
        return len(claimed)
