"""The HighLevel marketplace app's OAuth settings, read once at start-up.

With a client id, secret and at least one token key, locations can install the app and
the coordinator holds a token per location; without them only HIGHLEVEL_ACCESS_TOKEN
(one token for every location) or nothing at all is used, as before.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from cryptography.fernet import Fernet

from shared import config
from shared.config import ConfigError


def _secret(env: Mapping[str, str], name: str) -> str:
    # Imported here: provider_config imports this module for its dataclass field.
    from services.coordinator.delivery.provider_config import secret

    return secret(env, name)


def token_keys(raw: str, name: str = "HIGHLEVEL_TOKEN_KEYS") -> tuple[str, ...]:
    """Comma-separated Fernet keys, newest first: the first encrypts, all decrypt (rotation)."""
    keys = tuple(k.strip() for k in raw.split(",") if k.strip())
    for i, key in enumerate(keys):
        try:
            Fernet(key.encode())
        except ValueError:
            raise ConfigError(
                f"{name} key #{i + 1} is not a Fernet key (32 url-safe base64 bytes;"
                " make one with: python -c 'from cryptography.fernet import Fernet;"
                " print(Fernet.generate_key().decode())')"
            ) from None
    return keys


@dataclass(frozen=True)
class HighLevelApp:
    client_id: str = ""
    client_secret: str = field(default="", repr=False)
    # "" means the LeadConnector token endpoint under HIGHLEVEL_BASE_URL.
    token_url: str = ""
    # Sent with the code exchange when the app registered one.
    redirect_uri: str = ""
    token_keys: tuple[str, ...] = field(default=(), repr=False)
    # Signs the OAuth `state` of installs we start (StartHighLevelInstall); required with
    # the client id, since the callback refuses a code without our state.
    state_key: str = field(default="", repr=False)
    state_ttl_s: float = 900.0
    # HighLevel's choose-location page, where an install starts.
    authorize_url: str = "https://marketplace.gohighlevel.com/oauth/chooselocation"
    # What we call: send messages, read a contact, write DND back.
    scopes: str = "conversations/message.write contacts.readonly contacts.write"
    # A token expiring within this long is refreshed (by the refresher, or before a send).
    refresh_ahead_s: float = 3600.0
    refresh_poll_s: float = 60.0
    # GET /contacts/{id} before a new lead's first touch may take this long, then we go on.
    enrich_timeout_s: float = 1.5

    @property
    def ready(self) -> bool:
        return bool(self.client_id and self.client_secret and self.token_keys)

    def token_endpoint(self, base_url: str) -> str:
        return self.token_url or f"{base_url}/oauth/token"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> HighLevelApp:
        app = cls(
            client_id=config.text(env, "HIGHLEVEL_CLIENT_ID"),
            client_secret=_secret(env, "HIGHLEVEL_CLIENT_SECRET"),
            token_url=config.text(env, "HIGHLEVEL_TOKEN_URL").rstrip("/"),
            redirect_uri=config.text(env, "HIGHLEVEL_REDIRECT_URI"),
            token_keys=token_keys(_secret(env, "HIGHLEVEL_TOKEN_KEYS")),
            state_key=_secret(env, "HIGHLEVEL_OAUTH_STATE_KEY"),
            state_ttl_s=config.number(env, "HIGHLEVEL_OAUTH_STATE_TTL_S", 900.0, minimum=10.0),
            authorize_url=config.text(env, "HIGHLEVEL_AUTHORIZE_URL", cls.authorize_url),
            scopes=" ".join(config.text(env, "HIGHLEVEL_SCOPES", cls.scopes).split()),
            refresh_ahead_s=config.number(env, "HIGHLEVEL_REFRESH_AHEAD_S", 3600.0, minimum=0.0),
            refresh_poll_s=config.number(env, "HIGHLEVEL_REFRESH_POLL_S", 60.0, minimum=0.1),
            enrich_timeout_s=config.number(env, "HIGHLEVEL_ENRICH_TIMEOUT_S", 1.5, minimum=0.05),
        )
        if app.token_url and not app.token_url.startswith(("http://", "https://")):
            raise ConfigError(f"HIGHLEVEL_TOKEN_URL={app.token_url!r} must start with http:// or https://")
        if app.client_id and not app.client_secret:
            raise ConfigError("HIGHLEVEL_CLIENT_ID is set but HIGHLEVEL_CLIENT_SECRET is not")
        if app.client_id and not app.token_keys:
            # Tokens are never stored in the clear.
            raise ConfigError("HIGHLEVEL_CLIENT_ID is set but HIGHLEVEL_TOKEN_KEYS is not: tokens need a key")
        if not app.authorize_url.startswith(("http://", "https://")):
            raise ConfigError(
                f"HIGHLEVEL_AUTHORIZE_URL={app.authorize_url!r} must start with http:// or https://"
            )
        if app.client_id and len(app.state_key) < 32:
            # Without it no install could complete: every callback needs a state we signed.
            raise ConfigError(
                "HIGHLEVEL_CLIENT_ID is set but HIGHLEVEL_OAUTH_STATE_KEY is not (at least 32"
                " characters; make one with: python -c 'import secrets; print(secrets.token_urlsafe(32))')"
            )
        return app
