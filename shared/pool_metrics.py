"""Connection pool gauges, read from the live asyncpg pools when Prometheus scrapes.

Reading a pool's counters is a few attribute reads: nothing waits, so the scrape may run
them on its own thread. Pools are summed per service (tests run several of one service)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import asyncpg
from prometheus_client import REGISTRY
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

_lock = threading.Lock()
# asyncpg.Pool has __slots__ without __weakref__: closed pools are dropped by hand instead.
_pools: list[tuple[str, asyncpg.Pool]] = []


def watch(pool: asyncpg.Pool, service: str) -> None:
    with _lock:
        _pools[:] = [(s, p) for s, p in _pools if not p.is_closing()]
        _pools.append((service, pool))


def _totals() -> dict[str, tuple[int, int, int]]:
    """service -> (connections open, idle, max) over its open pools."""
    totals: dict[str, tuple[int, int, int]] = {}
    with _lock:
        _pools[:] = [(s, p) for s, p in _pools if not p.is_closing()]
        for service, pool in _pools:
            size, idle, top = totals.get(service, (0, 0, 0))
            totals[service] = (size + pool.get_size(), idle + pool.get_idle_size(), top + pool.get_max_size())
    return totals


class PoolCollector(Collector):
    def collect(self) -> Iterator[GaugeMetricFamily]:
        size = GaugeMetricFamily(
            "db_pool_connections", "Connections the pool holds open.", labels=["service"]
        )
        in_use = GaugeMetricFamily(
            "db_pool_connections_in_use", "Connections acquired by a handler or loop now.", labels=["service"]
        )
        idle = GaugeMetricFamily(
            "db_pool_connections_idle", "Open connections nobody holds.", labels=["service"]
        )
        top = GaugeMetricFamily(
            "db_pool_connections_max", "The most connections the pool may open.", labels=["service"]
        )
        for service, (open_, free, most) in sorted(_totals().items()):
            size.add_metric([service], open_)
            in_use.add_metric([service], open_ - free)
            idle.add_metric([service], free)
            top.add_metric([service], most)
        yield from (size, in_use, idle, top)

    def describe(self) -> Iterator[GaugeMetricFamily]:
        return iter(())  # dynamic: collect() decides at scrape time


REGISTRY.register(PoolCollector())
