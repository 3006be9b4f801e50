"""ContentService handlers: proto in, use-case calls, proto out. No rules, no SQL, no status codes."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TypeVar

from leadengine.content.v1 import content_service_pb2 as pb
from leadengine.content.v1 import content_service_pb2_grpc as pb_grpc

from services.content import facts as caller_facts
from services.content import guardrails
from services.content.facts import FIELD_LIMITS
from services.content.generation import Ask, Generation
from services.content.location_servicer import LocationContentHandlers
from services.content.message_protos import CHANNELS, PURPOSES, message_to_proto
from services.content.reply_analysis import LexiconAnalyzer, ReplyAnalyzer
from services.content.reply_servicer import ReplyHandlers
from services.content.repository import MessageRepository
from services.content.settings_repository import ContentSettingsRepository
from services.content.usage_repository import Budgets, UsageRepository
from services.content.usage_servicer import UsageHandlers
from shared import inputs, pagination, tenancy
from shared.errors import FieldViolation, InvalidArgument
from shared.rpc import Context

# A proto enum's ValueType: CHANNELS and PURPOSES are keyed by theirs, and a Mapping is invariant in its keys.
_Enum = TypeVar("_Enum", bound=int)


def _required_enum(value: _Enum, known: Mapping[_Enum, str], field: str, allowed: str) -> str:
    if value not in known:
        raise InvalidArgument(
            f"{field} is required; use one of {allowed}",
            reason="MISSING_FIELD" if value == 0 else "INVALID_ENUM",  # 0: any enum's UNSPECIFIED
            violations=[FieldViolation(field, f"one of {allowed}")],
        )
    return known[value]


class ContentServicer(LocationContentHandlers, ReplyHandlers, UsageHandlers, pb_grpc.ContentServiceServicer):
    def __init__(
        self,
        generation: Generation,
        repo: MessageRepository,
        settings: ContentSettingsRepository,
        *,
        usage: UsageRepository,
        budgets: Budgets,
        analyzer: ReplyAnalyzer | None = None,
    ) -> None:
        self._generation = generation
        self._repo = repo
        self._settings = settings
        self._usage = usage
        self._budgets = budgets
        self._analyzer = analyzer or LexiconAnalyzer()

    async def GenerateMessage(
        self, request: pb.GenerateMessageRequest, context: Context
    ) -> pb.GenerateMessageResponse:
        lead_id = inputs.parse_uuid(request.lead_id, "lead_id", what="lead id")
        location_id = inputs.require_text(request.location_id, "location_id")
        channel = _required_enum(request.channel, CHANNELS, "channel", "CHANNEL_SMS, CHANNEL_EMAIL")
        purpose = _required_enum(
            request.purpose,
            PURPOSES,
            "purpose",
            "FIRST_TOUCH, FOLLOW_UP, RE_ENGAGEMENT, TRIGGER, REPLY_TO_INBOUND, APPOINTMENT_REMINDER, "
            "AGENT_NOTIFICATION",
        )
        ctx = request.context
        facts = self._generation.facts(
            {name: getattr(ctx, name) for name in FIELD_LIMITS},
            agent_phone=ctx.agent_phone,
            lead_score=ctx.lead_score,
        )
        facts = dataclasses.replace(
            facts,
            thread=caller_facts.thread((m.from_lead, m.body) for m in ctx.thread),
            email_marketing_consent=ctx.email_marketing_consent,
        )
        request_id = inputs.request_key(request.request_id)
        if request.step_index < 0:
            raise InvalidArgument(
                "step_index must not be negative",
                violations=[FieldViolation("step_index", "0 for the first touch, else the cadence step")],
            )
        message = await self._generation.generate(
            Ask(
                lead_id,
                location_id,
                channel,
                purpose,
                facts,
                request_id,
                request.step_index,
                dry_run=request.dry_run,
                postal_address=caller_facts.postal_address(ctx.postal_address),
                language=caller_facts.language(ctx.language),
                tone=guardrails.sanitize(ctx.tone, 40),
                zip_code=ctx.zip.strip()[:5],
            )
        )
        written = message_to_proto(message)
        if request.dry_run:
            written.message_id = ""  # nothing was stored under any id
        return pb.GenerateMessageResponse(message=written)

    async def GetConversation(
        self, request: pb.GetConversationRequest, context: Context
    ) -> pb.GetConversationResponse:
        lead_id = inputs.parse_uuid(request.lead_id, "lead_id", what="lead id")
        location = tenancy.required_location(request.location_id)
        size = pagination.page_size(request.page_size)
        after = pagination.decode_cursor(request.page_token, pagination.time_and_uuid, query=str(lead_id))
        found = await self._repo.conversation(lead_id, after, size)
        if found:  # every message to a lead is in the lead's location
            tenancy.ensure_owned(
                location,
                found[0].location_id,
                "lead",
                lead_id,
                "LEAD_NOT_FOUND",
            )
        page, token = pagination.page_of(
            found,
            size,
            lambda m: {"t": m.create_time.isoformat(), "id": str(m.message_id)},
            query=str(lead_id),
        )
        return pb.GetConversationResponse(messages=[message_to_proto(m) for m in page], next_page_token=token)
