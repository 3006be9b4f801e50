"""Writing one message (GenerateMessage): replay by request_id, the writer, the guardrails, the record.

Whatever writes, this module adds the lines the law requires (STOP line, email footer) and
runs the guardrails on the result, so no writer can skip them.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from services.content import facts as caller_facts
from services.content import guardrails
from services.content.claims import Claims
from services.content.config import Config
from services.content.repository import Message, MessageRepository, unsaved
from services.content.writer import AGENT_NOTIFICATION, EMAIL, Draft, Facts, MessageWriter
from shared.errors import FailedPrecondition


class Generation:
    def __init__(
        self, repo: MessageRepository, writer: MessageWriter, cfg: Config, claims: Claims | None = None
    ) -> None:
        self._repo = repo
        self._claims = claims
        self._writer = writer
        self._postal_address = cfg.postal_address
        self._default_brand = guardrails.sanitize(cfg.brand_name, caller_facts.BRAND_LIMIT)
        self._blocklist = guardrails.Blocklist(cfg.blocked_phrases)

    def facts(self, texts: Mapping[str, str], *, agent_phone: str, lead_score: float) -> Facts:
        """The caller's context, made safe; the configured brand when the caller names none."""
        return caller_facts.from_context(
            texts, agent_phone=agent_phone, lead_score=lead_score, default_brand=self._default_brand
        )

    async def generate(
        self,
        lead_id: uuid.UUID,
        location_id: str,
        channel: str,
        purpose: str,
        facts: Facts,
        request_id: str | None,
        step_index: int = 0,
        *,
        dry_run: bool = False,
        postal_address: str = "",
    ) -> Message:
        """Claim first: of concurrent calls with one request_id only one writes (and pays);
        the others get the message it stored."""
        args = (lead_id, location_id, channel, purpose, facts, request_id, step_index)
        if not request_id or dry_run or self._claims is None:
            return await self._generate(*args, dry_run=dry_run, postal_address=postal_address)
        claimed = await self._claims.claim_or_wait(request_id, self._repo.by_request)
        if isinstance(claimed, Message):
            return claimed
        try:
            return await self._generate(*args, postal_address=postal_address)
        finally:
            await self._claims.release(request_id, claimed)

    async def _generate(
        self,
        lead_id: uuid.UUID,
        location_id: str,
        channel: str,
        purpose: str,
        facts: Facts,
        request_id: str | None,
        step_index: int = 0,
        *,
        dry_run: bool = False,
        postal_address: str = "",
    ) -> Message:
        """A retried request_id returns the message its first call stored, unwritten again.
        A dry run writes the message the same way (guardrails included) but stores nothing.
        `postal_address` (the location's) replaces the configured one when given."""
        postal_address = postal_address or self._postal_address
        if request_id and not dry_run:
            seen = await self._repo.by_request(request_id)
            if seen is not None:
                return seen
        draft = Draft(
            lead_id=str(lead_id),
            channel=channel,
            purpose=purpose,
            facts=facts,
            max_body_chars=guardrails.body_budget(channel, purpose != AGENT_NOTIFICATION),
            step_index=step_index,
            location_id=location_id,
        )
        if channel == EMAIL and draft.to_lead and not postal_address:
            raise FailedPrecondition(
                "lead-facing email needs a physical postal address in its footer (CAN-SPAM); "
                "set the location's postal_address (UpdateLocation) or CONTENT_POSTAL_ADDRESS, "
                "or send by SMS",
                reason="POSTAL_ADDRESS_NOT_CONFIGURED",
            )
        self._blocklist.check_fields(caller_facts.checked_fields(facts))
        written = await self._writer.write(draft)
        written = guardrails.finish(draft, written, postal_address=postal_address)
        self._blocklist.check_output(draft, written)
        if dry_run:
            return unsaved(draft, location_id, written)
        return await self._repo.add(draft, location_id, written, request_id)
