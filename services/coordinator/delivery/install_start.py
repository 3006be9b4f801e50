"""Where a HighLevel install starts (the authorization URL with our signed state) and the
check every callback passes before its code is exchanged: a state we signed, not expired,
and not used before with another code.

The same state with the same code is the same callback retried (the gateway's call is
retried on UNAVAILABLE, or the person's browser reloads): it is let through, and the code
exchange answers the install that code made. A state used with another code is refused,
and nothing is written.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

from services.coordinator.delivery import oauth_state
from services.coordinator.delivery.credentials import code_digest
from services.coordinator.delivery.highlevel_app import HighLevelApp
from shared import deadlines
from shared.db import Database
from shared.errors import FailedPrecondition, FieldViolation, InvalidArgument


@dataclass(frozen=True)
class Started:
    authorization_url: str
    state: str
    expire_time: datetime


class InstallStates:
    def __init__(self, db: Database, app: HighLevelApp, clock: Callable[[], datetime]) -> None:
        self._db = db
        self._app = app
        self._clock = clock

    def _require_app(self) -> None:
        if not (self._app.ready and self._app.state_key):
            raise FailedPrecondition(
                "the HighLevel app is not configured (HIGHLEVEL_CLIENT_ID, HIGHLEVEL_CLIENT_SECRET,"
                " HIGHLEVEL_TOKEN_KEYS, HIGHLEVEL_OAUTH_STATE_KEY)",
                reason="HIGHLEVEL_APP_NOT_CONFIGURED",
            )

    def start(self) -> Started:
        self._require_app()
        token, state = oauth_state.issue(
            self._app.state_key, self._clock() + timedelta(seconds=self._app.state_ttl_s)
        )
        query = {"response_type": "code", "client_id": self._app.client_id}
        if self._app.redirect_uri:
            query["redirect_uri"] = self._app.redirect_uri
        if self._app.scopes:
            query["scope"] = self._app.scopes
        query["state"] = token
        sep = "&" if "?" in self._app.authorize_url else "?"
        return Started(f"{self._app.authorize_url}{sep}{urlencode(query)}", token, state.expire_time)

    async def admit(self, token: str, code: str) -> None:
        """Raises InvalidArgument (missing, forged, expired) or FailedPrecondition (used
        before with another code); records the state's first use otherwise."""
        self._require_app()
        try:
            state = oauth_state.verify(token, self._app.state_key, self._clock())
        except oauth_state.BadState as err:
            expired = "expired" in str(err)
            raise InvalidArgument(
                str(err),
                reason="HIGHLEVEL_STATE_EXPIRED" if expired else "HIGHLEVEL_STATE_INVALID",
                violations=[FieldViolation("state", str(err))],
            ) from None
        digest = code_digest(code)
        async with self._db.transaction() as conn:
            first = await conn.fetchval(
                "INSERT INTO highlevel_oauth_states (nonce, code_digest, expire_time, use_time)"
                " VALUES ($1, $2, $3, $4) ON CONFLICT (nonce) DO NOTHING RETURNING nonce",
                state.nonce,
                digest,
                state.expire_time,
                self._clock(),
                timeout=deadlines.timeout(5.0),
            )
            if first is not None:
                return
            used_with = await conn.fetchval(
                "SELECT code_digest FROM highlevel_oauth_states WHERE nonce = $1",
                state.nonce,
                timeout=deadlines.timeout(5.0),
            )
        if used_with != digest:
            raise FailedPrecondition(
                "this install link was already used: start the install again",
                reason="HIGHLEVEL_STATE_USED",
            )
