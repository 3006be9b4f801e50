"""Agent notifications to the provider, exactly once, through the lead messages' senders.

    create (claimed by its creator) -> begin: row lock, opt-out re-read, attempt 'sending'
    -> provider call -> commit the provider id (QUEUED)

A crash anywhere leaves the notification pending (SCHEDULED) with its claim lapsing; the
sweeper then takes it, and an attempt left open is settled from the provider's own
records (`ProviderSender.find`) before anything is sent again. Unlike lead messages, no
retry waits inline: notifications are sent inside event handling, so a 429/5xx/timeout
hands the notification to the sweeper with a backoff, for at most the retry budget.

Texts go through Twilio and email through SendGrid: HighLevel's conversations API sends
only to a CRM contact, and an agent is a user, not a contact. Without those credentials a
notification is recorded SIMULATED, never SENT.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from leadengine.common.v1 import common_pb2
from leadengine.coordinator.v1 import coordinator_service_pb2 as pb
from prometheus_client import Counter

from services.coordinator.delivery import crashpoints, provider_status
from services.coordinator.delivery.attempts import IN_DOUBT, REFUSED, Attempt
from services.coordinator.delivery.dispatch import backoff_s
from services.coordinator.delivery.provider_config import SENDGRID, TWILIO, ProviderConfig
from services.coordinator.delivery.providers import LookupFailed, Outgoing, ProviderSender, Verdict
from services.coordinator.delivery.senders import NO_CREDENTIALS
from services.coordinator.notifications.attempts import Decision, NotificationAttempts
from services.coordinator.notifications.repository import Notification

log = logging.getLogger(__name__)

SMS = common_pb2.CHANNEL_SMS
EMAIL = common_pb2.CHANNEL_EMAIL
NOTIFICATION_CALLS = Counter(
    "notification_provider_calls_total",
    "Agent notification provider calls by outcome",
    ["provider", "verdict"],
)
DEFAULT_SUBJECT = "An update on your lead"


def opted_out_reason(why: str) -> str:
    return f"agent opted out of notification texts ({why}); they text START to resume"


class NotificationDelivery:
    def __init__(
        self,
        attempts: NotificationAttempts,
        senders: dict[str, ProviderSender],
        cfg: ProviderConfig,
        *,
        lease: timedelta,
        clock: Callable[[], datetime],
        poll_s: float = 1.0,
        batch: int = 50,
        crash: crashpoints.CrashPoints | None = None,
    ) -> None:
        self._attempts = attempts
        self._senders = senders
        self._cfg = cfg
        self._lease = lease
        self._clock = clock
        self._poll_s = poll_s
        self._batch = batch
        self._crash = crash or crashpoints.CrashPoints()
        self._rng = random.Random()  # noqa: S311 - jitter, not security

    @property
    def attempts(self) -> NotificationAttempts:
        return self._attempts

    def claim_until(self) -> datetime:
        return self._clock() + self._lease

    def provider_for(self, channel: common_pb2.Channel.ValueType) -> str | None:
        wanted = TWILIO if channel == SMS else SENDGRID if channel == EMAIL else ""
        return wanted if wanted in self._senders else None

    def _decide(self, note: Notification, opt_out: str) -> Decision:
        """Under the row lock: an opt-out that arrived since the notification was recorded wins."""
        if note.channel == SMS and opt_out:
            return ("settle", pb.COMMUNICATION_STATUS_BLOCKED, opted_out_reason(opt_out))
        provider = self.provider_for(note.channel)
        if provider is None:
            return ("settle", pb.COMMUNICATION_STATUS_SIMULATED, NO_CREDENTIALS)
        return ("send", provider)

    @staticmethod
    def outgoing(note: Notification) -> Outgoing:
        return Outgoing(
            communication_id=note.notification_id,
            channel=note.channel,
            to=note.address,
            subject=note.subject or DEFAULT_SUBJECT,
            body=note.body,
        )

    async def send(self, note: Notification) -> Notification:
        """Send a notification this worker has claimed (note.claim_token); returns the row as
        it ends up (pending again when the provider asked to wait)."""
        assert note.claim_token is not None, "send() needs a claimed notification"
        nid, token = note.notification_id, note.claim_token
        while True:
            begin = await self._attempts.begin(nid, token, self._clock(), self._decide)
            if begin.settled is not None:
                return begin.settled
            if begin.note is None:
                return note  # the row is gone
            if begin.attempt is None:
                found = await self._reconcile(begin.note, begin.open_attempts)
                if found is not None:
                    return found
                continue  # every earlier call is provably absent: sending again is safe
            attempt = begin.attempt
            sender = self._senders[attempt.provider]
            self._crash.at("before_call")
            timer = self._crash.arm("during_call")
            try:
                result = await sender.send(self.outgoing(begin.note))
            finally:
                if timer is not None:
                    timer.cancel()
            NOTIFICATION_CALLS.labels(attempt.provider, result.verdict.value).inc()
            self._crash.at("after_call")
            if result.verdict is Verdict.ACCEPTED:
                done = await self._attempts.accepted(attempt.attempt_id, result.provider_message_id)
                self._crash.at("after_commit")
                return done
            if result.verdict in (Verdict.REFUSED, Verdict.AUTH):
                await self._attempts.mark(attempt.attempt_id, REFUSED, result.reason)
                if result.verdict is Verdict.AUTH:
                    log.error(
                        "provider rejected our credentials; agent notifications fail until they are fixed",
                        extra={"provider": attempt.provider, "reason": result.reason},
                    )
                if provider_status.opts_out(note.channel, result.error_code):
                    # Twilio blocks texts to a number that texted STOP to our sender: the
                    # agent's own opt-out, never a lead's.
                    await self._attempts.stop_texts(note.address, note.agent_id, result.reason)
                return await self._attempts.settle(nid, pb.COMMUNICATION_STATUS_FAILED, result.reason)
            # RETRY: never arrived. IN_DOUBT: may have; the next begin() reconciles it first.
            await self._attempts.mark(
                attempt.attempt_id, IN_DOUBT if result.verdict is Verdict.IN_DOUBT else REFUSED, result.reason
            )
            return await self._later(begin.note, token, result.reason, result.retry_after_s)

    async def _later(
        self, note: Notification, token: uuid.UUID, reason: str, retry_after_s: float | None
    ) -> Notification:
        now = self._clock()
        pause = backoff_s(note.tries, self._cfg.backoff_base_s, self._cfg.backoff_max_s, self._rng)
        if retry_after_s is not None:
            pause = max(pause, min(retry_after_s, self._cfg.backoff_max_s))
        budget = self._cfg.retry_budget_s
        if (now - note.create_time).total_seconds() + pause > budget:
            return await self._give_up(note, token, reason)
        later = await self._attempts.retry_later(
            note.notification_id,
            token,
            now + timedelta(seconds=pause),
            f"provider asked to retry later: {reason}",
        )
        return later or note

    async def _give_up(self, note: Notification, token: uuid.UUID, reason: str) -> Notification:
        begin = await self._attempts.begin(note.notification_id, token, self._clock(), self._decide_nothing)
        if begin.open_attempts:
            assert begin.note is not None
            found = await self._reconcile(begin.note, begin.open_attempts)
            if found is not None:
                return found
        budget = self._cfg.retry_budget_s
        return await self._attempts.settle(
            note.notification_id,
            pb.COMMUNICATION_STATUS_FAILED,
            f"gave up after {note.tries + 1} tries in {budget:g}s: {reason}",
        )

    @staticmethod
    def _decide_nothing(note: Notification, opt_out: str) -> Decision:
        return ("settle", pb.COMMUNICATION_STATUS_FAILED, "retry budget spent")

    async def _reconcile(self, note: Notification, open_attempts: tuple[Attempt, ...]) -> Notification | None:
        """Settle open attempts from the provider's records: the row when the notification
        turned out to be with the provider (or cannot be checked now: it is left pending, in
        doubt, and retried later); None when every open attempt provably never arrived."""
        provider = open_attempts[0].provider
        sender = self._senders.get(provider)
        token = note.claim_token
        assert token is not None
        if sender is None:
            log.error(
                "open notification attempt for a provider no longer configured", extra={"provider": provider}
            )
            return (
                await self._attempts.retry_later(
                    note.notification_id, token, self.claim_until(), f"in doubt: {provider} is not configured"
                )
                or note
            )
        exclude = await self._attempts.ids_sent_to(note.address, note.notification_id)
        try:
            found = await sender.find(self.outgoing(note), exclude)
        except LookupFailed as err:
            log.warning("in-doubt notification not yet reconcilable", extra={"reason": str(err)})
            return (
                await self._attempts.retry_later(
                    note.notification_id,
                    token,
                    self.claim_until(),
                    f"in doubt, provider lookup failed: {err}",
                )
                or note
            )
        if found:
            return await self._attempts.accepted(open_attempts[-1].attempt_id, found)
        await self._attempts.absent([a.attempt_id for a in open_attempts])
        return None

    async def run_once(self, now: datetime | None = None) -> int:
        """Send one batch of pending notifications nobody holds; returns how many."""
        at = now or self._clock()
        claimed = await self._attempts.claim_due(at, at + self._lease, self._batch)
        for note in claimed:
            await self.send(note)
        return len(claimed)

    async def run(self) -> None:
        while True:
            while await self.run_once() == self._batch:
                pass
            await asyncio.sleep(self._poll_s)
