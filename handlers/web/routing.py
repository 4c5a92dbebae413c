"""Connexion's routing, each request's API found by its path's first segment.

Connexion mounts each spec at its base path on one Starlette router, most specific first, and
the router tries the mounts in turn: a Batch request (`/v1`) was matched against four other
APIs' path patterns first, about 2% of a request. Where a mount's base path is one segment and no
other mount before it could match the same paths, the mount the path's first segment names is
the only one the router's search could pick, so it is tried at once; every other path (one the
mount does not match, every path under the root-mounted IoT API) goes through the router's own
search as before: same order, same 404s and redirects.
Connexion 3.3 builds the router in `RoutingMiddleware.__init__` and mounts each API with
`self.router.mount`; this keeps both and replaces only the router's class.
"""
from __future__ import annotations

from connexion.middleware.routing import RoutingMiddleware, RoutingOperation
from starlette._utils import get_route_path
from starlette.routing import Match, Mount, Router
from starlette.types import ASGIApp, Receive, Scope, Send


class SegmentRouter(Router):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._by_segment: dict[str, Mount | None] = {}   # None: more than one mount starts there
        self._catch_all = False                          # a mount before matches every path

    def mount(self, path: str, app: ASGIApp, name: str | None = None) -> None:
        super().mount(path, app=app, name=name)
        # Only where the router's own search would find this mount first: no mount before it
        # matches every path (the root, a parameter first), none other shares its first segment.
        inner = path.strip("/")
        first = inner.split("/", 1)[0]
        if not inner or "{" in first:
            self._catch_all = True
        elif not self._catch_all:
            known = first in self._by_segment
            self._by_segment[first] = None if known or "/" in inner or "{" in inner else self.routes[-1]

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = get_route_path(scope)
            end = path.find("/", 1)
            mount = self._by_segment.get(path[1:end] if end > 0 else path[1:])
            if mount is not None:
                match, child_scope = mount.matches(scope)
                if match is Match.FULL:
                    scope.setdefault("router", self)
                    scope["route"] = mount
                    scope.update(child_scope)
                    await mount.handle(scope, receive, send)
                    return
        await super().app(scope, receive, send)


class SegmentRouting(RoutingMiddleware):
    """`RoutingMiddleware` with the router above."""

    def __init__(self, app: ASGIApp) -> None:
        super().__init__(app)
        self.router = SegmentRouter(default=RoutingOperation(None, self.app))
