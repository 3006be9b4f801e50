"""Everything the coordinator reads from its environment, checked once at start-up."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time

from services.coordinator.compliance.evaluation import Caps
from services.coordinator.delivery.provider_config import ProviderConfig
from services.coordinator.retention import RULES
from shared import config, retention
from shared.config import ConfigError, ServerSettings
from shared.retention import Rule

LEGAL_START, LEGAL_END = time(8, 0), time(21, 0)
MAX_INQUIRY_AFTER_REPLY_H = 8760.0
_CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def clock_time(env: Mapping[str, str], name: str, default: time) -> time:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    match = _CLOCK.match(raw)
    if match is None:
        raise ConfigError(f"{name}={raw!r} is not a 24-hour time; use HH:MM, e.g. 21:00")
    return time(int(match.group(1)), int(match.group(2)))


@dataclass(frozen=True)
class Config:
    database_url: str
    server: ServerSettings
    # Automated texts are held from quiet_start until quiet_end in the LEAD's local time
    # (federal rule: nothing before 08:00 or after 21:00 recipient-local).
    quiet_start: time = field(default=time(21, 0))
    quiet_end: time = field(default=time(8, 0))
    scheduler_poll_s: float = 1.0
    scheduler_batch: int = 20
    # A claimed message the process dies on becomes due again after this long.
    scheduler_lease_s: float = 60.0
    # Claims after which a message that never finished delivering is marked FAILED.
    max_attempts: int = 5
    # Names the sender in every message (10DLC: identify who is texting).
    brand_name: str = "LeadEngine"
    # How long a location's brand and postal address (from ingest) are kept in-process.
    location_cache_s: float = 30.0
    # A person's message to the lead from the CRM pauses its automation this long.
    human_pause_h: float = 72.0
    # What is pruned after how long (services/coordinator/retention.py), and how often it runs.
    retention: tuple[Rule, ...] = RULES
    prune_interval_s: float = 3600.0
    # A trigger firing's touch is due this long after it fired (then gated as any message).
    trigger_delay_s: float = 120.0
    # At most trigger_cap trigger touches per lead within trigger_cap_window_h.
    trigger_cap: int = 2
    trigger_cap_window_h: float = 168.0
    # Recovery campaigns: how often the enroller looks for work when idle, members it
    # enrols per round (and at once), and leads per audience page read from ingest.
    campaign_poll_s: float = 5.0
    campaign_batch: int = 50
    campaign_concurrency: int = 8
    campaign_page: int = 500
    # A returning inquiry this soon after the lead's last reply goes to the agent, not to a
    # new automated journey (journeys/reply_guard.py); 0 turns the guard off.
    inquiry_after_reply_h: float = 72.0
    # Provider credentials and send retries (delivery/provider_config.py).
    providers: ProviderConfig = field(default_factory=ProviderConfig)
    # Automated messages per lead per channel, for locations that set none of their own.
    caps: Caps = field(default_factory=Caps)
    # Sent once after an opt-out (no marketing) and in answer to HELP/INFO; {brand} is replaced.
    opt_out_confirmation: str = (
        "{brand}: you are unsubscribed and will get no more automated texts from us."
        " Reply START to resubscribe."
    )
    help_text: str = (
        "{brand}: automated texts about your home search. Msg & data rates may apply."
        " Reply STOP to opt out, START to opt back in."
    )

    def __post_init__(self) -> None:
        if self.quiet_start == self.quiet_end:
            raise ConfigError(
                "COORDINATOR_QUIET_START equals COORDINATOR_QUIET_END, which leaves no sending window;"
                " use e.g. 21:00 and 08:00"
            )
        self.providers.check_lease(self.scheduler_lease_s)
        # The settings may only narrow the federal 08:00-21:00 (recipient-local) window.
        if not (LEGAL_START <= self.quiet_end < self.quiet_start <= LEGAL_END):
            raise ConfigError(
                f"COORDINATOR_QUIET_START={self.quiet_start:%H:%M}"
                f" / COORDINATOR_QUIET_END={self.quiet_end:%H:%M}"
                f" would allow texts outside the legal {LEGAL_START:%H:%M}-{LEGAL_END:%H:%M} recipient-local"
                " window; quiet hours may only narrow it (END >= 08:00, START <= 21:00, END before START)"
            )
        if not 0.0 <= self.inquiry_after_reply_h <= MAX_INQUIRY_AFTER_REPLY_H:
            raise ConfigError(
                f"COORDINATOR_INQUIRY_AFTER_REPLY_HOURS={self.inquiry_after_reply_h} must be between 0"
                f" (no guard) and {MAX_INQUIRY_AFTER_REPLY_H:.0f} (a year); the default is 72"
            )
        for name, value in (
            ("opt_out_confirmation", self.opt_out_confirmation),
            ("help_text", self.help_text),
        ):
            if not value.strip():
                raise ConfigError(f"COORDINATOR_{name.upper()} must not be empty")

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Config:
        return cls(
            database_url=config.database_url(env, "coordinator"),
            server=ServerSettings.from_env("coordinator", env),
            quiet_start=clock_time(env, "COORDINATOR_QUIET_START", time(21, 0)),
            quiet_end=clock_time(env, "COORDINATOR_QUIET_END", time(8, 0)),
            scheduler_poll_s=config.number(env, "COORDINATOR_SCHEDULER_POLL_S", 1.0, minimum=0.05),
            scheduler_batch=config.integer(env, "COORDINATOR_SCHEDULER_BATCH", 20, minimum=1, maximum=1000),
            scheduler_lease_s=config.number(env, "COORDINATOR_SCHEDULER_LEASE_S", 60.0, minimum=1.0),
            max_attempts=config.integer(env, "COORDINATOR_MAX_ATTEMPTS", 5, minimum=1, maximum=100),
            brand_name=config.text(env, "COORDINATOR_BRAND_NAME", "LeadEngine"),
            location_cache_s=config.number(env, "COORDINATOR_LOCATION_CACHE_S", 30.0, minimum=0.0),
            human_pause_h=config.number(env, "COORDINATOR_HUMAN_PAUSE_H", 72.0, minimum=0.0),
            retention=retention.configured("coordinator", RULES, env),
            prune_interval_s=config.number(env, "COORDINATOR_PRUNE_INTERVAL_S", 3600.0, minimum=1.0),
            trigger_delay_s=config.number(env, "COORDINATOR_TRIGGER_DELAY_S", 120.0, minimum=0.0),
            trigger_cap=config.integer(env, "COORDINATOR_TRIGGER_CAP", 2, minimum=0, maximum=100),
            trigger_cap_window_h=config.number(env, "COORDINATOR_TRIGGER_CAP_WINDOW_H", 168.0, minimum=1.0),
            campaign_poll_s=config.number(env, "COORDINATOR_CAMPAIGN_POLL_S", 5.0, minimum=0.05),
            campaign_batch=config.integer(env, "COORDINATOR_CAMPAIGN_BATCH", 50, minimum=1, maximum=1000),
            campaign_concurrency=config.integer(
                env, "COORDINATOR_CAMPAIGN_CONCURRENCY", 8, minimum=1, maximum=100
            ),
            campaign_page=config.integer(env, "COORDINATOR_CAMPAIGN_PAGE", 500, minimum=10, maximum=500),
            inquiry_after_reply_h=config.number(
                env, "COORDINATOR_INQUIRY_AFTER_REPLY_HOURS", 72.0, minimum=0.0
            ),
            providers=ProviderConfig.from_env(env),
            caps=Caps(
                sms_day=config.integer(
                    env, "COORDINATOR_SMS_DAILY_CAP", Caps.sms_day, minimum=1, maximum=100
                ),
                sms_week=config.integer(
                    env, "COORDINATOR_SMS_WEEKLY_CAP", Caps.sms_week, minimum=1, maximum=500
                ),
                email_day=config.integer(
                    env, "COORDINATOR_EMAIL_DAILY_CAP", Caps.email_day, minimum=1, maximum=100
                ),
                email_week=config.integer(
                    env, "COORDINATOR_EMAIL_WEEKLY_CAP", Caps.email_week, minimum=1, maximum=500
                ),
            ),
            opt_out_confirmation=config.text(
                env, "COORDINATOR_OPT_OUT_CONFIRMATION", cls.opt_out_confirmation
            ),
            help_text=config.text(env, "COORDINATOR_HELP_TEXT", cls.help_text),
        )
