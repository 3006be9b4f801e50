"""SQL for the content schema: the messages written for each lead. Returns frozen dataclasses."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg

from services.content.writer import Draft, Written
from shared import deadlines, timestamps
from shared.db import Database
from shared.keyset import Keyset


@dataclass(frozen=True)
class Message:
    message_id: uuid.UUID
    lead_id: uuid.UUID
    location_id: str
    channel: str  # writer.SMS or writer.EMAIL
    purpose: str  # writer.FIRST_TOUCH, FOLLOW_UP, RE_ENGAGEMENT, TRIGGER or AGENT_NOTIFICATION
    subject: str
    body: str
    generator: str  # writer.TEMPLATE or writer.CLAUDE
    model: str
    input_tokens: int
    output_tokens: int
    cost_micros_usd: int
    create_time: datetime
    status: str = "ready"  # READY, PENDING_APPROVAL or APPROVED
    language: str = "en"
    # [{"rule", "passed", "detail"}] as judged on the stored text.
    guardrail_verdicts: tuple[dict[str, Any], ...] = ()
    revisions: tuple[str, ...] = ()
    approved_by_agent_id: str = ""
    approve_time: datetime | None = None
    edited: bool = False
    inputs: dict[str, Any] = field(default_factory=dict)
    fallback_reason: str = ""
    cache_read_input_tokens: int = 0
    cache_creation_input_tokens: int = 0
    latency_ms: int = 0
    prompt_sha256: str = ""


READY = "ready"
PENDING_APPROVAL = "pending_approval"
APPROVED = "approved"


def _message(row: asyncpg.Record) -> Message:
    return Message(
        message_id=row["message_id"],
        lead_id=row["lead_id"],
        location_id=row["location_id"],
        channel=row["channel"],
        purpose=row["purpose"],
        subject=row["subject"],
        body=row["body"],
        generator=row["generator"],
        model=row["model"],
        input_tokens=row["input_tokens"],
        output_tokens=row["output_tokens"],
        cost_micros_usd=row["cost_micros_usd"],
        create_time=row["create_time"],
        status=row["status"],
        language=row["language"],
        guardrail_verdicts=tuple(row["guardrail_verdicts"]),
        revisions=tuple(row["revisions"]),
        approved_by_agent_id=row["approved_by_agent_id"] or "",
        approve_time=row["approve_time"],
        edited=row["edited"],
        inputs=row["inputs"],
        fallback_reason=row["fallback_reason"],
        cache_read_input_tokens=row["cache_read_input_tokens"],
        cache_creation_input_tokens=row["cache_creation_input_tokens"],
        latency_ms=row["latency_ms"],
        prompt_sha256=row["prompt_sha256"],
    )


@dataclass(frozen=True)
class Outcome:
    """What generation decided beyond the text: stored with it."""

    status: str = READY
    verdicts: tuple[dict[str, Any], ...] = ()
    revisions: tuple[str, ...] = ()
    inputs: dict[str, Any] = field(default_factory=dict)


# GetConversation: a lead's messages oldest first.
_CONVERSATION = Keyset(key="create_time", key_type="timestamptz", id="message_id", descending=False)


def unsaved(draft: Draft, location_id: str, written: Written, outcome: Outcome | None = None) -> Message:
    """A message as it would be stored, for a dry run: no row, a nil id."""
    return Message(
        message_id=uuid.UUID(int=0),
        lead_id=uuid.UUID(draft.lead_id),
        location_id=location_id,
        channel=draft.channel,
        purpose=draft.purpose,
        subject=written.subject,
        body=written.body,
        generator=written.generator,
        model=written.model,
        input_tokens=written.input_tokens,
        output_tokens=written.output_tokens,
        cost_micros_usd=written.cost_micros_usd,
        create_time=timestamps.now(),
        status=(outcome or Outcome()).status,
        language=draft.language,
        guardrail_verdicts=(outcome or Outcome()).verdicts,
        revisions=(outcome or Outcome()).revisions,
        fallback_reason=written.fallback_reason,
        cache_read_input_tokens=written.cache_read_input_tokens,
        cache_creation_input_tokens=written.cache_creation_input_tokens,
        latency_ms=written.latency_ms,
        prompt_sha256=written.prompt_sha256,
    )


class MessageRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def by_request(self, request_id: str) -> Message | None:
        async with self._db.connection() as conn:
            row = await conn.fetchrow(
                "SELECT * FROM messages WHERE request_id = $1", request_id, timeout=deadlines.timeout(2.0)
            )
        return None if row is None else _message(row)

    async def add(
        self,
        draft: Draft,
        location_id: str,
        written: Written,
        request_id: str | None,
        outcome: Outcome | None = None,
    ) -> Message:
        """Store a message; with a request_id already stored, the first message wins
        and is returned (concurrent identical calls all get the same one)."""
        outcome = outcome or Outcome()
        async with self._db.connection() as conn:  # one write; the read after runs only on a conflict
            row = await conn.fetchrow(
                "INSERT INTO messages (lead_id, location_id, channel, purpose, subject, body, generator,"
                " model, input_tokens, output_tokens, cost_micros_usd, request_id,"
                " status, language, guardrail_verdicts, revisions, inputs, fallback_reason,"
                " cache_read_input_tokens, cache_creation_input_tokens, latency_ms, prompt_sha256)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,"
                " $18, $19, $20, $21, $22)"
                " ON CONFLICT (request_id) DO NOTHING RETURNING *",
                uuid.UUID(draft.lead_id),
                location_id,
                draft.channel,
                draft.purpose,
                written.subject,
                written.body,
                written.generator,
                written.model,
                written.input_tokens,
                written.output_tokens,
                written.cost_micros_usd,
                request_id,
                outcome.status,
                draft.language,
                list(outcome.verdicts),
                list(outcome.revisions),
                outcome.inputs,
                written.fallback_reason,
                written.cache_read_input_tokens,
                written.cache_creation_input_tokens,
                written.latency_ms,
                written.prompt_sha256,
                timeout=deadlines.timeout(2.0),
            )
            if row is None:  # a concurrent call with this request_id stored first
                row = await conn.fetchrow("SELECT * FROM messages WHERE request_id = $1", request_id)
        assert row is not None
        return _message(row)

    async def by_id(self, message_id: uuid.UUID) -> Message | None:
        async with self._db.connection() as conn:
            row = await conn.fetchrow(
                "SELECT * FROM messages WHERE message_id = $1", message_id, timeout=deadlines.timeout(2.0)
            )
        return None if row is None else _message(row)

    async def approve(
        self,
        message_id: uuid.UUID,
        agent_id: str,
        body: str | None,
        verdicts: tuple[dict[str, Any], ...],
    ) -> Message | None:
        """PENDING_APPROVAL -> APPROVED, with the agent's body when given. None when the
        message was not pending (a concurrent approval won, or it never waited)."""
        async with self._db.transaction() as conn:
            row = await conn.fetchrow(
                "UPDATE messages SET status = 'approved', approved_by_agent_id = $2, approve_time = now(),"
                " body = coalesce($3, body), edited = ($3 IS NOT NULL AND $3 <> body),"
                " guardrail_verdicts = $4"
                " WHERE message_id = $1 AND status = 'pending_approval' RETURNING *",
                message_id,
                agent_id,
                body,
                list(verdicts),
                timeout=deadlines.timeout(2.0),
            )
        return None if row is None else _message(row)

    async def conversation(
        self, lead_id: uuid.UUID, after: tuple[datetime, uuid.UUID] | None, limit: int
    ) -> list[Message]:
        """Up to limit + 1 of the lead's messages after `after` (create_time, message_id), oldest first."""
        async with self._db.connection() as conn:
            rows = await _CONVERSATION.fetch(
                conn,
                "SELECT * FROM messages WHERE lead_id = $1",
                [lead_id],
                after,
                limit,
                deadline_s=deadlines.timeout(2.0),
            )
        return [_message(r) for r in rows]
