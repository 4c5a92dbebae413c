"""The one store protocol (protocol.py) over two backends: TinyDB, embedded (tinydb_store.py,
with its write-ahead log in wal.py), and Redis, shared by workers (redis_store.py). Only this
package imports tinydb or redis."""
from __future__ import annotations

from cancelgate.store.protocol import Doc, Fixtures, Store, StoreLocked, StoreUnavailable, touched_keys

__all__ = ["Doc", "Fixtures", "Store", "StoreLocked", "StoreUnavailable", "check_reachable", "open_store",
           "touched_keys"]


def check_reachable(url: str) -> None:
    """ConnectionError unless the Redis store at `url` answers; changes nothing in it."""
    from cancelgate.store.redis_store import ping
    ping(url)


def open_store(db: str | None, fixtures: Fixtures | None, url: str | None = None,
               prefix: str = "cancelgate", check=None, indexes: dict | None = None,
               clock_start: int | None = None) -> Store:
    """The TinyDB store (in memory, or journalled to `db`), or with a redis:// `url` the Redis one.
    `indexes`: table -> the Index list (indexes.py) both keep in step with every write.
    `clock_start`: the manual clock's time the fixtures were stamped at (families.started),
    which the Redis worker that loads them makes the shared clock's."""
    if url:
        from cancelgate.store.redis_store import RedisStore  # only needed, and only imported, for Redis
        return RedisStore(url, fixtures, prefix, indexes=indexes, clock_start=clock_start)
    from cancelgate.store.tinydb_store import TinyStore
    return TinyStore(db, fixtures, check, indexes=indexes)
