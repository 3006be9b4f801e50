"""Cache-aside in two levels: L1 in-process (bounded LRU), L2 Redis. Never the source of truth.

Keys are namespaced per service and location: every entry of one (location, kind) is a field
of the Redis hash `<namespace>:<location>:<kind>`, so a batch read is one HMGET, a batch write
one pipeline, and forgetting a location's entries of a kind one DEL.

Staleness, stated once:
- A write invalidates L1 here, deletes from L2 and publishes the keys on
  `<namespace>:invalidate`; every replica's subscriber drops them from its L1 (milliseconds).
- A replica whose subscription is down cannot hear that, so L1 entries live at most
  `Kind.l1_ttl_s`; when the subscription comes back, the whole L1 is dropped.
- If Redis cannot be reached for an invalidation, it is kept and replayed before this
  replica reads L2 again (and when its subscription comes back). Another replica may read
  the old L2 entry until then; L2 entries carry their write time and are never served after
  `Kind.ttl_s`. That is the worst case.

A circuit breaker guards Redis: after `failures` consecutive errors or timeouts it opens
and the cache works from L1 and the loader (Postgres) alone, without errors to callers;
after `cooldown_s` one call tries Redis again and closes it on success. Every Redis error
is logged and counted; the breaker state is a gauge.
"""

from __future__ import annotations

import asyncio
import json
import logging
import struct
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from prometheus_client import Counter, Gauge
from redis import asyncio as aioredis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

CACHE_LOOKUPS = Counter(
    "cache_lookups_total", "Cache lookups by cache, level and result.", ["cache", "level", "result"]
)
CACHE_ERRORS = Counter("cache_errors_total", "Redis errors by cache and operation.", ["cache", "op"])
CACHE_BREAKER = Gauge("cache_breaker_open", "1 while the cache's Redis circuit breaker is open.", ["cache"])
CACHE_INVALIDATIONS = Counter(
    "cache_invalidations_received_total", "Invalidations heard from other replicas.", ["cache"]
)

T = TypeVar("T")
# Invalidations kept for replay while Redis is away; past this the oldest are dropped (counted)
# and their keys fall back to the L2 TTL bound.
MAX_PENDING = 10_000


@dataclass(frozen=True)
class Kind:
    """One type of cached value: its TTLs and how it crosses to Redis: JSON text, or with
    `binary` the value's own bytes behind its write time (no JSON, no base64: a high-intent page
    is ~26 kB)."""

    name: str
    ttl_s: float  # L2: an entry older than this is never served
    l1_ttl_s: float  # L1: the staleness bound when invalidations cannot be heard
    encode: Callable[[Any], Any]  # value -> JSON-able (bytes when binary)
    decode: Callable[[Any], Any]  # JSON-able (bytes when binary) -> value
    binary: bool = False
    # get_or_load answers before the loaded value reaches Redis (L1 has it at once). For values
    # whose TTL is the staleness bound anyway: the write may land after a concurrent
    # invalidation, as a synchronous one may too, and is then served for at most ttl_s.
    write_behind: bool = False


_TIME = struct.Struct("!d")  # a binary entry's write time (epoch seconds), before the value
# Write-behind L2 writes in flight, at most; past this a value stays in L1 only (counted).
MAX_WRITES_BEHIND = 64


def _entry(kind: Kind, now: float, value: Any) -> bytes | str:
    if kind.binary:
        encoded: bytes = kind.encode(value)
        return _TIME.pack(now) + encoded
    return json.dumps({"t": now, "v": kind.encode(value)})


def _unentry(kind: Kind, raw: bytes | str) -> tuple[float, Any]:
    """(write time, encoded value) of an L2 entry (bytes: the client does not decode)."""
    if kind.binary and isinstance(raw, bytes):
        return _TIME.unpack_from(raw)[0], raw[_TIME.size :]
    entry = json.loads(raw)
    return entry["t"], entry["v"]


class Breaker:
    """Closed: use Redis. Open: skip it until cooldown_s passed, then let one call try."""

    def __init__(self, name: str, *, failures: int = 3, cooldown_s: float = 5.0) -> None:
        self._name = name
        self._limit = failures
        self._cooldown_s = cooldown_s
        self._failures = 0
        self._open_until = 0.0
        CACHE_BREAKER.labels(name).set(0)

    @property
    def open(self) -> bool:
        return self._failures >= self._limit

    def allow(self) -> bool:
        if not self.open:
            return True
        now = time.monotonic()
        if now >= self._open_until:  # half-open: this call is the trial
            self._open_until = now + self._cooldown_s
            return True
        return False

    def success(self) -> None:
        if self._failures:
            if self.open:
                log.info("cache breaker closed", extra={"cache": self._name})
            self._failures = 0
            CACHE_BREAKER.labels(self._name).set(0)

    def failure(self) -> None:
        self._failures += 1
        if self._failures == self._limit:
            log.warning("cache breaker open", extra={"cache": self._name})
            self._open_until = time.monotonic() + self._cooldown_s
            CACHE_BREAKER.labels(self._name).set(1)


class TwoLevelCache:
    def __init__(
        self,
        name: str,
        redis: aioredis.Redis | None,
        *,
        namespace: str,
        max_entries: int = 100_000,
        breaker: Breaker | None = None,
    ) -> None:
        self.name = name
        self._redis = redis
        self._ns = namespace
        self._max = max_entries
        self._l1: OrderedDict[tuple[str, str, str], tuple[float, Any]] = OrderedDict()
        self.breaker = breaker or Breaker(name)
        # (location, kind) -> its keys in L1, so forgetting a location's kind is not a scan of L1.
        self._groups: dict[tuple[str, str], set[str]] = {}
        self._origin = uuid.uuid4().hex  # our own invalidations need not be applied twice
        # Invalidations Redis did not take (down, or breaker open), replayed before we read L2
        # again, so our own writes during an outage are never hidden by old L2 entries.
        self._pending: OrderedDict[tuple[str, str], tuple[list[str] | None, str]] = OrderedDict()
        self.counts: dict[str, int] = {"l1_hit": 0, "l2_hit": 0, "miss": 0}
        self._writes: set[asyncio.Task[None]] = set()  # write-behind L2 writes in flight

    @property
    def channel(self) -> str:
        return f"{self._ns}:invalidate"

    def _hash(self, location: str, kind: Kind) -> str:
        return f"{self._ns}:{location}:{kind.name}"

    # L1 ----------------------------------------------------------------------------------------

    def _l1_get(self, key: tuple[str, str, str]) -> tuple[bool, Any]:
        hit = self._l1.get(key)
        if hit is None or hit[0] <= time.monotonic():
            return False, None
        self._l1.move_to_end(key)
        return True, hit[1]

    def _l1_put(self, key: tuple[str, str, str], value: Any, ttl_s: float) -> None:
        self._l1[key] = (time.monotonic() + ttl_s, value)
        self._l1.move_to_end(key)
        self._groups.setdefault(key[:2], set()).add(key[2])
        while len(self._l1) > self._max:
            old, _ = self._l1.popitem(last=False)
            self._groups.get(old[:2], set()).discard(old[2])

    def _l1_drop(self, location: str, kind: str, idents: Iterable[str] | None) -> None:
        group = self._groups.get((location, kind))
        if group is None:
            return
        for ident in list(group) if idents is None else idents:
            self._l1.pop((location, kind, ident), None)
            group.discard(ident)
        if not group:
            del self._groups[(location, kind)]

    def clear_l1(self) -> None:
        self._l1.clear()
        self._groups.clear()

    def __len__(self) -> int:
        return len(self._l1)

    # Redis, behind the breaker -------------------------------------------------------------------

    async def _redis_call(
        self, op: str, call: Callable[[aioredis.Redis], Awaitable[T]]
    ) -> tuple[bool, T | None]:
        if self._redis is None or not self.breaker.allow():
            return False, None
        try:
            result = await call(self._redis)
        except (RedisError, OSError, TimeoutError) as err:
            CACHE_ERRORS.labels(self.name, op).inc()
            log.warning("cache redis error", extra={"cache": self.name, "op": op, "error": repr(err)})
            self.breaker.failure()
            return False, None
        self.breaker.success()
        return True, result

    # API -----------------------------------------------------------------------------------------

    async def get_many(self, kind: Kind, location: str, idents: list[str]) -> dict[str, Any]:
        """What either level holds of these keys; absent keys are misses for the caller to load."""
        found: dict[str, Any] = {}
        missing: list[str] = []
        for ident in idents:
            hit, value = self._l1_get((location, kind.name, ident))
            if hit:
                found[ident] = value
            else:
                missing.append(ident)
        self.counts["l1_hit"] += len(found)
        CACHE_LOOKUPS.labels(self.name, "l1", "hit").inc(len(found))
        if not missing:
            return found
        CACHE_LOOKUPS.labels(self.name, "l1", "miss").inc(len(missing))
        ok, raw = False, None
        if await self._replay():
            ok, raw = await self._redis_call("get", lambda r: r.hmget(self._hash(location, kind), missing))
        l2_hits = 0
        if ok and raw is not None:
            now = time.time()
            for ident, text in zip(missing, raw, strict=True):
                if text is None:
                    continue
                written, encoded = _unentry(kind, text)
                if now - written > kind.ttl_s:
                    continue
                value = kind.decode(encoded)
                found[ident] = value
                l2_hits += 1
                self._l1_put((location, kind.name, ident), value, kind.l1_ttl_s)
        CACHE_LOOKUPS.labels(self.name, "l2", "hit").inc(l2_hits)
        CACHE_LOOKUPS.labels(self.name, "l2", "miss").inc(len(missing) - l2_hits)
        self.counts["l2_hit"] += l2_hits
        self.counts["miss"] += len(missing) - l2_hits
        return found

    async def set_many(self, kind: Kind, location: str, values: Mapping[str, Any]) -> None:
        if not values:
            return
        for ident, value in values.items():
            self._l1_put((location, kind.name, ident), value, kind.l1_ttl_s)
        if self._redis is None:
            return  # no L2 to write: skip encoding
        await self._l2_set(kind, location, values)

    async def _l2_set(self, kind: Kind, location: str, values: Mapping[str, Any]) -> None:
        now = time.time()
        fields: dict[Any, Any] = {ident: _entry(kind, now, v) for ident, v in values.items()}
        name = self._hash(location, kind)

        async def write(r: aioredis.Redis) -> None:
            async with r.pipeline(transaction=False) as pipe:
                pipe.hset(name, mapping=fields)
                pipe.expire(name, max(1, int(kind.ttl_s) + 1))
                await pipe.execute()

        await self._redis_call("set", write)

    async def get_or_load(self, kind: Kind, location: str, ident: str, load: Callable[[], Awaitable[T]]) -> T:
        found = await self.get_many(kind, location, [ident])
        if ident in found:
            value: T = found[ident]
            return value
        loaded = await load()
        if not kind.write_behind or self._redis is None:
            await self.set_many(kind, location, {ident: loaded})
            return loaded
        self._l1_put((location, kind.name, ident), loaded, kind.l1_ttl_s)
        if len(self._writes) >= MAX_WRITES_BEHIND:
            CACHE_ERRORS.labels(self.name, "write_behind_full").inc()
            return loaded
        task = asyncio.create_task(self._l2_set(kind, location, {ident: loaded}))
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)
        return loaded

    @property
    def writes_in_flight(self) -> int:
        return len(self._writes)

    async def drain(self) -> None:
        """Wait for the write-behind L2 writes in flight (tests, and shutdown)."""
        while self._writes:
            # _l2_set absorbs Redis errors itself; anything else is a bug, logged here so one
            # failed write neither hides nor stops the shutdown steps after this one.
            for result in await asyncio.gather(*list(self._writes), return_exceptions=True):
                if isinstance(result, BaseException):
                    log.error("cache write-behind failed", extra={"cache": self.name, "error": repr(result)})

    async def invalidate(self, kind: Kind, location: str, idents: list[str] | None) -> None:
        """Forget these keys (None: every key of the kind in the location) here, in Redis and in
        every replica's L1."""
        self._l1_drop(location, kind.name, idents)
        if idents == [] or self._redis is None:
            return
        message = json.dumps({"o": self._origin, "l": location, "k": kind.name, "i": idents})
        key = (location, kind.name)
        held = self._pending.pop(key, None)
        if held is not None:  # merge with what is still waiting for this hash
            idents = None if held[0] is None or idents is None else sorted({*held[0], *idents})
            message = json.dumps({"o": self._origin, "l": location, "k": kind.name, "i": idents})
        self._pending[key] = (idents, message)
        while len(self._pending) > MAX_PENDING:
            self._pending.popitem(last=False)
            CACHE_ERRORS.labels(self.name, "pending_overflow").inc()
        await self._replay()

    async def _replay(self) -> bool:
        """Send every pending invalidation; True when none is left (L2 may be read)."""
        if not self._pending:
            return True
        batch = list(self._pending.items())

        async def forget(r: aioredis.Redis) -> None:
            async with r.pipeline(transaction=False) as pipe:
                for (location, kind), (idents, message) in batch:
                    name = f"{self._ns}:{location}:{kind}"
                    if idents is None:
                        pipe.delete(name)
                    else:
                        pipe.hdel(name, *idents)
                    pipe.publish(self.channel, message)
                await pipe.execute()

        ok, _ = await self._redis_call("invalidate", forget)
        if ok:
            for key, value in batch:
                if self._pending.get(key) == value:
                    del self._pending[key]
        return ok and not self._pending

    # Cross-replica invalidation --------------------------------------------------------------------

    async def listen(self) -> None:
        """Apply other replicas' invalidations to our L1, for ever (a background loop)."""
        if self._redis is None:
            return
        while True:
            try:
                async with self._redis.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(self.channel)
                    self.breaker.success()  # Redis answers again: use it
                    # Anything published while we were not listening is lost: start clean.
                    self.clear_l1()
                    await self._replay()
                    while True:
                        message = await pubsub.get_message(timeout=1.0)
                        if message is not None:
                            self._apply(message["data"])
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError, TimeoutError) as err:
                CACHE_ERRORS.labels(self.name, "subscribe").inc()
                log.warning("cache invalidation listener lost redis", extra={"error": repr(err)})
                await asyncio.sleep(1.0)

    def _apply(self, data: bytes | str) -> None:
        message = json.loads(data)
        if message["o"] == self._origin:
            return
        CACHE_INVALIDATIONS.labels(self.name).inc()
        self._l1_drop(message["l"], message["k"], message["i"])


class MemoryCache:
    """In-process only: for callers that need no Redis. Entries expire after ttl_s and the
    oldest are evicted past max_entries, so memory stays bounded."""

    def __init__(self, name: str, *, ttl_s: float, max_entries: int = 10_000) -> None:
        self._kind = Kind(name, ttl_s, ttl_s, lambda v: v, lambda v: v)
        self._cache = TwoLevelCache(name, None, namespace=name, max_entries=max_entries)

    async def get_or_load(self, key: str, load: Callable[[], Awaitable[Any]]) -> Any:
        return await self._cache.get_or_load(self._kind, "", key, load)

    async def invalidate(self, key: str) -> None:
        await self._cache.invalidate(self._kind, "", [key])

    def __len__(self) -> int:
        return len(self._cache)
