"""ContentService's AnalyzeReply handler: proto in, the lexicon model, proto out. Mixed
into ContentServicer."""

from __future__ import annotations

from leadengine.content.v1 import content_service_pb2 as pb

from services.content import replies
from services.content.reply_analysis import ReplyAnalyzer
from shared import inputs
from shared.errors import FieldViolation, InvalidArgument
from shared.rpc import Context

INTENTS = {
    replies.INTERESTED: pb.REPLY_INTENT_INTERESTED,
    replies.QUESTION: pb.REPLY_INTENT_QUESTION,
    replies.NOT_NOW: pb.REPLY_INTENT_NOT_NOW,
    replies.WRONG_PERSON: pb.REPLY_INTENT_WRONG_PERSON,
    replies.ANGRY: pb.REPLY_INTENT_ANGRY,
    replies.OPT_OUT_LIKE: pb.REPLY_INTENT_OPT_OUT_LIKE,
    replies.UNCLEAR: pb.REPLY_INTENT_UNCLEAR,
}
# An SMS thread message is at most a few segments; an email reply quoting a thread is longer.
MAX_BODY_CHARS = 20_000


class ReplyHandlers:
    _analyzer: ReplyAnalyzer

    async def AnalyzeReply(
        self, request: pb.AnalyzeReplyRequest, context: Context
    ) -> pb.AnalyzeReplyResponse:
        lead_id = inputs.parse_uuid(request.lead_id, "lead_id", what="lead id")
        if not request.body.strip():
            raise InvalidArgument(
                "body is required: the reply to analyse",
                reason="MISSING_FIELD",
                violations=[FieldViolation("body", "the reply's text")],
            )
        if len(request.body) > MAX_BODY_CHARS:
            raise InvalidArgument(
                f"body is {len(request.body)} characters; at most {MAX_BODY_CHARS}",
                violations=[FieldViolation("body", f"at most {MAX_BODY_CHARS} characters")],
            )
        # Optional: it only says whose usage and budget a paid analysis counts against.
        location_id = (
            inputs.require_text(request.location_id, "location_id") if request.location_id.strip() else ""
        )
        reading = await self._analyzer.analyze(lead_id, location_id, request.body)
        found = reading.analysis
        return pb.AnalyzeReplyResponse(
            score=found.score,
            intent=INTENTS[found.intent],
            phrases=[
                pb.ReplyPhrase(phrase=c.phrase, intent=INTENTS.get(c.intent, 0), valence=c.valence)  # type: ignore[arg-type]
                for c in found.cues
            ],
            model=reading.model,
            fallback_reason=reading.fallback_reason,
        )
