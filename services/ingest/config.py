"""Everything ingest reads from its environment, checked once at start-up."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from services.ingest.retention import RULES
from shared import config, retention
from shared.config import ConfigError, ServerSettings
from shared.retention import Rule


@dataclass(frozen=True)
class Config:
    database_url: str
    server: ServerSettings
    # Outbox rows leased per relay round; small, so a slow coordinator holds few leases.
    outbox_batch: int = 50
    # How often the relay looks for due rows when no commit woke it (retries come due this way).
    outbox_poll_s: float = 1.0
    # How long a leased row is hidden from other replicas; must outlast the call.
    outbox_lease_s: float = 30.0
    outbox_call_timeout_s: float = 5.0
    outbox_retry_base_s: float = 0.5
    outbox_retry_max_s: float = 60.0
    # Failures (other than UNAVAILABLE) after which a row is dead-lettered.
    outbox_max_attempts: int = 10
    # Relay batches delivered at once (a new lead's event does not wait for the last batch).
    outbox_in_flight: int = 4
    # Rows per COPY in ImportLeads.
    import_batch: int = 5000
    # What is pruned after how long (services/ingest/retention.py), and how often it runs.
    retention: tuple[Rule, ...] = RULES
    prune_interval_s: float = 3600.0

    def __post_init__(self) -> None:
        if self.outbox_lease_s <= self.outbox_call_timeout_s:
            raise ConfigError(
                f"INGEST_OUTBOX_LEASE_S ({self.outbox_lease_s}) must exceed INGEST_OUTBOX_CALL_TIMEOUT_S"
                f" ({self.outbox_call_timeout_s}), or a slow call lets another replica resend the row"
            )

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Config:
        return cls(
            database_url=config.database_url(env, "ingest"),
            server=ServerSettings.from_env("ingest", env),
            outbox_batch=config.integer(env, "INGEST_OUTBOX_BATCH", 50, minimum=1, maximum=1000),
            outbox_poll_s=config.number(env, "INGEST_OUTBOX_POLL_S", 1.0, minimum=0.01),
            outbox_lease_s=config.number(env, "INGEST_OUTBOX_LEASE_S", 30.0, minimum=1.0),
            outbox_call_timeout_s=config.number(env, "INGEST_OUTBOX_CALL_TIMEOUT_S", 5.0, minimum=0.1),
            outbox_retry_base_s=config.number(env, "INGEST_OUTBOX_RETRY_BASE_S", 0.5, minimum=0.01),
            outbox_retry_max_s=config.number(env, "INGEST_OUTBOX_RETRY_MAX_S", 60.0, minimum=0.01),
            outbox_max_attempts=config.integer(
                env, "INGEST_OUTBOX_MAX_ATTEMPTS", 10, minimum=1, maximum=1000
            ),
            outbox_in_flight=config.integer(env, "INGEST_OUTBOX_IN_FLIGHT", 4, minimum=1, maximum=64),
            import_batch=config.integer(env, "INGEST_IMPORT_BATCH", 5000, minimum=1, maximum=100_000),
            retention=retention.configured("ingest", RULES, env),
            prune_interval_s=config.number(env, "INGEST_PRUNE_INTERVAL_S", 3600.0, minimum=1.0),
        )
