"""The live state page at `/_cancelgate/` and what feeds its timeline.

The page is one static HTML file (web/state_page.html: no build step, no external asset) that
holds no state itself: its script polls `GET /_cancelgate/state` every second, sending the
admin token when the server has one (asked for on the page, or given as `#token=...`), so the
page honours `--admin-token` exactly as the control plane does.
"""
from __future__ import annotations

from importlib import resources

from starlette.responses import HTMLResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cancelgate.families import REGISTRY, table_owner
from cancelgate.store import touched_keys
from cancelgate.web.observe import operation_of


def page_html() -> str:
    return resources.files("cancelgate.web").joinpath("state_page.html").read_text(encoding="utf-8")


class StatePage:
    """Answers `GET /_cancelgate/` (and `/_cancelgate`) with the page; the rest passes through."""

    def __init__(self, app: ASGIApp, base_path: str):
        self.app = app
        self.paths = {base_path.rstrip("/"), base_path.rstrip("/") + "/"}
        self.page = HTMLResponse(page_html().replace("__CONTROL_BASE__", base_path.rstrip("/")),
                                 headers={"Cache-Control": "no-store"})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] in self.paths and scope["method"] in ("GET", "HEAD"):
            return await self.page(scope, receive, send)
        await self.app(scope, receive, send)


class RecordTransitions:
    """Inside the request journal's middleware: once a request is answered, the statuses of the
    documents it wrote (the keys the journal collects) go to the timeline when they changed.
    With the journal off (`--journal-size 0`) no keys are collected and nothing is recorded."""

    def __init__(self, app: ASGIApp, store, clock, transitions):
        self.app = app
        self.store = store
        self.clock = clock
        self.transitions = transitions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        keys = touched_keys.get() if scope["type"] == "http" else None
        if keys is None:
            return await self.app(scope, receive, send)
        status: dict = {}
        extensions = scope.setdefault("extensions", {})  # routing fills in the operation here

        async def watched(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)
        await self.app(scope, receive, watched)
        written = sorted({(kind, key) for kind, key in keys if table_owner(kind) is not None})
        if not written or status.get("code", 500) >= 400:
            return
        docs = self.store.transact(lambda tx: [tx.table(kind).get(key) for kind, key in written])
        now = self.clock.now_ms()
        operation = operation_of({"extensions": extensions})
        for (kind, key), doc in zip(written, docs, strict=True):
            if doc is not None and isinstance(doc.get("status"), str):
                self.transitions.request(now, table_owner(kind).name, kind, key, doc["status"], operation)


def record_scheduler(scheduler, transitions) -> None:
    """Every transition the scheduler applies (real clock or advanced) goes to the timeline too."""
    tables = {name: family.lifecycle.table for name, family in REGISTRY.items() if family.lifecycle}

    def recorded(changes: list[dict]) -> None:
        by_family: dict[str, list] = {}
        for change in changes:
            by_family.setdefault(change["family"], []).append(change)
        for family, moved in by_family.items():
            transitions.clock(family, tables[family], moved)
    scheduler.listeners.append(recorded)
