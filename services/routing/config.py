"""Everything routing reads from its environment, checked once at start-up."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from services.routing.retention import RULES
from shared import config, retention
from shared.config import ServerSettings
from shared.retention import Rule


@dataclass(frozen=True)
class Config:
    database_url: str
    server: ServerSettings
    # Open leads an agent may hold when the agent has no capacity of its own.
    default_capacity: int = 25
    # How often the inactivity sweep looks for assignments whose lead went quiet.
    sweep_s: float = 60.0
    # How often the outcome relay looks for due rows when no outcome woke it.
    outbox_poll_s: float = 1.0
    # Failures (other than UNAVAILABLE) after which an outcome row is dead-lettered.
    outbox_max_attempts: int = 10
    # How often the SLA sweep looks for assignments nobody accepted in time.
    sla_sweep_s: float = 5.0
    # What is pruned after how long (services/routing/retention.py), and how often it runs.
    retention: tuple[Rule, ...] = RULES
    prune_interval_s: float = 3600.0

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Config:
        return cls(
            database_url=config.database_url(env, "routing"),
            server=ServerSettings.from_env("routing", env),
            default_capacity=config.integer(env, "ROUTING_DEFAULT_CAPACITY", 25, minimum=1, maximum=100_000),
            sweep_s=config.number(env, "ROUTING_SWEEP_S", 60.0, minimum=0.01),
            outbox_poll_s=config.number(env, "ROUTING_OUTBOX_POLL_S", 1.0, minimum=0.01),
            outbox_max_attempts=config.integer(
                env, "ROUTING_OUTBOX_MAX_ATTEMPTS", 10, minimum=1, maximum=1000
            ),
            sla_sweep_s=config.number(env, "ROUTING_SLA_SWEEP_S", 5.0, minimum=0.01),
            retention=retention.configured("routing", RULES, env),
            prune_interval_s=config.number(env, "ROUTING_PRUNE_INTERVAL_S", 3600.0, minimum=1.0),
        )
