"""The hand-off an agent gets when a lead replies: what the reply reads as (content's
AnalyzeReply) and the recent thread, so they can answer without opening the CRM.

The classification is advisory. An opt-out-like reply is flagged for the agent, but
only the compliance rules (keywords, in inbound/messages.py) ever revoke consent.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence

import grpc
from leadengine.common.v1 import common_pb2
from leadengine.content.v1 import content_service_pb2 as content_pb
from leadengine.coordinator.v1 import coordinator_service_pb2 as pb

from services.coordinator.delivery.repository import Communication, CommunicationRepository
from services.coordinator.notifications import notifier
from shared.clients import ContentClient, PeerError

log = logging.getLogger(__name__)

THREAD_SIZE = 4
_SNIPPET = 80
# What reached the lead or came from them; BLOCKED and still-SCHEDULED rows never did.
_EXCHANGED = frozenset(
    {
        pb.COMMUNICATION_STATUS_RECEIVED,
        pb.COMMUNICATION_STATUS_SENT,
        pb.COMMUNICATION_STATUS_SIMULATED,
        pb.COMMUNICATION_STATUS_QUEUED,
        pb.COMMUNICATION_STATUS_DELIVERED,
    }
)
_INTENT_WORDS = {
    content_pb.REPLY_INTENT_INTERESTED: "interested",
    content_pb.REPLY_INTENT_QUESTION: "a question",
    content_pb.REPLY_INTENT_NOT_NOW: "not now",
    content_pb.REPLY_INTENT_WRONG_PERSON: "wrong person",
    content_pb.REPLY_INTENT_ANGRY: "angry",
    content_pb.REPLY_INTENT_OPT_OUT_LIKE: "wants to stop hearing from us",
    content_pb.REPLY_INTENT_UNCLEAR: "unclear",
}


def _snippet(text: str, limit: int = _SNIPPET) -> str:
    words = " ".join(text.split())
    return words if len(words) <= limit else words[: limit - 1] + "…"


def classification_line(analysis: content_pb.AnalyzeReplyResponse) -> str:
    intent = _INTENT_WORDS.get(analysis.intent, "unclear")
    phrases = ", ".join(f'"{p.phrase}"' for p in analysis.phrases[:3])
    because = f"; because of {phrases}" if phrases else ""
    line = f"Reads as: {intent} (sentiment {analysis.score:+.2f}{because})."
    if analysis.intent == content_pb.REPLY_INTENT_OPT_OUT_LIKE:
        line += (
            " This is not an opt-out by itself: if they want no more messages, honour it by marking"
            " them do-not-disturb in the CRM."
        )
    return line


def thread_lines(thread: Sequence[Communication], reply_id: uuid.UUID) -> list[str]:
    """The exchange before the reply, oldest first."""
    lines = []
    for row in reversed(thread):
        if row.communication_id == reply_id or row.status not in _EXCHANGED or not row.body:
            continue
        who = "lead" if row.direction == pb.DIRECTION_INBOUND else "us"
        how = "text" if row.channel == common_pb2.CHANNEL_SMS else "email"
        lines.append(f'- {row.create_time:%m-%d %H:%M} {who} ({how}): "{_snippet(row.body)}"')
    return lines[-THREAD_SIZE:]


class ReplyHandoff:
    def __init__(self, content: ContentClient, communications: CommunicationRepository) -> None:
        self._content = content
        self._communications = communications

    async def notice(
        self,
        lead_name: str,
        lead_id: uuid.UUID,
        channel: common_pb2.Channel.ValueType,
        reply: Communication,
        location_id: str,
    ) -> tuple[str, str]:
        """(subject, body) of the hand-off: the reply, its classification, the thread.
        `location_id` is the lead's: Claude's analysis counts against its budget."""
        subject, body = notifier.reply_notice(lead_name, channel, reply.body)
        try:
            analysis = await self._content.analyze_reply(lead_id, reply.body, location_id)
        except PeerError as err:
            if err.code not in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                raise
            # The agent hears of the reply now rather than after content returns; the note says
            # the classification is missing, so nothing pretends it was made.
            log.warning("reply not classified", extra={"lead_id": str(lead_id), "code": err.code.name})
            classified = f"Reads as: not classified (content {err.code.name})."
        else:
            classified = classification_line(analysis)
            subject = f"{subject}: {_INTENT_WORDS.get(analysis.intent, 'unclear')}"
        recent = await self._communications.list_communications(lead_id, None, THREAD_SIZE + 4)
        lines = thread_lines(recent, reply.communication_id)
        thread = "\nEarlier:\n" + "\n".join(lines) if lines else ""
        return subject, f"{body}\n{classified}{thread}"
