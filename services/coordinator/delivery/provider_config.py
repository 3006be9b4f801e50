"""Which providers the coordinator may send through, with what credentials, read once at start-up.

A credential comes from `NAME` or, for mounted Kubernetes secrets, from the file named by
`NAME_FILE`. A provider with no credentials is simply absent: messages routed to it are
recorded SIMULATED, never SENT.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from services.coordinator.delivery.highlevel_app import HighLevelApp
from shared import config
from shared.config import ConfigError

TWILIO = "twilio"
SENDGRID = "sendgrid"
HIGHLEVEL = "highlevel"
SMS_PROVIDERS = (TWILIO, HIGHLEVEL)
EMAIL_PROVIDERS = (SENDGRID, HIGHLEVEL)


def secret(env: Mapping[str, str], name: str) -> str:
    """NAME, else the contents of the file NAME_FILE (trailing newline dropped)."""
    direct = config.text(env, name)
    if direct:
        return direct
    path = config.text(env, f"{name}_FILE")
    if not path:
        return ""
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except OSError as err:
        raise ConfigError(f"{name}_FILE={path!r} cannot be read: {err.strerror}") from None


def _base_url(env: Mapping[str, str], name: str, default: str) -> str:
    raw = config.text(env, name, default).rstrip("/")
    if not raw.startswith(("http://", "https://")):
        raise ConfigError(f"{name}={raw!r} must start with http:// or https://")
    return raw


def _choice(env: Mapping[str, str], name: str, allowed: tuple[str, ...], default: str) -> str:
    raw = config.text(env, name, default).lower()
    if raw not in allowed:
        raise ConfigError(f"{name}={raw!r} is not one of {', '.join(allowed)}")
    return raw


@dataclass(frozen=True)
class ProviderConfig:
    twilio_account_sid: str = ""
    twilio_auth_token: str = field(default="", repr=False)
    twilio_from: str = ""
    twilio_messaging_service_sid: str = ""
    twilio_base_url: str = "https://api.twilio.com"
    sendgrid_api_key: str = field(default="", repr=False)
    sendgrid_from: str = ""
    sendgrid_from_name: str = ""
    sendgrid_base_url: str = "https://api.sendgrid.com"
    highlevel_token: str = field(default="", repr=False)
    highlevel_base_url: str = "https://services.leadconnectorhq.com"
    # The marketplace app: per-location tokens from OAuth installs.
    highlevel_app: HighLevelApp = field(default_factory=HighLevelApp)
    # Which provider carries a channel when the location names none.
    sms_provider: str = TWILIO
    email_provider: str = SENDGRID
    # Where providers post status callbacks and where unsubscribe links point (the gateway).
    public_base_url: str = ""
    # Signs unsubscribe tokens; the gateway verifies with the same key.
    unsubscribe_key: str = field(default="", repr=False)
    # One provider call; must stay well under the scheduler's lease (checked below).
    timeout_s: float = 10.0
    # How long 429s and 5xx are retried before the message is FAILED.
    retry_budget_s: float = 60.0
    backoff_base_s: float = 0.5
    backoff_max_s: float = 15.0

    @property
    def twilio_ready(self) -> bool:
        return bool(
            self.twilio_account_sid
            and self.twilio_auth_token
            and (self.twilio_from or self.twilio_messaging_service_sid)
        )

    @property
    def sendgrid_ready(self) -> bool:
        return bool(self.sendgrid_api_key and self.sendgrid_from)

    @property
    def highlevel_ready(self) -> bool:
        return bool(self.highlevel_token) or self.highlevel_app.ready

    def check_lease(self, lease_s: float) -> None:
        # A call outliving the lease could overlap the next worker's reconciliation.
        if self.timeout_s * 2 >= lease_s:
            raise ConfigError(
                f"COORDINATOR_PROVIDER_TIMEOUT_S={self.timeout_s} must be under half of"
                f" COORDINATOR_SCHEDULER_LEASE_S={lease_s}"
            )

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ProviderConfig:
        return cls(
            twilio_account_sid=config.text(env, "TWILIO_ACCOUNT_SID"),
            twilio_auth_token=secret(env, "TWILIO_AUTH_TOKEN"),
            twilio_from=config.text(env, "TWILIO_FROM_NUMBER"),
            twilio_messaging_service_sid=config.text(env, "TWILIO_MESSAGING_SERVICE_SID"),
            twilio_base_url=_base_url(env, "TWILIO_BASE_URL", cls.twilio_base_url),
            sendgrid_api_key=secret(env, "SENDGRID_API_KEY"),
            sendgrid_from=config.text(env, "SENDGRID_FROM_EMAIL"),
            sendgrid_from_name=config.text(env, "SENDGRID_FROM_NAME"),
            sendgrid_base_url=_base_url(env, "SENDGRID_BASE_URL", cls.sendgrid_base_url),
            highlevel_token=secret(env, "HIGHLEVEL_ACCESS_TOKEN"),
            highlevel_base_url=_base_url(env, "HIGHLEVEL_BASE_URL", cls.highlevel_base_url),
            highlevel_app=HighLevelApp.from_env(env),
            sms_provider=_choice(env, "COORDINATOR_SMS_PROVIDER", SMS_PROVIDERS, TWILIO),
            email_provider=_choice(env, "COORDINATOR_EMAIL_PROVIDER", EMAIL_PROVIDERS, SENDGRID),
            public_base_url=config.text(env, "WEBHOOK_PUBLIC_BASE_URL").rstrip("/"),
            unsubscribe_key=secret(env, "UNSUBSCRIBE_SIGNING_KEY"),
            timeout_s=config.number(env, "COORDINATOR_PROVIDER_TIMEOUT_S", 10.0, minimum=0.1),
            retry_budget_s=config.number(env, "COORDINATOR_SEND_RETRY_BUDGET_S", 60.0, minimum=0.0),
            backoff_base_s=config.number(env, "COORDINATOR_SEND_BACKOFF_S", 0.5, minimum=0.01),
            backoff_max_s=config.number(env, "COORDINATOR_SEND_BACKOFF_MAX_S", 15.0, minimum=0.01),
        )
