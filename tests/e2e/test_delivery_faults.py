"""Exactly-once delivery under SIGKILL: two real coordinator processes send a stream of
messages to the fake SendGrid and HighLevel servers while each kills itself at random
points of the send path (before the call, during it, after the provider accepted but
before the commit, after the commit) and is restarted. Then every message must be with
its provider exactly once, and the record must name the provider's id.

Email is used because its sending window is always open, so the test does not depend
on the time of day; the in-process tests cover Twilio's reconciliation.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator

import asyncpg
from leadengine.coordinator.v1 import coordinator_service_pb2 as pb

from cli import fake_providers
from tests.delivery import EMAIL, coordinator_database, seed_message, set_provider, statuses
from tests.support import ROOT

MESSAGES = 100
REPLICAS = 2
CRASH_POINTS = "before_call:0.03,during_call:0.03,after_call:0.03,after_commit:0.03"
DEADLINE_S = 150.0  # typically 25-35 s; generous for a loaded machine


class Replica:
    """One coordinator process, restarted whenever it dies; counts its crash points."""

    def __init__(self, name: str, env: dict[str, str], crashes: collections.Counter[str]) -> None:
        self.name = name
        self._env = env
        self._crashes = crashes
        self.proc: asyncio.subprocess.Process | None = None
        self.kills = 0
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "services.coordinator",
            cwd=ROOT,
            env=self._env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        self._reader = asyncio.create_task(self._read(self.proc))

    async def _read(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        async for line in proc.stdout:
            if line.startswith(b"CRASHPOINT "):
                self._crashes[line.split()[1].decode()] += 1

    async def keep_alive(self) -> None:
        """Restart after each death."""
        assert self.proc is not None
        if self.proc.returncode is not None:
            assert self._reader is not None
            await self._reader
            assert self.proc.returncode == -signal.SIGKILL, f"{self.name} exited {self.proc.returncode}"
            self.kills += 1
            await self.start()

    async def stop(self) -> None:
        # Killed, not stopped: the database is dropped next, and a kill is what this tests.
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()
        if self._reader is not None:
            await self._reader


@contextlib.asynccontextmanager
async def replicas(env: dict[str, str], crashes: collections.Counter[str]) -> AsyncIterator[list[Replica]]:
    running = [Replica(f"coordinator-{i}", env, crashes) for i in range(REPLICAS)]
    try:
        for r in running:
            await r.start()
        yield running
    finally:
        for r in running:
            await r.stop()


async def unsettled(conn: asyncpg.Connection, ids: list[uuid.UUID]) -> int:
    return int(
        await conn.fetchval(
            "SELECT count(*) FROM communications c WHERE c.communication_id = ANY($1::uuid[])"
            " AND (c.status = $2 OR EXISTS (SELECT 1 FROM send_attempts a WHERE"
            " a.communication_id = c.communication_id AND a.state IN ('sending', 'in_doubt')))",
            ids,
            pb.COMMUNICATION_STATUS_SCHEDULED,
        )
    )


async def test_sigkill_at_every_point_of_the_send_path_loses_and_duplicates_nothing(
    postgres_url: str,
) -> None:
    async with coordinator_database(postgres_url) as dsn, fake_providers.running_fakes() as (fakes, base):
        for provider in (fakes.sendgrid, fakes.highlevel):
            provider.delay_s = 0.15  # a crash "during the call" lands while the provider holds it
        conn = await asyncpg.connect(dsn, server_settings={"search_path": "coordinator"})
        try:
            await set_provider(conn, "loc-hl", email="highlevel")
            ids: list[uuid.UUID] = []
            contacts: dict[str, uuid.UUID] = {}
            for i in range(MESSAGES):
                if i % 2:
                    contact = f"contact-{i}"
                    cid = await seed_message(conn, channel=EMAIL, location_id="loc-hl", contact_id=contact)
                    contacts[contact] = cid
                else:
                    cid = await seed_message(conn, channel=EMAIL)
                ids.append(cid)
            env = {
                **os.environ,
                **fake_providers.env_for(base),
                "DATABASE_URL": dsn,
                "COORDINATOR_GRPC_PORT": "0",
                "COORDINATOR_SCHEDULER_POLL_S": "0.05",
                "COORDINATOR_SCHEDULER_BATCH": "10",
                "COORDINATOR_SCHEDULER_LEASE_S": "2",
                "COORDINATOR_MAX_ATTEMPTS": "50",
                "COORDINATOR_PROVIDER_TIMEOUT_S": "0.5",
                "COORDINATOR_CRASH_POINTS": CRASH_POINTS,
            }
            crashes: collections.Counter[str] = collections.Counter()
            started = time.monotonic()
            async with replicas(env, crashes) as running:
                while await unsettled(conn, ids):
                    assert time.monotonic() - started < DEADLINE_S, "messages still unsettled"
                    for r in running:
                        await r.keep_alive()
                    await asyncio.sleep(0.1)
                elapsed = time.monotonic() - started
            rows = await statuses(conn, ids)
        finally:
            await conn.close()

    per_message: collections.Counter[uuid.UUID] = collections.Counter()
    provider_ids: dict[uuid.UUID, set[str]] = collections.defaultdict(set)
    for got in fakes.sendgrid.receipts:
        per_message[uuid.UUID(got.communication_id)] += 1
        provider_ids[uuid.UUID(got.communication_id)].add(got.provider_message_id)
    for got in fakes.highlevel.receipts:
        per_message[contacts[got.contact_id]] += 1
        provider_ids[contacts[got.contact_id]].add(got.provider_message_id)
    receipts = sum(per_message.values())
    duplicates = sum(n - 1 for n in per_message.values() if n > 1)
    losses = [cid for cid in ids if per_message[cid] == 0]
    wrong_record = [
        cid
        for cid in ids
        if rows[cid]["status"] != pb.COMMUNICATION_STATUS_QUEUED
        or rows[cid]["provider_message_id"] not in provider_ids[cid]
    ]
    print(  # the figures issue #10 asks for; visible with pytest -s
        f"\nfault test: {sum(crashes.values())} SIGKILLs injected ({dict(crashes)}),"
        f" {MESSAGES} messages, {receipts} provider receipts, {duplicates} duplicates,"
        f" {len(losses)} losses, {len(wrong_record)} wrong records, {elapsed:.1f}s"
    )
    assert sum(crashes.values()) >= 4, "too few faults were injected to prove anything"
    assert duplicates == 0
    assert losses == []
    assert wrong_record == []
