"""The consent ledger and the locations' consent policies: SQL only.

The ledger is append-only (a trigger refuses UPDATE and DELETE): every consent change
is a new row saying who or what changed it, when, and the evidence. Policies are
versioned per location; setting one adds a version, and nothing is overwritten.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg
from leadengine.common.v1 import common_pb2

from services.coordinator.compliance.basis import Policy
from shared import deadlines
from shared.db import Conn, Database

BASIS = "basis"
BASIS_WITHDRAWN = "basis_withdrawn"
OPT_OUT = "opt_out"
OPT_IN = "opt_in"


@dataclass(frozen=True)
class LedgerEntry:
    channel: common_pb2.Channel.ValueType
    change: str  # BASIS, BASIS_WITHDRAWN, OPT_OUT or OPT_IN
    actor: str
    occur_time: datetime
    lead_id: uuid.UUID | None = None
    location_id: str = ""
    basis: str = ""
    evidence: dict[str, Any] = field(default_factory=dict)
    address: str = ""


async def append(conn: Conn, entries: list[LedgerEntry]) -> None:
    if not entries:
        return
    await conn.executemany(
        "INSERT INTO consent_ledger (lead_id, location_id, channel, change, actor, basis, evidence,"
        " address, occur_time) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        [
            (
                e.lead_id,
                e.location_id,
                e.channel,
                e.change,
                e.actor,
                e.basis,
                e.evidence,  # the pool's jsonb codec encodes it
                e.address,
                e.occur_time,
            )
            for e in entries
        ],
        timeout=deadlines.timeout(2.0),
    )


def _policy(row: asyncpg.Record) -> Policy:
    return Policy(
        location_id=row["location_id"],
        version=row["version"],
        sms_consent_tags=tuple(row["sms_consent_tags"]),
        attestation=row["attestation"],
        email_requires_opt_in=row["email_requires_opt_in"],
        update_time=row["create_time"],
    )


def _same(a: Policy, b: Policy) -> bool:
    return (a.sms_consent_tags, a.attestation, a.email_requires_opt_in) == (
        b.sms_consent_tags,
        b.attestation,
        b.email_requires_opt_in,
    )


_CURRENT = "SELECT * FROM consent_policies WHERE location_id = $1 ORDER BY version DESC LIMIT 1"


class ConsentPolicyRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def current(self, location_id: str) -> Policy:
        """The location's policy; the default (version 0) when none was set."""
        async with self._db.connection() as conn:
            row = await conn.fetchrow(_CURRENT, location_id, timeout=deadlines.timeout(2.0))
        return _policy(row) if row is not None else Policy(location_id=location_id)

    async def set_policy(self, policy: Policy, request_id: str | None) -> Policy:
        """Adds a version, unless the request was seen (its version is returned) or the
        policy is unchanged (the current version is returned)."""
        async with self._db.transaction() as conn:
            # Versions of one location are numbered one at a time.
            await conn.execute(
                "SELECT pg_advisory_xact_lock(hashtext('consent_policies:' || $1))",
                policy.location_id,
                timeout=deadlines.timeout(2.0),
            )
            if request_id is not None:
                seen = await conn.fetchrow(
                    "SELECT * FROM consent_policies WHERE location_id = $1 AND request_id = $2",
                    policy.location_id,
                    request_id,
                    timeout=deadlines.timeout(2.0),
                )
                if seen is not None:
                    return _policy(seen)
            row = await conn.fetchrow(_CURRENT, policy.location_id, timeout=deadlines.timeout(2.0))
            current = _policy(row) if row is not None else Policy(location_id=policy.location_id)
            if row is not None and _same(current, policy):
                return current
            stored = await conn.fetchrow(
                "INSERT INTO consent_policies (location_id, version, sms_consent_tags, attestation,"
                " email_requires_opt_in, request_id) VALUES ($1, $2, $3, $4, $5, $6) RETURNING *",
                policy.location_id,
                current.version + 1,
                list(policy.sms_consent_tags),
                policy.attestation,
                policy.email_requires_opt_in,
                request_id,
                timeout=deadlines.timeout(2.0),
            )
        return _policy(stored)
