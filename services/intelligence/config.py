"""Everything intelligence reads from its environment, checked once at start-up."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from services.intelligence.retention import RULES
from shared import config, retention
from shared.config import ConfigError, ServerSettings
from shared.retention import Rule


@dataclass(frozen=True)
class Config:
    database_url: str
    server: ServerSettings
    # Behaviour loses half its weight every this many days.
    half_life_days: float = 14.0
    # How far back ScoreLead and EvaluateTriggers read a lead's events.
    event_window_days: int = 90
    # Events of one kind that count per day (Marketo caps at 20).
    daily_event_cap: int = 20
    warm_score: float = 40.0
    hot_score: float = 70.0
    # ListHighIntentLeads threshold when the caller sends no min_score.
    high_intent_score: float = 70.0
    # Redis for the second cache level and cross-replica invalidation; None = in-process only.
    redis_url: str | None = None
    # A cached first page of ListHighIntentLeads is served at most this long.
    page_cache_ttl_s: float = 5.0
    # L1 entries at most, across kinds.
    cache_max_entries: int = 100_000
    # What is pruned after how long (services/intelligence/retention.py), and how often it runs.
    retention: tuple[Rule, ...] = RULES
    prune_interval_s: float = 3600.0

    def __post_init__(self) -> None:
        if self.half_life_days <= 0:
            raise ConfigError("INTELLIGENCE_HALF_LIFE_DAYS must be > 0")
        if not 0 <= self.warm_score <= self.hot_score <= 100:
            raise ConfigError(
                "want 0 <= INTELLIGENCE_WARM_SCORE <= INTELLIGENCE_HOT_SCORE <= 100, got "
                f"{self.warm_score} and {self.hot_score}"
            )
        if not 0 < self.high_intent_score <= 100:
            raise ConfigError(f"INTELLIGENCE_HIGH_INTENT_SCORE={self.high_intent_score} must be in (0, 100]")

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Config:
        return cls(
            database_url=config.database_url(env, "intelligence"),
            server=ServerSettings.from_env("intelligence", env),
            half_life_days=config.number(env, "INTELLIGENCE_HALF_LIFE_DAYS", 14.0, minimum=0.01),
            event_window_days=config.integer(
                env, "INTELLIGENCE_EVENT_WINDOW_DAYS", 90, minimum=1, maximum=730
            ),
            daily_event_cap=config.integer(
                env, "INTELLIGENCE_DAILY_EVENT_CAP", 20, minimum=1, maximum=10_000
            ),
            warm_score=config.number(env, "INTELLIGENCE_WARM_SCORE", 40.0),
            hot_score=config.number(env, "INTELLIGENCE_HOT_SCORE", 70.0),
            high_intent_score=config.number(env, "INTELLIGENCE_HIGH_INTENT_SCORE", 70.0),
            redis_url=env.get("REDIS_URL") or None,
            page_cache_ttl_s=config.number(env, "INTELLIGENCE_PAGE_CACHE_TTL_S", 5.0, minimum=0.0),
            cache_max_entries=config.integer(
                env, "INTELLIGENCE_CACHE_MAX_ENTRIES", 100_000, minimum=100, maximum=10_000_000
            ),
            retention=retention.configured("intelligence", RULES, env),
            prune_interval_s=config.number(env, "INTELLIGENCE_PRUNE_INTERVAL_S", 3600.0, minimum=1.0),
        )
