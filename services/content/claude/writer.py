"""ClaudeWriter: a MessageWriter that asks Claude to write to leads, and hands the draft to the template
writer (flagged FALLBACK, with the reason) whenever Claude cannot be used: the location's
budget is spent, the breaker is open, the API is unavailable, slow or rejects the call,
or the answer is unusable. Every call is recorded with its tokens and cost."""

from __future__ import annotations

import dataclasses
import logging
import uuid

from anthropic.types import Message as ApiMessage

from services.content.claude import prompts
from services.content.claude.calls import ApiCaller
from services.content.claude.cost import Tokens, cost_micros_usd
from services.content.claude.settings import ClaudeSettings
from services.content.usage_repository import MESSAGE, Budgets, GenerationRecord, UsageRepository
from services.content.writer import CLAUDE, FALLBACK, Draft, MessageWriter, Written
from shared import timestamps

log = logging.getLogger(__name__)

BUDGET_EXHAUSTED = "BUDGET_EXHAUSTED"


def tokens_of(message: ApiMessage | None) -> Tokens:
    if message is None:
        return Tokens()
    usage = message.usage
    write_total = usage.cache_creation_input_tokens or 0
    write_1h = 0
    if usage.cache_creation is not None:  # the breakdown, when the API gives it
        write_1h = usage.cache_creation.ephemeral_1h_input_tokens or 0
    return Tokens(
        input=usage.input_tokens,
        output=usage.output_tokens,
        cache_read=usage.cache_read_input_tokens or 0,
        cache_write_5m=max(write_total - write_1h, 0),
        cache_write_1h=write_1h,
    )


def text_of(message: ApiMessage) -> str:
    return "".join(block.text for block in message.content if block.type == "text")


class ClaudeWriter:
    def __init__(
        self,
        caller: ApiCaller,
        settings: ClaudeSettings,
        templates: MessageWriter,
        usage: UsageRepository,
        budgets: Budgets,
    ) -> None:
        self._caller = caller
        self._settings = settings
        self._templates = templates
        self._usage = usage
        self._budgets = budgets

    def with_fallback(self, templates: MessageWriter) -> ClaudeWriter:
        """This writer falling back to `templates` (a location's overrides) instead of the
        built-in ones; the caller, breaker and budgets stay shared."""
        if templates is self._templates:
            return self
        return ClaudeWriter(self._caller, self._settings, templates, self._usage, self._budgets)

    async def _fallback(self, draft: Draft, reason: str, **paid: int | str) -> Written:
        written = await self._templates.write(draft)
        return dataclasses.replace(written, generator=FALLBACK, fallback_reason=reason, **paid)  # type: ignore[arg-type]

    async def write(self, draft: Draft) -> Written:
        if not draft.to_lead:
            # An agent's notification is an internal note: a template says it, for free.
            return await self._templates.write(draft)
        if draft.location_id and await self._budgets.exhausted(draft.location_id, timestamps.now()):
            written = await self._fallback(draft, BUDGET_EXHAUSTED)
            await self._record(draft, written, output="", api_calls=0)
            return written
        prompt = prompts.message_prompt(draft)
        result = await self._caller.create(
            **prompt.params(self._settings.model, self._settings.max_output_tokens)
        )
        tokens = tokens_of(result.message)
        paid: dict[str, int | str] = {
            "input_tokens": tokens.input,
            "output_tokens": tokens.output,
            "cache_read_input_tokens": tokens.cache_read,
            "cache_creation_input_tokens": tokens.cache_write,
            "cost_micros_usd": cost_micros_usd(tokens, self._settings.prices),
            "latency_ms": result.latency_ms,
            "prompt_sha256": prompt.sha256,
        }
        output = "" if result.message is None else text_of(result.message)
        if result.message is None:
            written = await self._fallback(draft, result.failure, **paid)
        else:
            try:
                subject, body = prompts.read_message(draft, output, result.message.stop_reason)
            except prompts.Unusable as unusable:
                log.warning(
                    "claude's answer was unusable", extra={"reason": unusable.reason, "why": str(unusable)}
                )
                written = await self._fallback(draft, unusable.reason, **paid)
            else:
                written = Written(
                    subject=subject,
                    body=body,
                    generator=CLAUDE,
                    model=result.message.model or self._settings.model,
                    **paid,  # type: ignore[arg-type]
                )
        await self._record(draft, written, output=output, api_calls=result.attempts)
        return written

    async def _record(self, draft: Draft, written: Written, *, output: str, api_calls: int) -> None:
        await self._usage.record(
            GenerationRecord(
                location_id=draft.location_id,
                lead_id=uuid.UUID(draft.lead_id),
                kind=MESSAGE,
                generator=written.generator,
                fallback_reason=written.fallback_reason,
                model=written.model if written.generator == CLAUDE else self._settings.model,
                prompt_sha256=written.prompt_sha256,
                output=output,
                input_tokens=written.input_tokens,
                output_tokens=written.output_tokens,
                cache_read_input_tokens=written.cache_read_input_tokens,
                cache_creation_input_tokens=written.cache_creation_input_tokens,
                cost_micros_usd=written.cost_micros_usd,
                latency_ms=written.latency_ms,
                api_calls=api_calls,
            )
        )
