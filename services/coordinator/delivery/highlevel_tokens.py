"""HighLevel's OAuth token endpoint (`POST /oauth/token`, form-encoded): the authorization
code and refresh token grants. One call each, never retried here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from services.coordinator.delivery.provider_config import ProviderConfig


@dataclass(frozen=True)
class Grant:
    access_token: str
    refresh_token: str
    expires_in_s: float
    location_id: str
    company_id: str
    user_type: str


class GrantRejected(Exception):
    """The endpoint refused the code or refresh token (4xx): asking again cannot help."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TokenEndpointDown(Exception):
    """No usable answer (transport error, 429, 5xx): nothing changed; try later."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _body(resp: httpx.Response) -> dict[str, Any]:
    try:
        body = resp.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


class TokenEndpoint:
    def __init__(self, http: httpx.AsyncClient, cfg: ProviderConfig) -> None:
        self._http = http
        self._app = cfg.highlevel_app
        self._url = cfg.highlevel_app.token_endpoint(cfg.highlevel_base_url)

    async def exchange(self, code: str) -> Grant:
        form = {"grant_type": "authorization_code", "code": code, "user_type": "Location"}
        if self._app.redirect_uri:
            form["redirect_uri"] = self._app.redirect_uri
        return await self._grant(form)

    async def refresh(self, refresh_token: str) -> Grant:
        return await self._grant(
            {"grant_type": "refresh_token", "refresh_token": refresh_token, "user_type": "Location"}
        )

    async def _grant(self, form: dict[str, str]) -> Grant:
        form = {**form, "client_id": self._app.client_id, "client_secret": self._app.client_secret}
        try:
            resp = await self._http.post(self._url, data=form, headers={"Accept": "application/json"})
        except httpx.HTTPError as err:
            raise TokenEndpointDown(f"HighLevel token endpoint did not answer: {type(err).__name__}") from err
        body = _body(resp)
        said = str(body.get("error_description") or body.get("message") or body.get("error") or "")
        if resp.status_code == 429 or resp.status_code >= 500:
            raise TokenEndpointDown(f"HighLevel token endpoint answered {resp.status_code}: {said[:200]}")
        if resp.status_code != 200:
            raise GrantRejected(f"HighLevel {resp.status_code}: {said[:200] or resp.reason_phrase}")
        access, refresh = body.get("access_token"), body.get("refresh_token")
        if not isinstance(access, str) or not access or not isinstance(refresh, str) or not refresh:
            raise TokenEndpointDown("HighLevel token endpoint answered 200 without access and refresh tokens")
        expires = body.get("expires_in")
        return Grant(
            access_token=access,
            refresh_token=refresh,
            # HighLevel's tokens last a day; an answer without a lifetime is treated as that.
            expires_in_s=float(expires) if isinstance(expires, int | float) and expires > 0 else 86399.0,
            location_id=str(body.get("locationId") or ""),
            company_id=str(body.get("companyId") or ""),
            user_type=str(body.get("userType") or ""),
        )
