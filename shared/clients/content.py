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
    # MESSAGE_PENDING_APPROVAL: the stored draft an agent may approve.
    message_id: str = ""


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
                message_id=resp.message.message_id,
            )
        return resp.message

    async def analyze_reply(
        self, lead_id: uuid.UUID | str, body: str, location_id: str = ""
    ) -> pb.AnalyzeReplyResponse:
        """What a lead's reply reads as: intent, sentiment and the phrases that decided.
        With the lead's location, Claude's analysis counts against that location's budget."""
        request = pb.AnalyzeReplyRequest(lead_id=str(lead_id), body=body, location_id=location_id)
        return await self._call("AnalyzeReply", self._peers.content.AnalyzeReply, request, budget_s=2.0)

    async def find_message(
        self, lead_id: uuid.UUID | str, message_id: str, location_id: str
    ) -> pb.Message | None:
        """One message content wrote for the lead, as it stands now (an approval included);
        None when content holds no such message for that lead (in location_id, when given)."""
        token = ""
        while True:
            request = pb.GetConversationRequest(
                lead_id=str(lead_id), page_size=100, page_token=token, location_id=location_id
            )
            page = await self._call(
                "GetConversation", self._peers.content.GetConversation, request, budget_s=2.0
            )
            for message in page.messages:
                if message.message_id == message_id:
                    return message
            token = page.next_page_token
            if not token:
                return None
