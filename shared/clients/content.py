"""ContentService as its callers use it: a message written, or content's refusal."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import grpc
from leadengine.content.v1 import content_service_pb2 as pb

from shared.clients.base import Client
from shared.clients.errors import PeerError
from shared.clients.peers import Peers


@dataclass(frozen=True)
class Refused:
    """Content will not write this message as asked (a guardrail tripped, no postal
    address for a CAN-SPAM footer): a gate like consent, not a fault to retry."""

    reason: str  # content's ErrorInfo reason, or the status name when it gave none
    message: str


class ContentClient(Client):
    peer = "content"

    def __init__(self, peers: Peers) -> None:
        self._peers = peers

    async def generate_message(self, request: pb.GenerateMessageRequest) -> pb.Message | Refused:
        try:
            resp = await self._call(
                "GenerateMessage", self._peers.content.GenerateMessage, request, budget_s=10.0
            )
        except PeerError as err:
            if err.code == grpc.StatusCode.FAILED_PRECONDITION:
                return Refused(err.reason or err.code.name, err.message)
            raise
        if resp.message.status == pb.MESSAGE_STATUS_PENDING_APPROVAL and not request.dry_run:
            # Suggest mode: the draft is stored for an agent, and nothing may send it before
            # ApproveMessage. To the caller that is a gate like a refusal, with the id to approve.
            return Refused(
                "MESSAGE_PENDING_APPROVAL",
                f"the location is in suggest mode; message {resp.message.message_id} waits for an "
                "agent's ApproveMessage and was not sent",
            )
        return resp.message

    async def analyze_reply(self, lead_id: uuid.UUID | str, body: str) -> pb.AnalyzeReplyResponse:
        """What a lead's reply reads as: intent, sentiment and the phrases that decided."""
        request = pb.AnalyzeReplyRequest(lead_id=str(lead_id), body=body)
        return await self._call("AnalyzeReply", self._peers.content.AnalyzeReply, request, budget_s=2.0)
