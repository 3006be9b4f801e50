"""Writing one message (GenerateMessage): replay by request_id, the writer, the guardrails, the record.

Whatever writes, this module adds the lines the law requires (STOP line, email footer)
and judges the result with every guardrail, so no writer can skip them. A model's
draft that fails is regenerated once with the failures as feedback, then replaced by
the template writer's; a location override that fails gives way to the built-in
template; a built-in template that fails is a bug, refused loudly. Each step is
recorded in the message's revisions. In suggest mode the message is stored
PENDING_APPROVAL, and approve() is the only way on.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from services.content import facts as caller_facts
from services.content import guardrails, market, verdicts
from services.content.claims import Claims
from services.content.config import Config
from services.content.repository import (
    APPROVED,
    PENDING_APPROVAL,
    READY,
    Message,
    MessageRepository,
    Outcome,
    unsaved,
)
from services.content.settings_repository import SUGGEST, ContentSettingsRepository, LocationSettings
from services.content.templates import TemplateWriter
from services.content.writer import (
    AGENT_NOTIFICATION,
    CLAUDE,
    EMAIL,
    ENGLISH,
    FALLBACK,
    Draft,
    Facts,
    FallsBack,
    MessageWriter,
    Written,
)
from shared import tenancy
from shared.errors import FailedPrecondition, FieldViolation, InvalidArgument, NotFound

log = logging.getLogger(__name__)

# Claude's draft and its redraft both failed a guardrail: the template wrote the message.
GUARDRAIL_REJECTED = "GUARDRAIL_REJECTED"


def verdict_rows(found: list[verdicts.Verdict]) -> tuple[dict[str, Any], ...]:
    return tuple(dataclasses.asdict(v) for v in found)


def facts_from_inputs(raw: Mapping[str, Any]) -> Facts:
    known = {f.name for f in dataclasses.fields(Facts)}
    values = {k: v for k, v in raw.items() if k in known}
    values["thread"] = tuple(tuple(pair) for pair in values.get("thread", ()))
    return Facts(**values)


@dataclass(frozen=True)
class Ask:
    """One message to write, as GenerateMessage asked for it (already validated)."""

    lead_id: uuid.UUID
    location_id: str
    channel: str
    purpose: str
    facts: Facts
    request_id: str | None = None
    # The cadence step (0: the first touch).
    step_index: int = 0
    # Write and judge it, store nothing.
    dry_run: bool = False
    # The location's, for the email footer; "" means CONTENT_POSTAL_ADDRESS.
    postal_address: str = ""
    language: str = ENGLISH
    tone: str = ""
    # For market facts (else the city in the facts).
    zip_code: str = ""


class Generation:
    def __init__(
        self,
        repo: MessageRepository,
        writer: MessageWriter,
        templates: TemplateWriter,
        cfg: Config,
        settings: ContentSettingsRepository,
        claims: Claims | None = None,
    ) -> None:
        self._repo = repo
        self._claims = claims
        self._writer = writer
        self._templates = templates
        self._settings = settings
        self._postal_address = cfg.postal_address
        self._default_brand = guardrails.sanitize(cfg.brand_name, caller_facts.BRAND_LIMIT)
        self._blocklist = guardrails.Blocklist(cfg.blocked_phrases)
        self._max_segments = cfg.sms_max_segments
        self._market_max_age_days = cfg.market_max_age_days

    def facts(self, texts: Mapping[str, str], *, agent_phone: str, lead_score: float) -> Facts:
        """The caller's context, made safe; the configured brand when the caller names none."""
        return caller_facts.from_context(
            texts, agent_phone=agent_phone, lead_score=lead_score, default_brand=self._default_brand
        )

    def _policy(self, postal_address: str, settings: LocationSettings) -> verdicts.Policy:
        return verdicts.Policy(
            postal_address=postal_address,
            link_domains=settings.link_domains,
            sms_max_segments=self._max_segments,
            blocklist=self._blocklist,
        )

    def _facts_for(
        self, facts: Facts, settings: LocationSettings, found: market.MarketFact | None, step: int
    ) -> Facts:
        """The caller's facts plus what content knows: fresh market facts, a value proposition."""
        facts = market.with_market(facts, found, datetime.now(UTC).date(), self._market_max_age_days)
        if settings.value_propositions:
            pitch = settings.value_propositions[step % len(settings.value_propositions)]
            facts = dataclasses.replace(facts, value_proposition=pitch)
        return facts

    async def generate(self, ask: Ask) -> Message:
        """Claim first: of concurrent calls with one request_id only one writes (and pays);
        the others get the message it stored."""
        request_id = ask.request_id
        if not request_id or ask.dry_run or self._claims is None:
            written = await self._generate(ask)
        else:
            claimed = await self._claims.claim_or_wait(request_id, self._repo.by_request)
            if isinstance(claimed, Message):
                written = claimed
            else:
                try:
                    # The claim looked for a stored message after taking it: no need to again.
                    written = await self._generate(ask, looked_up=True)
                finally:
                    await self._claims.release(request_id, claimed)
        if not ask.dry_run:
            tenancy.ensure_same_key_owner(request_id, written.location_id, ask.location_id)
        return written

    async def _generate(self, ask: Ask, *, looked_up: bool = False) -> Message:
        """A retried request_id returns the message its first call stored, unwritten again.
        A dry run writes the message the same way (guardrails included) but stores nothing.
        `postal_address` (the location's) replaces the configured one when given."""
        lead_id, location_id, channel, purpose = ask.lead_id, ask.location_id, ask.channel, ask.purpose
        facts, request_id, step_index, dry_run = ask.facts, ask.request_id, ask.step_index, ask.dry_run
        postal_address = ask.postal_address or self._postal_address
        # The lead's language is not the agent's.
        language = ENGLISH if purpose == AGENT_NOTIFICATION else ask.language
        if request_id and not dry_run and not looked_up:
            seen = await self._repo.by_request(request_id)
            if seen is not None:
                return seen
        # Refused before the location's inputs are read: nothing read would change the answer.
        if channel == EMAIL and purpose != AGENT_NOTIFICATION and not postal_address:
            raise FailedPrecondition(
                "lead-facing email needs a physical postal address in its footer (CAN-SPAM); "
                "set the location's postal_address (UpdateLocation) or CONTENT_POSTAL_ADDRESS, "
                "or send by SMS",
                reason="POSTAL_ADDRESS_NOT_CONFIGURED",
            )
        inputs = await self._settings.inputs(location_id, ask.zip_code, market.city_key(facts.city))
        settings = inputs.settings
        draft = Draft(
            lead_id=str(lead_id),
            channel=channel,
            purpose=purpose,
            facts=self._facts_for(facts, settings, inputs.market, step_index),
            max_body_chars=guardrails.body_budget(channel, purpose != AGENT_NOTIFICATION, language),
            step_index=step_index,
            language=language,
            tone=ask.tone,
            max_segments=self._max_segments,
            location_id=location_id,
        )
        self._blocklist.check_fields(caller_facts.checked_fields(facts))
        written, found, revisions = await self.write_checked(
            draft, self._policy(postal_address, settings), self._templates.with_overrides(inputs.overrides)
        )
        waits = settings.approval_mode == SUGGEST and draft.to_lead
        outcome = Outcome(
            status=PENDING_APPROVAL if waits else READY,
            verdicts=verdict_rows(found),
            revisions=tuple(revisions),
            inputs={
                "facts": dataclasses.asdict(draft.facts),
                "step_index": step_index,
                "postal_address": postal_address,
            },
        )
        if dry_run:
            return unsaved(draft, location_id, written, outcome)
        return await self._repo.add(draft, location_id, written, request_id, outcome)

    async def write_checked(
        self, draft: Draft, policy: verdicts.Policy, templates: TemplateWriter
    ) -> tuple[Written, list[verdicts.Verdict], list[str]]:
        revisions: list[str] = []
        primary: MessageWriter = self._writer
        if self._writer is self._templates:
            primary = templates
        elif isinstance(self._writer, FallsBack):
            primary = self._writer.with_fallback(templates)
        written, found = await self._judged(primary, draft, policy)
        failed = verdicts.failures(found)
        # Only a model's own draft is worth asking again; a fallback is already a template.
        if failed and written.generator == CLAUDE:
            revisions.append(f"{written.generator} draft failed {_rules(failed)}; regenerated with feedback")
            retry = dataclasses.replace(draft, feedback=verdicts.feedback(failed))
            written, found = await self._judged(primary, retry, policy)
            failed = verdicts.failures(found)
            if failed:
                revisions.append(
                    f"{written.generator} redraft failed {_rules(failed)}; replaced by the template"
                )
                written, found = await self._judged(templates, draft, policy)
                written = dataclasses.replace(written, generator=FALLBACK, fallback_reason=GUARDRAIL_REJECTED)
                failed = verdicts.failures(found)
        if failed and templates is not self._templates and ".override." in written.model:
            revisions.append(
                f"location override {written.model} failed {_rules(failed)}; built-in template used"
            )
            written, found = await self._judged(self._templates, draft, policy)
            failed = verdicts.failures(found)
        if failed:
            log.error(
                "template failed its guardrails",
                extra={"template": written.model, "rules": _rules(failed), "lead_id": draft.lead_id},
            )
            raise verdicts.refusal(failed, f"the template {written.model}")
        return written, found, revisions

    async def _judged(
        self, writer: MessageWriter, draft: Draft, policy: verdicts.Policy
    ) -> tuple[Written, list[verdicts.Verdict]]:
        written = guardrails.finish(draft, await writer.write(draft), postal_address=policy.postal_address)
        return written, verdicts.judge(draft, written, policy)

    async def approve(
        self, message_id: uuid.UUID, agent_id: str, edited_body: str | None, location: str
    ) -> Message:
        """PENDING_APPROVAL -> APPROVED; an edit is judged like a new draft first. Another
        `location`'s message is NOT_FOUND, as one that does not exist, and stays as it was."""
        message = await self._repo.by_id(message_id)
        if message is None:
            raise NotFound(
                f"no message {message_id}; use the message_id GenerateMessage returned",
                reason="MESSAGE_NOT_FOUND",
            )
        tenancy.ensure_owned(location, message.location_id, "message", message_id, "MESSAGE_NOT_FOUND")
        body = None if edited_body is None or edited_body == message.body else edited_body
        if message.status == APPROVED:
            if message.approved_by_agent_id == agent_id and body is None:
                return message  # a retried approval
            raise FailedPrecondition(
                f"message {message_id} was already approved by {message.approved_by_agent_id}",
                reason="MESSAGE_ALREADY_APPROVED",
            )
        if message.status != PENDING_APPROVAL:
            raise FailedPrecondition(
                f"message {message_id} is {message.status}, not waiting for approval "
                "(its location was on autopilot when it was written)",
                reason="MESSAGE_NOT_PENDING",
            )
        rows = message.guardrail_verdicts
        if body is not None:
            rows = verdict_rows(await self._judge_edit(message, body))
        approved = await self._repo.approve(message_id, agent_id, body, rows)
        if approved is None:  # a concurrent approval won: report what it stored
            return await self.approve(message_id, agent_id, edited_body, location)
        return approved

    async def _judge_edit(self, message: Message, body: str) -> list[verdicts.Verdict]:
        inputs = message.inputs
        draft = Draft(
            lead_id=str(message.lead_id),
            channel=message.channel,
            purpose=message.purpose,
            facts=facts_from_inputs(inputs.get("facts", {})),
            max_body_chars=guardrails.body_budget(message.channel, message.purpose != AGENT_NOTIFICATION),
            step_index=int(inputs.get("step_index", 0)),
            language=message.language,
            max_segments=self._max_segments,
        )
        settings = await self._settings.settings(message.location_id)
        policy = self._policy(str(inputs.get("postal_address", self._postal_address)), settings)
        edited = Written(subject=message.subject, body=body, generator=message.generator, model=message.model)
        found = verdicts.judge(draft, edited, policy)
        failed = verdicts.failures(found)
        if failed:
            raise InvalidArgument(
                f"edited_body fails the {failed[0].rule} guardrail ({failed[0].detail}); "
                "nothing was approved, fix the text and approve again",
                reason="CONTENT_GUARDRAIL",
                violations=[FieldViolation("edited_body", f"{v.rule}: {v.detail}") for v in failed],
            )
        return found


def _rules(failed: list[verdicts.Verdict]) -> str:
    return ", ".join(v.rule for v in failed)
