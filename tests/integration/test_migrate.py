"""shared.migrate against a real PostgreSQL: once per file, checksummed, all-or-nothing."""

import asyncio
from pathlib import Path

import asyncpg
import pytest

from shared.db import create_pool
from shared.migrate import MigrationError, migrate


async def test_concurrent_migrators_apply_each_file_once(database_dsn: str, tmp_path: Path) -> None:
    (tmp_path / "0001_create_things.sql").write_text("CREATE TABLE things (id int PRIMARY KEY);")
    (tmp_path / "0002_add_name.sql").write_text("ALTER TABLE things ADD COLUMN name text;")
    results = await asyncio.gather(*(migrate(database_dsn, "mig_a", tmp_path) for _ in range(4)))
    assert sorted(map(tuple, results)) == [(), (), (), ("0001_create_things.sql", "0002_add_name.sql")]


async def test_editing_an_applied_migration_stops_the_rollout(database_dsn: str, tmp_path: Path) -> None:
    f = tmp_path / "0001_create_things.sql"
    f.write_text("CREATE TABLE things (id int PRIMARY KEY);")
    await migrate(database_dsn, "mig_b", tmp_path)
    f.write_text("CREATE TABLE things (id bigint PRIMARY KEY);")
    with pytest.raises(MigrationError, match="changed after it was applied"):
        await migrate(database_dsn, "mig_b", tmp_path)


async def test_failed_migration_leaves_no_trace(database_dsn: str, tmp_path: Path) -> None:
    (tmp_path / "0001_broken.sql").write_text("CREATE TABLE ok_table (id int); SELECT no_such_column;")
    with pytest.raises(asyncpg.UndefinedColumnError):
        await migrate(database_dsn, "mig_c", tmp_path)
    conn = await asyncpg.connect(database_dsn)
    try:
        assert await conn.fetchval("SELECT to_regclass('mig_c.ok_table')") is None
        assert await conn.fetchval("SELECT count(*) FROM mig_c.schema_migrations") == 0
    finally:
        await conn.close()


async def test_badly_named_file_is_refused(database_dsn: str, tmp_path: Path) -> None:
    (tmp_path / "add-things.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match="bad migration file name"):
        await migrate(database_dsn, "mig_d", tmp_path)


async def test_each_service_owns_its_schema(migrated_dsn: str) -> None:
    conn = await asyncpg.connect(migrated_dsn)
    try:
        rows = await conn.fetch(
            "SELECT table_schema, count(*) AS n FROM information_schema.tables"
            " WHERE table_schema IN ('ingest','intelligence','routing','content','coordinator')"
            " GROUP BY table_schema"
        )
    finally:
        await conn.close()
    # Every service has its own migrations table plus at least one table of its own.
    assert {r["table_schema"]: r["n"] >= 2 for r in rows} == dict.fromkeys(
        ("ingest", "intelligence", "routing", "content", "coordinator"), True
    )


async def test_pool_connections_hold_their_schema_and_skip_the_reset(migrated_dsn: str) -> None:
    pool = await create_pool(migrated_dsn, schema="routing", service="test", max_size=1)
    try:
        async with pool.acquire() as conn:
            assert await conn.fetchval("SHOW search_path") == "routing"  # a startup parameter
            # An unqualified name resolves to routing's own table, and to nothing else.
            assert await conn.fetchval("SELECT to_regclass('agents') = to_regclass('routing.agents')") is True
            await conn.execute("SELECT set_config('application_name', 'marked', false)")
        async with pool.acquire() as conn:  # the same physical connection, released without a reset
            # So a session setting stays with it: no pooled code makes one
            # (tests/unit/test_no_session_state.py), and a transaction's own ends with it.
            assert await conn.fetchval("SHOW application_name") == "marked"
            async with conn.transaction():
                await conn.execute("SET LOCAL search_path TO public")
            assert await conn.fetchval("SHOW search_path") == "routing"
    finally:
        await pool.close()
