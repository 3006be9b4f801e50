"""Per-location HighLevel credentials from the marketplace app's OAuth install.

Tokens are stored as Fernet ciphertext (HIGHLEVEL_TOKEN_KEYS, newest key first: rotation
re-encrypts on the next write, old keys keep decrypting). HighLevel refresh tokens are
single-use, so a refresh happens only under the install row's lock: a second replica
waiting on that lock finds a token other than the one it saw and uses it instead of
spending the (already spent) refresh token again. The lock is held across the token
call on purpose; that call is bounded by the provider timeout.

A refresh HighLevel refuses marks the location needs-reinstall (tokens wiped, alert
logged); its HighLevel messages then fail with that reason and are never retried.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from prometheus_client import Counter

from services.coordinator.delivery.highlevel_app import HighLevelApp
from services.coordinator.delivery.highlevel_tokens import (
    Grant,
    GrantRejected,
    TokenEndpoint,
    TokenEndpointDown,
)
from shared import deadlines
from shared.db import Conn, Database
from shared.errors import FailedPrecondition, InvalidArgument, Unavailable

log = logging.getLogger(__name__)

ACTIVE, NEEDS_REINSTALL, UNINSTALLED = "active", "needs_reinstall", "uninstalled"
REFRESHES = Counter("highlevel_token_refreshes_total", "HighLevel token refreshes by outcome", ["outcome"])
REINSTALL_ALERTS = Counter(
    "highlevel_reinstall_needed_total",
    "Locations whose HighLevel refresh was refused: a person must reinstall",
)


class NotUsable(Exception):
    """The location has no HighLevel credential we may send with, and why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Install:
    """An install as callers see it: never its tokens."""

    location_id: str
    company_id: str
    user_type: str
    state: str
    state_reason: str
    expire_time: datetime | None
    install_time: datetime
    refresh_time: datetime | None


@dataclass(frozen=True)
class Bearer:
    token: str
    # Set when the token is a location's own (a 401 may be cured by refreshing it).
    location_id: str = ""


def _install(row: asyncpg.Record) -> Install:
    return Install(
        location_id=row["location_id"],
        company_id=row["company_id"],
        user_type=row["user_type"],
        state=row["state"],
        state_reason=row["state_reason"],
        expire_time=row["expire_time"],
        install_time=row["install_time"],
        refresh_time=row["refresh_time"],
    )


def code_digest(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


class TokenCipher:
    def __init__(self, keys: tuple[str, ...]) -> None:
        self._fernet = MultiFernet([Fernet(k.encode()) for k in keys]) if keys else None

    def seal(self, token: str) -> bytes:
        if self._fernet is None:
            raise NotUsable("HIGHLEVEL_TOKEN_KEYS is not set: tokens cannot be stored")
        return self._fernet.encrypt(token.encode())

    def open(self, sealed: bytes) -> str:
        if self._fernet is None:
            raise NotUsable("HIGHLEVEL_TOKEN_KEYS is not set: stored tokens cannot be read")
        try:
            return self._fernet.decrypt(bytes(sealed)).decode()
        except InvalidToken:
            raise NotUsable(
                "the stored HighLevel token does not decrypt with HIGHLEVEL_TOKEN_KEYS (a key was removed?)"
            ) from None


@dataclass(frozen=True)
class Held:
    """An install row under its lock, tokens decrypted."""

    install: Install
    access_token: str
    refresh_token: str


class InstallRepository:
    def __init__(self, db: Database, cipher: TokenCipher) -> None:
        self._db = db
        self._cipher = cipher

    async def get(self, location_id: str) -> Install | None:
        async with self._db.connection() as conn:
            row = await conn.fetchrow(
                "SELECT * FROM highlevel_installs WHERE location_id = $1",
                location_id,
                timeout=deadlines.timeout(2.0),
            )
        return _install(row) if row is not None else None

    async def by_code(self, digest: str) -> Install | None:
        async with self._db.connection() as conn:
            row = await conn.fetchrow(
                "SELECT * FROM highlevel_installs WHERE code_digest = $1",
                digest,
                timeout=deadlines.timeout(2.0),
            )
        return _install(row) if row is not None else None

    async def access(self, location_id: str) -> tuple[Install, str] | None:
        """The install and its access token (decrypted; "" when it holds none)."""
        async with self._db.connection() as conn:
            row = await conn.fetchrow(
                "SELECT * FROM highlevel_installs WHERE location_id = $1",
                location_id,
                timeout=deadlines.timeout(2.0),
            )
        if row is None:
            return None
        token = self._cipher.open(row["access_token"]) if row["access_token"] is not None else ""
        return _install(row), token

    async def save(self, grant: Grant, digest: str, now: datetime) -> Install:
        async with self._db.transaction() as conn:
            row = await conn.fetchrow(
                "INSERT INTO highlevel_installs (location_id, company_id, user_type, state, state_reason,"
                " access_token, refresh_token, expire_time, code_digest, install_time, update_time)"
                " VALUES ($1, $2, $3, $4, '', $5, $6, $7, $8, $9, $9)"
                " ON CONFLICT (location_id) DO UPDATE SET company_id = EXCLUDED.company_id,"
                " user_type = EXCLUDED.user_type, state = EXCLUDED.state, state_reason = '',"
                " access_token = EXCLUDED.access_token, refresh_token = EXCLUDED.refresh_token,"
                " expire_time = EXCLUDED.expire_time, code_digest = EXCLUDED.code_digest,"
                " install_time = EXCLUDED.install_time, refresh_time = NULL,"
                " update_time = EXCLUDED.update_time"
                " RETURNING *",
                grant.location_id,
                grant.company_id,
                grant.user_type,
                ACTIVE,
                self._cipher.seal(grant.access_token),
                self._cipher.seal(grant.refresh_token),
                now + timedelta(seconds=grant.expires_in_s),
                digest,
                now,
                timeout=deadlines.timeout(2.0),
            )
        return _install(row)

    @asynccontextmanager
    async def locked(self, location_id: str) -> AsyncIterator[tuple[Conn, Held | None]]:
        async with self._db.transaction() as conn:
            row = await conn.fetchrow(
                "SELECT * FROM highlevel_installs WHERE location_id = $1 FOR UPDATE",
                location_id,
                timeout=deadlines.timeout(10.0),
            )
            if row is None or row["state"] != ACTIVE:
                yield conn, (Held(_install(row), "", "") if row is not None else None)
                return
            held = Held(
                _install(row), self._cipher.open(row["access_token"]), self._cipher.open(row["refresh_token"])
            )
            yield conn, held

    async def store_refreshed(self, conn: Conn, location_id: str, grant: Grant, now: datetime) -> None:
        await conn.execute(
            "UPDATE highlevel_installs SET access_token = $2, refresh_token = $3, expire_time = $4,"
            " refresh_time = $5, update_time = $5 WHERE location_id = $1",
            location_id,
            self._cipher.seal(grant.access_token),
            self._cipher.seal(grant.refresh_token),
            now + timedelta(seconds=grant.expires_in_s),
            now,
            timeout=deadlines.timeout(2.0),
        )

    async def retire_in(self, conn: Conn, location_id: str, state: str, reason: str) -> Install:
        """Tokens deleted; the row stays, so the env token is not used for it either."""
        row = await conn.fetchrow(
            "INSERT INTO highlevel_installs (location_id, state, state_reason) VALUES ($1, $2, $3)"
            " ON CONFLICT (location_id) DO UPDATE SET state = EXCLUDED.state,"
            " state_reason = EXCLUDED.state_reason, access_token = NULL, refresh_token = NULL,"
            " expire_time = NULL, update_time = now() RETURNING *",
            location_id,
            state,
            reason,
            timeout=deadlines.timeout(2.0),
        )
        return _install(row)

    async def retire(self, location_id: str, state: str, reason: str) -> Install:
        async with self._db.transaction() as conn:
            return await self.retire_in(conn, location_id, state, reason)

    async def expiring(self, before: datetime, limit: int) -> list[str]:
        async with self._db.connection() as conn:
            rows = await conn.fetch(
                "SELECT location_id FROM highlevel_installs WHERE state = $1 AND expire_time < $2"
                " ORDER BY expire_time LIMIT $3",
                ACTIVE,
                before,
                limit,
                timeout=deadlines.timeout(5.0),
            )
        return [r["location_id"] for r in rows]


class HighLevelCredentials:
    """The bearer token for a location's HighLevel calls: its install's (refreshed when
    near expiry), else HIGHLEVEL_ACCESS_TOKEN, else none."""

    def __init__(
        self,
        installs: InstallRepository,
        endpoint: TokenEndpoint | None,
        app: HighLevelApp,
        env_token: str,
        clock: Callable[[], datetime],
    ) -> None:
        self._installs = installs
        self._endpoint = endpoint
        self._app = app
        self._env_token = env_token
        self._clock = clock

    def _due(self, install: Install) -> bool:
        ahead = timedelta(seconds=self._app.refresh_ahead_s)
        return install.expire_time is None or install.expire_time - self._clock() <= ahead

    async def installed(self, location_id: str) -> bool:
        install = await self._installs.get(location_id) if location_id else None
        return install is not None and install.state == ACTIVE

    async def bearer(self, location_id: str) -> Bearer:
        """Raises NotUsable (with the reason) or TokenEndpointDown (a due refresh failed)."""
        found = await self._installs.access(location_id) if location_id else None
        if found is None:
            if self._env_token:
                return Bearer(self._env_token)
            raise NotUsable(
                f"no HighLevel app install for location {location_id!r} and no HIGHLEVEL_ACCESS_TOKEN"
            )
        install, token = found
        if install.state != ACTIVE:
            raise NotUsable(
                install.state_reason or f"HighLevel install for {location_id!r} is {install.state}"
            )
        if self._due(install):
            token = await self.refresh(location_id, stale=token)
        return Bearer(token, location_id)

    async def refresh(self, location_id: str, *, stale: str | None) -> str:
        """A fresh access token for the location. `stale` is the token the caller saw
        rejected or expiring: if the row holds another one now, a replica already
        refreshed and that one is returned. With stale=None (the refresher) the row is
        refreshed only if it is still due."""
        if self._endpoint is None:
            raise NotUsable("HighLevel app credentials (HIGHLEVEL_CLIENT_ID/SECRET) are not configured")
        refused = ""
        async with self._installs.locked(location_id) as (conn, held):
            if held is None or held.install.state != ACTIVE:
                reason = held.install.state_reason if held is not None else ""
                raise NotUsable(reason or f"no active HighLevel app install for location {location_id!r}")
            if (stale is not None and held.access_token != stale) or (
                stale is None and not self._due(held.install)
            ):
                REFRESHES.labels("already_done").inc()
                return held.access_token
            try:
                grant = await self._endpoint.refresh(held.refresh_token)
            except GrantRejected as err:
                refused = (
                    f"HighLevel refused to refresh location {location_id}'s token ({err.reason}):"
                    " install the app on the location again"
                )
                await self._installs.retire_in(conn, location_id, NEEDS_REINSTALL, refused)
            else:
                await self._installs.store_refreshed(conn, location_id, grant, self._clock())
                REFRESHES.labels("refreshed").inc()
                return grant.access_token
        # Raised after the commit: the needs-reinstall mark must stick.
        REFRESHES.labels("refused").inc()
        REINSTALL_ALERTS.inc()
        log.error(
            "HighLevel refresh refused; the location needs the app installed again",
            extra={"location_id": location_id, "reason": refused},
        )
        raise NotUsable(refused)

    async def complete_install(self, code: str) -> Install:
        if self._endpoint is None:
            raise FailedPrecondition(
                "the HighLevel app is not configured (HIGHLEVEL_CLIENT_ID, HIGHLEVEL_CLIENT_SECRET,"
                " HIGHLEVEL_TOKEN_KEYS)",
                reason="HIGHLEVEL_APP_NOT_CONFIGURED",
            )
        digest = code_digest(code)
        done = await self._installs.by_code(digest)
        if done is not None:
            return done  # the callback was retried with the code already exchanged
        try:
            grant = await self._endpoint.exchange(code)
        except GrantRejected as err:
            done = await self._installs.by_code(digest)  # a concurrent callback won
            if done is not None:
                return done
            raise InvalidArgument(
                f"HighLevel refused the authorization code ({err.reason}); start the install again",
                reason="HIGHLEVEL_CODE_REJECTED",
            ) from None
        except TokenEndpointDown as err:
            raise Unavailable(
                f"{err.reason}; try the install again", reason="HIGHLEVEL_UNAVAILABLE"
            ) from None
        if not grant.location_id:
            raise FailedPrecondition(
                "HighLevel issued an agency (Company) token; install the app on a sub-account (location)",
                reason="HIGHLEVEL_NOT_A_LOCATION",
                metadata={"company_id": grant.company_id},
            )
        install = await self._installs.save(grant, digest, self._clock())
        log.info("HighLevel app installed", extra={"location_id": install.location_id})
        return install

    async def uninstalled(self, location_id: str, at: datetime | None) -> Install:
        when = f" at {at:%Y-%m-%d %H:%M} UTC" if at is not None else ""
        reason = (
            f"the HighLevel app was uninstalled from location {location_id}{when}; install it again to send"
        )
        install = await self._installs.retire(location_id, UNINSTALLED, reason)
        log.info("HighLevel app uninstalled; tokens deleted", extra={"location_id": location_id})
        return install

    async def refresh_due(self, limit: int = 50) -> int:
        """Refresh every install expiring within refresh_ahead_s; returns how many were looked at."""
        if self._endpoint is None:
            # Without the app's client nothing can be refreshed; sends say so when they need it.
            return 0
        due = await self._installs.expiring(
            self._clock() + timedelta(seconds=self._app.refresh_ahead_s), limit
        )
        for location_id in due:
            try:
                await self.refresh(location_id, stale=None)
            except NotUsable:
                continue  # logged and alerted where it was decided
            except TokenEndpointDown as err:
                REFRESHES.labels("unavailable").inc()
                log.warning(
                    "HighLevel refresh deferred", extra={"location_id": location_id, "reason": err.reason}
                )
        return len(due)

    async def run(self) -> None:
        while True:
            await self.refresh_due()
            await asyncio.sleep(self._app.refresh_poll_s)


def create_credentials(
    db: Database,
    endpoint: TokenEndpoint | None,
    app: HighLevelApp,
    env_token: str,
    clock: Callable[[], datetime],
) -> HighLevelCredentials:
    return HighLevelCredentials(
        InstallRepository(db, TokenCipher(app.token_keys)),
        endpoint if app.ready else None,
        app,
        env_token,
        clock,
    )
