"""Pruning what only mattered for a while: delivered outbox rows, raw webhook payloads,
idempotency keys. A background loop per service, in small batches so it never holds
long locks or competes with live traffic.

Compliance records are never listed here: consent ledger, suppressions and opt-outs
are kept (compliance.md: Virginia wants opt-outs honoured for 10 years).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

from prometheus_client import Counter

from shared import config
from shared.db import Database

log = logging.getLogger(__name__)

PRUNED = Counter("leadengine_pruned_rows_total", "Rows removed or emptied by retention, by rule.", ["rule"])


@dataclass(frozen=True)
class Rule:
    """One retention rule. `sql` changes at most $2 rows older than the cutoff $1 and
    returns one row per row changed (e.g. `DELETE … WHERE id IN (SELECT … LIMIT $2)
    RETURNING 1`)."""

    name: str  # in the metric and the env variable: <SVC>_RETAIN_<NAME>_DAYS
    sql: str
    keep_days: float
    why: str  # for the README table and the code reader: what a shorter keep would break


def configured(service: str, rules: Sequence[Rule], env: Mapping[str, str]) -> tuple[Rule, ...]:
    """The rules with each keep overridable by <SVC>_RETAIN_<NAME>_DAYS (at least 1 day)."""
    prefix = service.upper()
    return tuple(
        Rule(
            rule.name,
            rule.sql,
            config.number(env, f"{prefix}_RETAIN_{rule.name.upper()}_DAYS", rule.keep_days, minimum=1.0),
            rule.why,
        )
        for rule in rules
    )


async def prune_once(db: Database, rules: Sequence[Rule], now: dt.datetime, batch: int) -> dict[str, int]:
    """Apply every rule until nothing older than its keep is left; rows changed per rule."""
    changed: dict[str, int] = {}
    for rule in rules:
        cutoff = now - dt.timedelta(days=rule.keep_days)
        total = 0
        while True:
            async with db.transaction() as conn:
                n = len(await conn.fetch(rule.sql, cutoff, batch))
            total += n
            PRUNED.labels(rule.name).inc(n)
            if n < batch:
                break
        changed[rule.name] = total
    return changed


def loop(
    db: Database,
    rules: Sequence[Rule],
    *,
    interval_s: float,
    batch: int = 1000,
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
) -> Callable[[], Awaitable[None]]:
    """A ServiceApp background loop; every replica runs it, and the batches make that harmless."""

    async def run() -> None:
        while True:
            changed = await prune_once(db, rules, clock(), batch)
            if any(changed.values()):
                log.info("retention pruned rows", extra={"rows": changed})
            await asyncio.sleep(interval_s)

    return run
