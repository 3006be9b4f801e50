from shared.cache import MemoryCache


async def test_loads_once_then_hits() -> None:
    cache = MemoryCache("t", ttl_s=60)
    loads = 0

    async def load() -> int:
        nonlocal loads
        loads += 1
        return 42

    assert [await cache.get_or_load("k", load) for _ in range(3)] == [42, 42, 42]
    assert loads == 1
    await cache.invalidate("k")
    await cache.get_or_load("k", load)
    assert loads == 2


async def test_expired_entries_reload() -> None:
    cache = MemoryCache("t", ttl_s=0)
    values = iter([1, 2])

    async def load() -> int:
        return next(values)

    assert await cache.get_or_load("k", load) == 1
    assert await cache.get_or_load("k", load) == 2


async def test_size_is_bounded() -> None:
    cache = MemoryCache("t", ttl_s=60, max_entries=3)

    async def load() -> str:
        return "v"

    for i in range(10):
        await cache.get_or_load(str(i), load)
    assert len(cache) == 3
