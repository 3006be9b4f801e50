"""Opt-outs written back to HighLevel as DND, for locations that send through HighLevel.

Reads what to do from the consent ledger (every opt-out is an entry there, whatever path
made it) joined with the lead's HighLevel contact and the location's provider, so no
opt-out path has to remember to call it. A background loop, durable through
`dnd_writebacks`: an entry is claimed, the contact is updated with
`PUT /contacts/{id}` (`dndSettings.<SMS|Email>.status = active`), and the row says done,
due again with backoff (429, 5xx, network), or failed for good (401/403/404/422,
or after MAX_ATTEMPTS) with the provider's words.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from leadengine.common.v1 import common_pb2
from prometheus_client import Counter

from services.coordinator.delivery.credentials import NotUsable
from services.coordinator.delivery.highlevel_tokens import TokenEndpointDown
from services.coordinator.delivery.provider_config import ProviderConfig
from services.coordinator.delivery.providers import BearerSource, EnvToken
from shared import deadlines
from shared.db import Database

log = logging.getLogger(__name__)

CONTACTS_VERSION = "2021-07-28"
MAX_ATTEMPTS = 8
DND_CHANNELS: dict[int, str] = {common_pb2.CHANNEL_SMS: "SMS", common_pb2.CHANNEL_EMAIL: "Email"}
WRITTEN = Counter("coordinator_dnd_writebacks_total", "Opt-outs written back to HighLevel DND.", ["outcome"])


@dataclass(frozen=True)
class Pending:
    entry_id: int
    channel: int
    contact_id: str
    reason: str
    attempts: int
    location_id: str = ""


# Opt-outs of leads known as a HighLevel contact at a location whose channel goes by
# HighLevel (its own setting, else the process default), not yet written back or due again.
_CLAIM = """
WITH due AS (
    SELECT l.entry_id, l.channel, c.external_contact_id, l.basis, COALESCE(w.attempts, 0) AS attempts
    FROM consent_ledger l
    JOIN delivery_contacts c ON c.lead_id = l.lead_id
    LEFT JOIN delivery_settings s ON s.location_id = c.location_id
    LEFT JOIN dnd_writebacks w ON w.entry_id = l.entry_id
    WHERE l.change = 'opt_out' AND l.lead_id IS NOT NULL
      AND (w.entry_id IS NULL OR (w.state IN ('retry', 'claimed') AND w.next_attempt_time <= $1))
      AND COALESCE(NULLIF(CASE WHEN l.channel = $2 THEN s.sms_provider ELSE s.email_provider END, ''),
                   CASE WHEN l.channel = $2 THEN $3 ELSE $4 END) = 'highlevel'
    ORDER BY l.entry_id
    LIMIT $5
)
INSERT INTO dnd_writebacks (entry_id, state, attempts, next_attempt_time, update_time)
SELECT entry_id, 'claimed', attempts, $1 + $6 * interval '1 second', now() FROM due
ON CONFLICT (entry_id) DO UPDATE SET state = 'claimed', next_attempt_time = EXCLUDED.next_attempt_time,
    update_time = now()
WHERE dnd_writebacks.state IN ('retry', 'claimed') AND dnd_writebacks.next_attempt_time <= $1
RETURNING entry_id
"""


class DndWriteback:
    def __init__(
        self,
        db: Database,
        http: httpx.AsyncClient,
        cfg: ProviderConfig,
        *,
        poll_s: float,
        lease: timedelta,
        clock: Callable[[], datetime],
        batch: int = 20,
        tokens: BearerSource | None = None,
    ) -> None:
        # The location's app token when it installed the app, else HIGHLEVEL_ACCESS_TOKEN.
        self._tokens: BearerSource = tokens or EnvToken(cfg.highlevel_token)
        self._db = db
        self._http = http
        self._cfg = cfg
        self._poll_s = poll_s
        self._lease = lease
        self._clock = clock
        self._batch = batch

    async def run(self) -> None:
        while True:
            if not await self.run_once():
                await asyncio.sleep(self._poll_s)

    async def run_once(self, now: datetime | None = None) -> int:
        """Write back one batch of due opt-outs; how many were tried. Without a HighLevel
        token or app nothing is sent through HighLevel, so there is nothing to write back."""
        if not self._cfg.highlevel_ready:
            return 0
        at = now or self._clock()
        claimed = await self._claim(at)
        for item in claimed:
            state, error = await self._write(item)
            await self._settle(item, state, error, at)
        return len(claimed)

    async def _claim(self, at: datetime) -> list[Pending]:
        async with self._db.transaction() as conn:
            ids = [
                r["entry_id"]
                for r in await conn.fetch(
                    _CLAIM,
                    at,
                    common_pb2.CHANNEL_SMS,
                    self._cfg.sms_provider,
                    self._cfg.email_provider,
                    self._batch,
                    self._lease.total_seconds(),
                    timeout=deadlines.timeout(5.0),
                )
            ]
            rows = await conn.fetch(
                "SELECT l.entry_id, l.channel, c.external_contact_id, l.basis, w.attempts, c.location_id"
                " FROM consent_ledger l JOIN delivery_contacts c ON c.lead_id = l.lead_id"
                " JOIN dnd_writebacks w ON w.entry_id = l.entry_id WHERE l.entry_id = ANY($1::bigint[])"
                " ORDER BY l.entry_id",
                ids,
                timeout=deadlines.timeout(5.0),
            )
        return [
            Pending(
                r["entry_id"],
                r["channel"],
                r["external_contact_id"],
                r["basis"],
                r["attempts"],
                r["location_id"],
            )
            for r in rows
        ]

    async def _write(self, item: Pending) -> tuple[str, str]:
        """('done' | 'retry' | 'failed', the provider's words)."""
        name = DND_CHANNELS.get(item.channel)
        if name is None:
            return "failed", f"channel {item.channel} has no HighLevel DND setting"
        body = {
            "dndSettings": {
                name: {"status": "active", "message": f"LeadEngine opt-out: {item.reason}"[:200], "code": ""}
            }
        }
        try:
            bearer = await self._tokens.bearer(item.location_id)
            resp = await self._put(item, body, bearer.token)
            if resp.status_code == 401 and bearer.location_id:
                # An app token HighLevel no longer takes: refresh once, try once more.
                resp = await self._put(
                    item, body, await self._tokens.refresh(item.location_id, stale=bearer.token)
                )
        except NotUsable as err:
            return "failed", err.reason
        except TokenEndpointDown as err:
            return "retry", err.reason
        except httpx.HTTPError as err:
            return "retry", f"HighLevel unreachable: {type(err).__name__}"
        if resp.status_code < 300:
            return "done", ""
        words = resp.text[:300]
        if resp.status_code == 429 or resp.status_code >= 500:
            return "retry", f"HighLevel answered {resp.status_code}: {words}"
        return "failed", f"HighLevel refused ({resp.status_code}): {words}"

    async def _put(self, item: Pending, body: dict[str, Any], token: str) -> httpx.Response:
        headers = {
            "Authorization": f"Bearer {token}",
            "Version": CONTACTS_VERSION,
            "Accept": "application/json",
        }
        url = f"{self._cfg.highlevel_base_url}/contacts/{item.contact_id}"
        return await self._http.put(url, json=body, headers=headers)

    async def _settle(self, item: Pending, state: str, error: str, at: datetime) -> None:
        attempts = item.attempts + 1
        if state == "retry" and attempts >= MAX_ATTEMPTS:
            state, error = "failed", f"gave up after {attempts} tries: {error}"
        delay = timedelta(seconds=min(2.0**attempts, 3600.0))
        if state == "failed":
            log.error(
                "opt-out not written back to HighLevel", extra={"entry_id": item.entry_id, "error": error}
            )
        WRITTEN.labels(state).inc()
        async with self._db.transaction() as conn:
            await conn.execute(
                "UPDATE dnd_writebacks SET state = $2, attempts = $3, last_error = $4,"
                " next_attempt_time = $5, update_time = now() WHERE entry_id = $1",
                item.entry_id,
                state,
                attempts,
                error,
                at + delay,
                timeout=deadlines.timeout(5.0),
            )
