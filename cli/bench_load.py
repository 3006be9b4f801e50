"""Load shapes for `leadengine bench`: closed loop (C callers, each waits for its answer) and open
loop (calls start on a fixed schedule whether or not earlier ones answered), and their figures.

A call is a coroutine factory; it raises on failure. Errors are counted by exception type (for
gRPC, by status code) and never timed: a fast failure must not improve a percentile.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc

from cli.bench import percentile

Call = Callable[[], Awaitable[Any]]


def _error_name(err: BaseException) -> str:
    if isinstance(err, grpc.aio.AioRpcError):
        return err.code().name
    return type(err).__name__


@dataclass
class Sample:
    latencies_s: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    async def timed(self, call: Call, *, self_timed: bool = False) -> None:
        """Times the call; a self_timed call returns its own latency in seconds (observed
        where the work finished, e.g. a message recorded after an RPC returned)."""
        started = time.perf_counter()
        try:
            result = await call()
        except (grpc.aio.AioRpcError, OSError, TimeoutError, RuntimeError) as err:
            self.errors[_error_name(err)] += 1
            return
        self.latencies_s.append(float(result) if self_timed else time.perf_counter() - started)

    def figures(self) -> dict[str, Any]:
        return figures(self.latencies_s, self.errors, self.seconds)


def figures(
    latencies_s: Sequence[float], errors: Counter[str] | dict[str, int], seconds: float
) -> dict[str, Any]:
    """The stable per-scenario keys: p50/p90/p99/max in ms, answered calls per second, errors."""
    ms = [s * 1000 for s in latencies_s]

    def pct(q: float) -> float | None:
        return round(percentile(ms, q), 3) if ms else None

    return {
        "requests": len(ms) + sum(errors.values()),
        "p50_ms": pct(50),
        "p90_ms": pct(90),
        "p99_ms": pct(99),
        "max_ms": round(max(ms), 3) if ms else None,
        "qps": round(len(ms) / seconds, 1) if seconds > 0 else 0.0,
        "errors": sum(errors.values()),
        "error_kinds": dict(errors),
    }


async def closed_loop(
    make_call: Callable[[], Call], duration_s: float, concurrency: int, *, self_timed: bool = False
) -> Sample:
    """`concurrency` callers, each issuing its next call when the last one answered, for duration_s."""
    sample = Sample()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + duration_s

    async def caller() -> None:
        while loop.time() < deadline:
            await sample.timed(make_call(), self_timed=self_timed)

    started = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(concurrency)))
    sample.seconds = time.perf_counter() - started
    return sample


async def open_loop(
    make_call: Callable[[], tuple[str, Call]], rate: float, duration_s: float
) -> dict[str, Sample]:
    """Starts rate calls a second for duration_s on a fixed schedule, whatever the answers do, so
    a slow answer delays no later call (no coordinated omission); samples by the call's kind.

    Latency runs from the call's scheduled start, so time spent waiting for this loop to get
    round to it counts against the system too."""
    samples: dict[str, Sample] = {}
    loop = asyncio.get_running_loop()
    tasks: set[asyncio.Task[None]] = set()
    interval = 1.0 / rate
    total = max(1, round(rate * duration_s))
    begin = loop.time()
    started = time.perf_counter()

    async def one(kind: str, call: Call, scheduled: float) -> None:
        sample = samples.setdefault(kind, Sample())
        try:
            await call()
        except (grpc.aio.AioRpcError, OSError, TimeoutError, RuntimeError) as err:
            sample.errors[_error_name(err)] += 1
            return
        sample.latencies_s.append(loop.time() - scheduled)

    for i in range(total):
        scheduled = begin + i * interval
        delay = scheduled - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        kind, call = make_call()
        task = asyncio.create_task(one(kind, call, scheduled))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    await asyncio.gather(*tasks)
    seconds = time.perf_counter() - started
    for sample in samples.values():
        sample.seconds = seconds
    return samples
