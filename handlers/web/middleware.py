"""Plain ASGI middlewares that every family needs, whatever its wire."""
from __future__ import annotations

import asyncio
import hmac
import ipaddress

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cancelgate.web.body import read_whole, replaying
from cancelgate.web.wire import WireMap

BODY_METHODS = {"POST", "PUT", "PATCH"}


class StampHeaders:
    """Adds the headers each family sends on every answer (for AWS, `x-amzn-RequestId`) to the
    operations' answers; errors get them from the wire that renders them."""

    def __init__(self, app: ASGIApp, wires: WireMap):
        self.app = app
        self.wires = wires

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        wire = self.wires.for_path(scope["path"])

        async def stamped(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.get("headers", [])
                present = {name.lower() for name, _ in headers}
                stamp = [(k.lower().encode(), v.encode()) for k, v in wire.stamp().items()
                         if k.lower().encode() not in present]
                message = {**message, "headers": [*headers, *stamp]}
            await send(message)

        await self.app(scope, receive, stamped)


class RequestShape:
    """Refuses bodies over `max_body` bytes early, gives up on a body not received within
    `body_timeout` seconds in all (not per read: a body trickled a byte at a time is cut off
    too), reads a chunked body whole under the same limits and hands it on with its length
    (Connexion sees a body only through Content-Length), and gives a body without a
    Content-Type the JSON default every family documents (Connexion would otherwise hand the
    handler raw bytes).

    Sits inside Connexion's exception middleware, so what it raises is answered in the wire of
    the family that owns the path.
    """

    def __init__(self, app: ASGIApp, max_body: int, body_timeout: float):
        self.app = app
        self.max_body = max_body
        self.body_timeout = body_timeout

    def _too_large(self) -> HTTPException:
        return HTTPException(413, f"request body is larger than {self.max_body} bytes")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in BODY_METHODS:
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])
        length = headers.get(b"content-length", b"")
        if length.isdigit() and int(length) > self.max_body:
            raise self._too_large()
        replaced = [(k, v) for k, v in scope["headers"] if k not in (b"content-type", b"content-length",
                                                                    b"transfer-encoding")]
        content_type = headers.get(b"content-type", b"").strip() or b"application/json"
        deadline = asyncio.get_running_loop().time() + self.body_timeout
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                raise HTTPException(408, f"request body not received within {self.body_timeout:g} s") from None
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body:
                    raise self._too_large()
            return message

        if b"chunked" in headers.get(b"transfer-encoding", b"").lower():
            body = await read_whole(counted)
            if body is None:
                return  # the client went away
            scope = {**scope, "headers": [*replaced, (b"content-type", content_type),
                                          (b"content-length", str(len(body)).encode())]}
            return await self.app(scope, replaying(body, receive), send)
        if content_type != headers.get(b"content-type", b"").strip():
            scope = {**scope, "headers": [*((k, v) for k, v in scope["headers"] if k != b"content-type"),
                                          (b"content-type", content_type)]}
        await self.app(scope, counted, send)


CHANGING_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def from_a_browser(headers: dict) -> bool:
    """Browsers name where a request comes from; curl, SDKs and test clients do not."""
    return b"origin" in headers or b"sec-fetch-site" in headers


class CrossSiteGate:
    """A web page the user visits must not change state here: a state-changing request whose
    `Sec-Fetch-Site` or `Origin` says another site sent it is refused (403 in the family's
    wire), and so is a browser's body without a Content-Type (what `fetch(..., {mode:
    "no-cors"})` sends), which RequestShape would otherwise read as JSON. Our own pages
    (Swagger UI, same origin, with a Content-Type) pass.

    Against DNS rebinding (a hostile name resolving to 127.0.0.1, so that Origin and Host agree)
    a browser's state-changing request must also name this server by an IP address,
    `localhost`, or a name given with `--allow-host`."""

    def __init__(self, app: ASGIApp, allowed_hosts: tuple[str, ...] = ()):
        self.app = app
        self.allowed_hosts = {name.lower() for name in allowed_hosts}

    def _known_host(self, host: bytes) -> bool:
        name = host.decode("latin-1").lower()
        name = name[1:name.find("]")] if name.startswith("[") else name.rsplit(":", 1)[0]
        if name == "localhost" or name.endswith(".localhost") or name in self.allowed_hosts:
            return True
        try:
            ipaddress.ip_address(name)
            return True
        except ValueError:
            return False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in CHANGING_METHODS:
            headers = dict(scope["headers"])
            site = headers.get(b"sec-fetch-site")
            origin = headers.get(b"origin")
            host = headers.get(b"host", b"")
            if site in (b"cross-site", b"same-site") or (
                    origin is not None and origin not in (b"http://" + host, b"https://" + host)):
                raise HTTPException(403, "a state-changing request from another site is refused "
                                         "(Origin or Sec-Fetch-Site names another site)")
            if from_a_browser(headers) and not self._known_host(host):
                raise HTTPException(403, "a browser's state-changing request must name this server by its "
                                         "address, localhost or a name given with --allow-host")
            if (scope["method"] in BODY_METHODS and from_a_browser(headers)
                    and not headers.get(b"content-type", b"").strip()):
                raise HTTPException(415, "a browser's request body needs a Content-Type")
        await self.app(scope, receive, send)


class AdminGate:
    """With an admin token, the control plane answers 401 to any request without
    `Authorization: Bearer <token>`."""

    def __init__(self, app: ASGIApp, base_path: str, token: str | None):
        self.app = app
        self.prefix = base_path.rstrip("/")
        self.expected = f"Bearer {token}".encode() if token else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (self.expected is not None and scope["type"] == "http"
                and (scope["path"] == self.prefix or scope["path"].startswith(self.prefix + "/"))):
            given = dict(scope["headers"]).get(b"authorization", b"")
            if not hmac.compare_digest(given, self.expected):
                raise HTTPException(401, "the control plane needs Authorization: Bearer <admin token>",
                                    headers={"WWW-Authenticate": "Bearer"})
        await self.app(scope, receive, send)
