"""IngestService.ListLeadProfiles: what bulk scoring reads of a location's leads, as columns.

Columns, not Lead messages: building and parsing a full Lead costs far more than the six
fields intelligence scores a lead's fit by, and a page of 20,000 stays well under the 4 MiB
message limit. Mixed into IngestServicer.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from asyncpg import Record
from leadengine.ingest.v1 import ingest_service_pb2 as pb

from services.ingest.repository.leads import LeadReads
from shared import inputs, pagination
from shared.errors import FieldViolation, InvalidArgument
from shared.rpc import Context

DEFAULT_PROFILE_PAGE = 10_000
MAX_PROFILE_PAGE = 20_000


class LeadProfileHandlers:
    _lead_reads: LeadReads

    async def ListLeadProfiles(
        self, request: pb.ListLeadProfilesRequest, context: Context
    ) -> pb.ListLeadProfilesResponse:
        location_id = inputs.require_text(request.location_id, "location_id")
        if request.page_size < 0:
            raise InvalidArgument(
                "page_size must not be negative", violations=[FieldViolation("page_size", "must be >= 0")]
            )
        if request.lead_ids:
            rows = await self._lead_reads.profiles_of(location_id, self._profile_ids(request))
            return _profiles(rows, "")
        size = min(request.page_size or DEFAULT_PROFILE_PAGE, MAX_PROFILE_PAGE)
        after = pagination.decode_cursor(
            request.page_token, lambda c: uuid.UUID(c["id"]), query=f"profiles|{location_id}"
        )
        rows = await self._lead_reads.profile_page(location_id, after, size)
        page, token = pagination.page_of(
            rows, size, lambda r: {"id": str(r["lead_id"])}, query=f"profiles|{location_id}"
        )
        return _profiles(page, token)

    @staticmethod
    def _profile_ids(request: pb.ListLeadProfilesRequest) -> list[uuid.UUID]:
        if request.page_size or request.page_token:
            raise InvalidArgument(
                "lead_ids are answered in one page: leave page_size and page_token unset",
                violations=[FieldViolation("lead_ids", "without page_size and page_token")],
            )
        if len(request.lead_ids) > MAX_PROFILE_PAGE:
            raise InvalidArgument(
                f"{len(request.lead_ids)} lead_ids; at most {MAX_PROFILE_PAGE:,} a call",
                violations=[FieldViolation("lead_ids", f"at most {MAX_PROFILE_PAGE:,} ids")],
            )
        return [inputs.parse_uuid(i, "lead_ids", what="lead id") for i in request.lead_ids]


def _profiles(rows: Sequence[Record], token: str) -> pb.ListLeadProfilesResponse:
    return pb.ListLeadProfilesResponse(
        lead_ids=[str(r["lead_id"]) for r in rows],
        budget_usd=[r["budget_usd"] for r in rows],
        preapproved=[r["preapproved"] for r in rows],
        timeline_months=[r["timeline_months"] for r in rows],
        has_phone=[r["has_phone"] for r in rows],
        has_email=[r["has_email"] for r in rows],
        source=[r["source"] for r in rows],
        next_page_token=token,
    )
