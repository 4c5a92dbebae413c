"""What the inner layers learn about a request for its journal entry (the operation, the error
code, Vault's client id); the journal and fault steps themselves are in web/pipeline.py and
web/dispatch.py."""
from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from starlette.types import Scope

# Per request: what the inner layers learned (operation, error code) for the journal.
request_notes: ContextVar[dict | None] = ContextVar("request_notes", default=None)


def operation_of(scope: Scope) -> str | None:
    """The spec operationId of a routed request (Connexion records the resolved function,
    `cancelgate.families.<family>.operations.<operationId>`)."""
    resolved = scope.get("extensions", {}).get("connexion_routing", {}).get("operation_id")
    return resolved.rsplit(".", 1)[-1] if resolved else None


def note(**facts: Any) -> None:
    notes = request_notes.get()
    if notes is not None:
        notes.update(facts)
