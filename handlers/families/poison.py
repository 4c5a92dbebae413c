"""Which document a lifecycle rule was moving when it raised, so the scheduler can set that one
document aside (quarantine) and keep every other one moving."""
from __future__ import annotations

QUARANTINED = "_quarantined"   # on a document: why the lifecycle leaves it as it is


class Poisoned(Exception):
    """A lifecycle rule raised while moving `key` of `table` (None: no one document)."""

    def __init__(self, table: str, key: str | None, error: BaseException):
        super().__init__(f"{table}/{key}: {type(error).__name__}: {error}")
        self.table, self.key, self.error = table, key, error


class blamed:
    """`with blamed(table, key):` what the block raises is blamed on that document (Poisoned).
    A class, not a generator: the lifecycle enters one per job it moves."""

    __slots__ = ("table", "key")

    def __init__(self, table: str, key: str | None):
        self.table, self.key = table, key

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, error, traceback) -> bool:
        if error is None or isinstance(error, Poisoned) or not isinstance(error, Exception):
            return False
        # the rule's own bug or a document it cannot handle
        raise Poisoned(self.table, self.key, error) from error


def quarantine(table, key: str, reason: str) -> bool:
    """Mark the document: every family's indexes leave a quarantined document out of what moves."""
    doc = table.get(key)
    if doc is None or QUARANTINED in doc:
        return False
    table[key] = {**doc, QUARANTINED: reason}
    return True
