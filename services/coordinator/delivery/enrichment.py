"""A new HighLevel contact, completed from `GET /contacts/{id}` before its first touch.

The webhook lacks the contact's time zone and may lack its DND settings and custom fields
(integrations.md §1.3). With the location's app token we ask HighLevel, within a short
budget (HIGHLEVEL_ENRICH_TIMEOUT_S) so speed-to-lead holds; on timeout or error the lead
goes on with what the webhook carried, and the timeline says so. What we learn is written
to ingest (which owns the lead) through UpsertLead, and used at once for the consent
record the first touch is gated on.

Enrichment only adds: a DND it reports turns the channel off; one it does not report
never turns a DND we hold back on.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import grpc
import httpx
from leadengine.ingest.v1 import ingest_service_pb2 as ingest_pb

from services.coordinator.delivery.credentials import HighLevelCredentials, NotUsable
from services.coordinator.delivery.highlevel_tokens import TokenEndpointDown
from services.coordinator.delivery.provider_config import ProviderConfig
from services.coordinator.timeline.repository import DecisionLog
from shared.clients import IngestClient
from shared.clients.errors import PeerError

log = logging.getLogger(__name__)

CONTACTS_VERSION = "2021-07-28"
ENRICHMENT = "contact_enrichment"
_DND_ON = frozenset({"active", "permanent"})


class ContactUnavailable(Exception):
    pass


def _zone(raw: Any) -> str:
    if not isinstance(raw, str) or not raw.strip():
        return ""
    try:
        ZoneInfo(raw.strip())
    except (ZoneInfoNotFoundError, ValueError):
        return ""
    return raw.strip()


def merge(lead: ingest_pb.Lead, contact: dict[str, Any]) -> tuple[ingest_pb.Lead, list[str]]:
    """The lead with what the contact adds, and the Lead paths that changed."""
    merged = ingest_pb.Lead()
    merged.CopyFrom(lead)
    paths: list[str] = []
    zone = _zone(contact.get("timezone"))
    if zone and zone != lead.timezone:
        merged.timezone = zone
        paths.append("timezone")
    settings = contact.get("dndSettings") if isinstance(contact.get("dndSettings"), dict) else {}
    everything = contact.get("dnd") is True
    for key, name in (("SMS", "sms_dnd"), ("Email", "email_dnd")):
        entry = settings.get(key) if isinstance(settings, dict) else None
        status = entry.get("status") if isinstance(entry, dict) else None
        on = everything or (isinstance(status, str) and status.strip().lower() in _DND_ON)
        if on and not getattr(lead, name):
            setattr(merged, name, True)
            paths.append(name)
    custom = contact.get("customFields")
    if isinstance(custom, list):
        found = {
            str(item["id"]): item.get("value")
            for item in custom
            if isinstance(item, dict) and isinstance(item.get("id"), str) and item["id"]
        }
        current = dict(lead.custom_fields.items())
        fresh = {k: v for k, v in found.items() if k not in current or current[k] != v}
        if fresh:
            merged.custom_fields.update(fresh)
            paths.append("custom_fields")
    return merged, paths


class ContactEnricher:
    def __init__(
        self,
        credentials: HighLevelCredentials,
        http: httpx.AsyncClient,
        cfg: ProviderConfig,
        ingest: IngestClient,
        decisions: DecisionLog,
    ) -> None:
        self._credentials = credentials
        self._http = http
        self._base = cfg.highlevel_base_url
        self._timeout_s = cfg.highlevel_app.enrich_timeout_s
        self._ingest = ingest
        self._decisions = decisions

    async def _fetch(self, lead: ingest_pb.Lead) -> dict[str, Any]:
        try:
            bearer = await self._credentials.bearer(lead.location_id)
        except (NotUsable, TokenEndpointDown) as err:
            raise ContactUnavailable(f"no usable HighLevel token: {err}") from err
        try:
            resp = await self._http.get(
                f"{self._base}/contacts/{lead.external_contact_id}",
                headers={
                    "Authorization": f"Bearer {bearer.token}",
                    "Version": CONTACTS_VERSION,
                    "Accept": "application/json",
                },
            )
        except httpx.HTTPError as err:
            raise ContactUnavailable(f"HighLevel did not answer: {type(err).__name__}") from err
        if resp.status_code != 200:
            raise ContactUnavailable(f"HighLevel GET /contacts answered {resp.status_code}")
        try:
            body = resp.json()
        except ValueError:
            raise ContactUnavailable("HighLevel GET /contacts answered no JSON") from None
        contact = body.get("contact") if isinstance(body, dict) else None
        if not isinstance(contact, dict):
            raise ContactUnavailable("HighLevel GET /contacts answered no contact")
        return contact

    async def _store(self, merged: ingest_pb.Lead, paths: list[str], key: str) -> dict[str, Any]:
        """Written to ingest. A value ingest refuses must not hold the lead's first touch back
        (it would be redelivered for ever): the refusal is recorded instead. Anything
        transient is raised, and the event is handled again."""
        try:
            await self._ingest.update_lead_fields(merged, paths, request_id=f"{key}:enrich")
        except PeerError as err:
            if err.code not in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.FAILED_PRECONDITION):
                raise
            log.warning("ingest refused the enriched lead", extra={"reason": err.reason, "paths": paths})
            return {"stored": False, "store_error": f"{err.code.name}: {err.reason}"}
        return {"stored": True}

    async def enrich(self, key: str, lead: ingest_pb.Lead) -> ingest_pb.Lead:
        """The lead, completed when its location has the app installed; as given otherwise.
        `key` names the event, so a redelivery neither writes nor logs twice."""
        if not lead.external_contact_id or not await self._credentials.installed(lead.location_id):
            return lead
        lead_id = uuid.UUID(lead.lead_id)
        details: dict[str, Any] = {"location_id": lead.location_id, "contact_id": lead.external_contact_id}
        try:
            async with asyncio.timeout(self._timeout_s):
                contact = await self._fetch(lead)
        except TimeoutError:
            why = f"HighLevel GET /contacts took longer than {self._timeout_s:g}s"
        except ContactUnavailable as err:
            why = str(err)
        else:
            merged, paths = merge(lead, contact)
            if paths:
                details |= await self._store(merged, paths, key)
            learned = ", ".join(paths) or "nothing new"
            await self._decisions.record(
                lead_id,
                ENRICHMENT,
                details
                | {
                    "outcome": "enriched",
                    "fields": paths,
                    "summary": f"contact read from HighLevel: {learned}",
                },
                dedupe_key=f"{key}:enrich",
            )
            return merged
        log.warning("contact not enriched; going on with the webhook's data", extra={"reason": why})
        await self._decisions.record(
            lead_id,
            ENRICHMENT,
            details
            | {"outcome": "skipped", "reason": why, "summary": f"contact not read from HighLevel: {why}"},
            dedupe_key=f"{key}:enrich",
        )
        return lead
