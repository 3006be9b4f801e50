"""Who reads a reply for AnalyzeReply: the lexicon model, or Claude (with the lexicon as
its fallback). Both answer with a replies.Analysis and name the model that answered."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Protocol

from services.content import replies


@dataclass(frozen=True)
class ReplyReading:
    analysis: replies.Analysis
    model: str
    fallback_reason: str = ""


class ReplyAnalyzer(Protocol):
    async def analyze(self, lead_id: uuid.UUID, location_id: str, body: str) -> ReplyReading: ...


class LexiconAnalyzer:
    async def analyze(self, lead_id: uuid.UUID, location_id: str, body: str) -> ReplyReading:
        return ReplyReading(replies.analyze(body), replies.MODEL)
