"""Asking content to write a message, where a refusal is a gate like consent."""

from __future__ import annotations

from leadengine.content.v1 import content_service_pb2 as content_pb

from shared.clients import ContentClient, Refused


async def write(
    content: ContentClient, request: content_pb.GenerateMessageRequest
) -> tuple[content_pb.Message | None, str]:
    """The message content wrote, or None and why content refused to write it.

    A refusal (a guardrail tripped, no postal address for a CAN-SPAM footer) is a
    gate like consent: the step is recorded BLOCKED with content's words, rather
    than retried forever. A suggest-mode draft waiting for an agent is recorded the same
    way: the coordinator never sends a message content has not released. Other errors
    propagate as PeerError."""
    written, refused, _ = await write_or_hold(content, request)
    return written, refused


async def write_or_hold(
    content: ContentClient, request: content_pb.GenerateMessageRequest
) -> tuple[content_pb.Message | None, str, str]:
    """As write(), plus the id of a suggest-mode draft held for an agent's approval
    ("" otherwise), so the step can be sent once the agent approves it."""
    written = await content.generate_message(request)
    if isinstance(written, Refused) and written.reason == "MESSAGE_PENDING_APPROVAL":
        return None, f"not sent: {written.message}", written.message_id
    if isinstance(written, Refused):
        return None, f"content refused to write it ({written.reason}): {written.message}", ""
    return written, "", ""
