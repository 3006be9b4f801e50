"""Asking content to write a message, where a refusal is a gate like consent."""

from __future__ import annotations

import grpc
from leadengine.content.v1 import content_service_pb2 as content_pb

from shared import deadlines
from shared.clients import Peers
from shared.errors import error_reason


async def write(
    peers: Peers, request: content_pb.GenerateMessageRequest
) -> tuple[content_pb.Message | None, str]:
    """The message content wrote, or None and why content refused to write it.

    A refusal (FAILED_PRECONDITION: a guardrail tripped, no postal address for a
    CAN-SPAM footer) is a gate like consent: the step is recorded BLOCKED with
    content's words, rather than retried forever. Other errors propagate."""
    try:
        resp = await peers.content.GenerateMessage(request, timeout=deadlines.timeout(10.0))
    except grpc.aio.AioRpcError as err:
        if err.code() != grpc.StatusCode.FAILED_PRECONDITION:
            raise
        why = error_reason(err) or "FAILED_PRECONDITION"
        return None, f"content refused to write it ({why}): {err.details()}"
    return resp.message, ""
