"""Claude reads a lead's reply (AnalyzeReply); the lexicon answers whenever Claude cannot
(same breaker, budget and fallback reasons as messages), and says why in fallback_reason."""

from __future__ import annotations

import logging
import uuid

from services.content import replies
from services.content.claude import prompts
from services.content.claude.calls import ApiCaller
from services.content.claude.cost import cost_micros_usd
from services.content.claude.settings import ClaudeSettings
from services.content.claude.writer import BUDGET_EXHAUSTED, text_of, tokens_of
from services.content.reply_analysis import ReplyReading
from services.content.usage_repository import REPLY_ANALYSIS, Budgets, GenerationRecord, UsageRepository
from services.content.writer import CLAUDE, FALLBACK
from shared import timestamps

log = logging.getLogger(__name__)
# Enough for {"intent": "...", "score": ...}.
_MAX_TOKENS = 60


class ClaudeAnalyzer:
    def __init__(
        self, caller: ApiCaller, settings: ClaudeSettings, usage: UsageRepository, budgets: Budgets
    ) -> None:
        self._caller = caller
        self._settings = settings
        self._usage = usage
        self._budgets = budgets

    def _lexicon(self, body: str, reason: str) -> ReplyReading:
        return ReplyReading(replies.analyze(body), replies.MODEL, fallback_reason=reason)

    async def analyze(self, lead_id: uuid.UUID, location_id: str, body: str) -> ReplyReading:
        if location_id and await self._budgets.exhausted(location_id, timestamps.now()):
            return self._lexicon(body, BUDGET_EXHAUSTED)
        prompt = prompts.reply_prompt(body)
        result = await self._caller.create(**prompt.params(self._settings.model, _MAX_TOKENS))
        tokens = tokens_of(result.message)
        output = "" if result.message is None else text_of(result.message)
        reading: ReplyReading
        if result.message is None:
            reading = self._lexicon(body, result.failure)
        else:
            try:
                intent, score = prompts.read_reply_analysis(output, result.message.stop_reason)
            except prompts.Unusable as unusable:
                log.warning("claude's reading was unusable", extra={"reason": unusable.reason})
                reading = self._lexicon(body, unusable.reason)
            else:
                model = result.message.model or self._settings.model
                reading = ReplyReading(replies.Analysis(round(score, 4), intent, ()), model)
        await self._usage.record(
            GenerationRecord(
                location_id=location_id,
                lead_id=lead_id,
                kind=REPLY_ANALYSIS,
                generator=FALLBACK if reading.fallback_reason else CLAUDE,
                fallback_reason=reading.fallback_reason,
                model=self._settings.model if reading.fallback_reason else reading.model,
                prompt_sha256=prompt.sha256,
                output=output,
                input_tokens=tokens.input,
                output_tokens=tokens.output,
                cache_read_input_tokens=tokens.cache_read,
                cache_creation_input_tokens=tokens.cache_write,
                cost_micros_usd=cost_micros_usd(tokens, self._settings.prices),
                latency_ms=result.latency_ms,
                api_calls=result.attempts,
            )
        )
        return reading
