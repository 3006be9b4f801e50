"""A pooled connection comes back clean without asyncpg's reset query: a transaction left open by
a failing handler is rolled back, and the service's schema (a startup parameter) stays set."""

from __future__ import annotations

from shared import db


async def test_released_connection_has_no_open_transaction_and_keeps_its_schema(migrated_dsn) -> None:
    pool = await db.create_pool(migrated_dsn, schema="intelligence", service="pool-test", max_size=1)
    try:
        conn = await pool.acquire()
        tx = conn.transaction()
        await tx.start()
        await conn.execute("CREATE TEMP TABLE left_behind (n int) ON COMMIT DROP")
        await pool.release(conn)  # released mid-transaction, as a crashed handler's would be
        again = await pool.acquire()
        try:
            assert not again.is_in_transaction()
            # The table was made inside the abandoned transaction: rolled back with it.
            assert await again.fetchval("SELECT to_regclass('pg_temp.left_behind')") is None
            assert await again.fetchval("SELECT current_schema()") == "intelligence"
        finally:
            await pool.release(again)
    finally:
        await pool.close()
