"""Claim-first GenerateMessage: of concurrent calls with one request_id, only the first
pays for a generation; the others wait for the message it stores.

A claim is a row, not a lock held in a transaction: the claimant calls Claude between
claiming and storing, and no transaction stays open across that call. A claim whose
holder died (crash, lost connection) expires after `ttl_s` and the next caller takes it.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable

from services.content.repository import Message
from shared import deadlines
from shared.db import Database

# How often a waiting call looks for the claimant's message.
POLL_S = 0.05


class Claims:
    def __init__(self, db: Database, ttl_s: float) -> None:
        self._db = db
        self._ttl_s = ttl_s

    async def _take(self, request_id: str, holder: uuid.UUID) -> bool:
        async with self._db.connection() as conn:
            won = await conn.fetchval(
                "INSERT INTO generation_claims (request_id, holder, expire_time)"
                " VALUES ($1, $2, now() + make_interval(secs => $3))"
                " ON CONFLICT (request_id) DO UPDATE SET holder = EXCLUDED.holder,"
                " expire_time = EXCLUDED.expire_time WHERE generation_claims.expire_time < now()"
                " RETURNING holder",
                request_id,
                holder,
                self._ttl_s,
                timeout=deadlines.timeout(2.0),
            )
        return bool(won == holder)

    async def release(self, request_id: str, holder: uuid.UUID) -> None:
        async with self._db.connection() as conn:
            await conn.execute(
                "DELETE FROM generation_claims WHERE request_id = $1 AND holder = $2",
                request_id,
                holder,
                timeout=deadlines.timeout(2.0),
            )

    async def claim_or_wait(
        self, request_id: str, stored: Callable[[str], Awaitable[Message | None]]
    ) -> Message | uuid.UUID:
        """The message stored under request_id (now or once its claimant stores it), or our
        claim's holder id: then we write it, and release the claim after."""
        holder = uuid.uuid4()
        while True:
            # Taking first: a new request_id (the common case) costs two round trips, not three.
            if await self._take(request_id, holder):
                # An earlier call may have stored it and released its claim already.
                seen = await stored(request_id)
                if seen is not None:
                    await self.release(request_id, holder)
                    return seen
                return holder
            seen = await stored(request_id)
            if seen is not None:
                return seen
            # Bounded by the caller's deadline (deadlines.timeout raises) or the claim's expiry.
            await asyncio.sleep(POLL_S)
