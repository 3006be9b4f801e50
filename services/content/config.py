"""Everything content reads from its environment, checked once at start-up."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from services.content.claude.settings import ClaudeSettings
from shared import config
from shared.config import ServerSettings


@dataclass(frozen=True)
class Config:
    database_url: str
    server: ServerSettings
    # Who sends, when the caller's context names no brand (10DLC: identify the sender).
    brand_name: str = "LeadEngine Realty"
    # CAN-SPAM: every marketing email carries a physical postal address. Empty
    # means lead-facing email is refused until one is configured.
    postal_address: str = ""
    # Jurisdictions add protected classes; their phrases extend the built-in list.
    blocked_phrases: tuple[str, ...] = ()
    # GSM-7/UCS-2 segments an SMS may use, STOP line included (each costs one send).
    sms_max_segments: int = 2
    # Market facts older than this (by their as-of date) are left out of messages.
    market_max_age_days: int = 45
    # Claude writes (and reads replies) when an ANTHROPIC_API_KEY is set; else templates.
    claude: ClaudeSettings = field(default_factory=ClaudeSettings)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Config:
        extra = config.text(env, "CONTENT_BLOCKED_PHRASES")
        return cls(
            database_url=config.database_url(env, "content"),
            server=ServerSettings.from_env("content", env),
            brand_name=config.text(env, "CONTENT_BRAND_NAME", "LeadEngine Realty"),
            postal_address=config.text(env, "CONTENT_POSTAL_ADDRESS"),
            blocked_phrases=tuple(p.strip() for p in extra.split(",") if p.strip()),
            sms_max_segments=config.integer(env, "CONTENT_SMS_MAX_SEGMENTS", 2, minimum=1, maximum=10),
            market_max_age_days=config.integer(
                env, "CONTENT_MARKET_MAX_AGE_DAYS", 45, minimum=1, maximum=3650
            ),
            claude=ClaudeSettings.from_env(env),
        )
