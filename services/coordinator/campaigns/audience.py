"""A campaign's audience, a page at a time: candidates from ingest (its filters), stored
scores from intelligence (max_score), then what the coordinator's own tables exclude.
The coordinator never reads another service's tables."""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from leadengine.ingest.v1 import ingest_service_pb2 as ingest_pb

from services.coordinator.campaigns import campaign as rules
from services.coordinator.campaigns.campaign import Campaign, Standing
from services.coordinator.campaigns.repository import CampaignRepository
from shared.clients import IngestClient, IntelligenceClient


@dataclass(frozen=True)
class AudiencePage:
    leads: list[ingest_pb.Lead]
    scores: dict[str, float]
    # ingest's token of the next page; "" after the last.
    next_token: str
    excluded: Counter[str] = field(default_factory=Counter)


class AudienceReader:
    def __init__(
        self,
        repo: CampaignRepository,
        ingest: IngestClient,
        intelligence: IntelligenceClient,
        *,
        page_size: int,
    ) -> None:
        self._repo = repo
        self._ingest = ingest
        self._intelligence = intelligence
        self._page_size = page_size

    async def page(self, c: Campaign, since: datetime | None, token: str) -> AudiencePage:
        """The members-to-be on one page of ingest's candidates, and why the rest are not."""
        candidates, next_token = await self._ingest.list_leads(
            rules.leads_request(c, since, token, self._page_size)
        )
        scores: dict[str, float] = {}
        if c.audience.max_score and candidates:
            scores = await self._intelligence.scores(c.location_id, [lead.lead_id for lead in candidates])
        standing = await self._repo.standing(
            [(uuid.UUID(lead.lead_id), lead.phone, lead.email) for lead in candidates], c.campaign_id, since
        )
        members: list[ingest_pb.Lead] = []
        excluded: Counter[str] = Counter()
        for lead in candidates:
            why = rules.exclusion(
                lead,
                standing.get(uuid.UUID(lead.lead_id), Standing()),
                scores.get(lead.lead_id),
                c.audience.max_score,
            )
            if why:
                excluded[why] += 1
            else:
                members.append(lead)
        return AudiencePage(members, scores, next_token, excluded)
