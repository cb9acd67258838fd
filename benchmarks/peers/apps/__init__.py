"""One module per queue system: its app, its job functions and a ``Client`` with one interface.

Workers import these modules, so each reads the Redis URL from ``PEERS_REDIS_URL`` at import.
A ``Client`` has ``one(i)`` (enqueue ``echo(i)``, wait, return the value), ``batch(kind, n)``
(enqueue ``n`` jobs of ``kind`` with the system's batch API where it has one, return every
result) and ``close()``. Kinds: ``noop`` (return the item), ``sleep`` (``time.sleep(0.01)``),
``async`` (an ``async def`` awaiting ``asyncio.sleep(0.01)``).
"""
