"""Our own layers, fused: two ASGI middlewares, each a list of plain functions run in a
documented order, over one dict of the request's headers made once.

Outside Connexion's exception layer (`Outer`, position BEFORE_EXCEPTION), in this order:
  1. split planes   a request signed for the IoT jobs data plane goes to its spec (web/planes.py)
  2. observe        the request journal and the state page's timeline, written once the
                    answer has gone (mock/journal.py, mock/transitions.py)
  3. pages          `GET /` (the landing page) and `GET /_cancelgate/` (the state page)
Inside it (`Gates`, just inside Connexion's ExceptionMiddleware, so what a step raises is answered in the wire of
the family that owns the path), in this order:
  4. cross-site     a browser's state-changing request from another site is refused
  5. shape          body size and time limits, chunked bodies read whole, the JSON default
                    Content-Type
  6. admin gate     the control plane (and moto's reset) want the admin token, when there is one
  7. SigV4          AWS requests are verified, when credentials are configured
Then Connexion's swagger UI, its routing, and, per operation from plans made at start
(web/dispatch.py):
  8. faults         the x-cancelgate-fault header, then the fault rules (mock/faults.py), before
                    security and validation (position BEFORE_SECURITY)
  9. Connexion's security and request validation (web/validation.py plans the latter)
 10. the operation  called with its validated arguments by the dispatch app, its answer
                    serialised once and given the headers every answer of its family carries
                    (x-amzn-RequestId...)

A step takes the `Incoming` request and returns nothing (it may replace the scope or the
receive channel, or raise); the steps not configured (no admin token, no credentials) are not
in the list at all.
"""
from __future__ import annotations

import asyncio
import datetime
import hmac
import ipaddress
import time
import typing as t

from starlette.exceptions import HTTPException
from starlette.responses import HTMLResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import RequestResponseCycle

from cancelgate.mock.faults import FAULTS
from cancelgate.store import touched_keys
from cancelgate.web.body import read_whole, replaying
from cancelgate.web.observe import operation_of, request_notes

HEADERS = "cancelgate.headers"   # scope extension: (the header list it was made from, the dict)
BODY_METHODS = {"POST", "PUT", "PATCH"}
CHANGING_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def headers_of(scope: Scope) -> dict[bytes, bytes]:
    """The request's headers as a dict (the last of a repeated name), made once per header list:
    a step that replaces the headers (shape) gets a fresh one."""
    extensions = scope.setdefault("extensions", {})
    made = extensions.get(HEADERS)
    if made is None or made[0] is not scope["headers"]:
        made = (scope["headers"], dict(scope["headers"]))
        extensions[HEADERS] = made
    return made[1]


class Incoming:
    __slots__ = ("scope", "receive")

    def __init__(self, scope: Scope, receive: Receive):
        self.scope = scope
        self.receive = receive

    @property
    def headers(self) -> dict[bytes, bytes]:
        return headers_of(self.scope)


Step = t.Callable[[Incoming], t.Optional[t.Awaitable[None]]]


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


# --- 1. split planes ------------------------------------------------------------------------

def split_planes(service: str, host_prefix: str, base_path: str, keep: str) -> Step:
    """Prefixes `base_path` to the path of requests meant for `service` (by signing scope, or by
    a Host starting with `host_prefix` when unsigned); paths under `keep` never move."""
    from cancelgate.web.planes import SIGNED_PATH, request_signing
    host_prefix_b = host_prefix.encode()
    base = base_path.rstrip("/")
    keep = keep.rstrip("/")

    def step(incoming: Incoming) -> None:
        scope = incoming.scope
        path = scope["path"]
        if _under(path, base) or _under(path, keep):
            return
        signed = request_signing(scope)
        if signed is not None:
            wanted = signed[1] == service
        else:
            wanted = incoming.headers.get(b"host", b"").lower().startswith(host_prefix_b)
        if wanted:
            raw = scope.get("raw_path") or path.encode()
            # the signature covers the path the client sent: the SigV4 step verifies that one
            extensions = {**scope.get("extensions", {}), SIGNED_PATH: raw}
            incoming.scope = {**scope, "path": base + path, "raw_path": base.encode() + raw,
                              "extensions": extensions}
    return step


# --- 4. cross-site --------------------------------------------------------------------------

def from_a_browser(headers: dict) -> bool:
    """Browsers name where a request comes from; curl, SDKs and test clients do not."""
    return b"origin" in headers or b"sec-fetch-site" in headers


def cross_site(allowed_hosts: tuple[str, ...] = ()) -> Step:
    """A web page the user visits must not change state here: a state-changing request whose
    `Sec-Fetch-Site` or `Origin` says another site sent it is refused (403), and so is a
    browser's body without a Content-Type (what `fetch(..., {mode: "no-cors"})` sends). Against
    DNS rebinding a browser's state-changing request must also name this server by an IP
    address, `localhost`, or a name given with `--allow-host`."""
    allowed = {name.lower() for name in allowed_hosts}

    def known_host(host: bytes) -> bool:
        name = host.decode("latin-1").lower()
        name = name[1:name.find("]")] if name.startswith("[") else name.rsplit(":", 1)[0]
        if name == "localhost" or name.endswith(".localhost") or name in allowed:
            return True
        try:
            ipaddress.ip_address(name)
            return True
        except ValueError:
            return False

    def step(incoming: Incoming) -> None:
        scope = incoming.scope
        if scope["method"] not in CHANGING_METHODS:
            return
        headers = incoming.headers
        if not from_a_browser(headers):
            return
        site = headers.get(b"sec-fetch-site")
        origin = headers.get(b"origin")
        host = headers.get(b"host", b"")
        if site in (b"cross-site", b"same-site") or (
                origin is not None and origin not in (b"http://" + host, b"https://" + host)):
            raise HTTPException(403, "a state-changing request from another site is refused "
                                     "(Origin or Sec-Fetch-Site names another site)")
        if not known_host(host):
            raise HTTPException(403, "a browser's state-changing request must name this server by its "
                                     "address, localhost or a name given with --allow-host")
        if scope["method"] in BODY_METHODS and not headers.get(b"content-type", b"").strip():
            raise HTTPException(415, "a browser's request body needs a Content-Type")
    return step


# --- 5. shape -------------------------------------------------------------------------------

def request_shape(max_body: int, body_timeout: float) -> Step:
    """Refuses bodies over `max_body` bytes early, gives up on a body not received within
    `body_timeout` seconds in all (not per read: a body trickled a byte at a time is cut off
    too), reads a chunked body whole under the same limits and hands it on with its length
    (Connexion sees a body only through Content-Length), and gives a body without a
    Content-Type the JSON default every family documents."""
    def too_large() -> HTTPException:
        return HTTPException(413, f"request body is larger than {max_body} bytes")

    async def step(incoming: Incoming) -> None:
        scope = incoming.scope
        if scope["method"] not in BODY_METHODS:
            return
        headers = incoming.headers
        length = headers.get(b"content-length", b"")
        if length.isdigit() and int(length) > max_body:
            raise too_large()
        given_type = headers.get(b"content-type", b"").strip()
        content_type = given_type or b"application/json"
        receive = incoming.receive
        whole = _received_whole(receive)
        if whole and length.isdigit() and content_type == given_type and b"transfer-encoding" not in headers:
            return   # read already, within its Content-Length: nothing is left to limit or wait for
        deadline = asyncio.get_running_loop().time() + body_timeout
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            if whole:
                message = await receive()
            else:
                try:
                    async with asyncio.timeout_at(deadline):
                        message = await receive()
                except TimeoutError:
                    raise HTTPException(408, f"request body not received within {body_timeout:g} s") from None
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > max_body:
                    raise too_large()
            return message

        if b"chunked" in headers.get(b"transfer-encoding", b"").lower():
            body = await read_whole(counted)
            if body is None:
                raise _ClientGone()
            replaced = [(k, v) for k, v in scope["headers"]
                        if k not in (b"content-type", b"content-length", b"transfer-encoding")]
            incoming.scope = {**scope, "headers": [*replaced, (b"content-type", content_type),
                                                   (b"content-length", str(len(body)).encode())]}
            incoming.receive = replaying(body, receive)
            return
        if content_type != given_type:
            incoming.scope = {**scope, "headers": [*((k, v) for k, v in scope["headers"] if k != b"content-type"),
                                                   (b"content-type", content_type)]}
        incoming.receive = counted
    return step


def _received_whole(receive: Receive) -> bool:
    """Whether the connection has read the whole request already, so that no read of its body
    can wait and the body's deadline needs no timer (a timer per request was 5-7% of a
    CancelJob's time). Known only of uvicorn's httptools connection (uvicorn 0.54: `receive` is
    its RequestResponseCycle's, whose `more_body` turns False when the message has ended)."""
    cycle = getattr(receive, "__self__", None)
    return isinstance(cycle, RequestResponseCycle) and cycle.more_body is False


class _ClientGone(Exception):
    """The client went away while its body was read: nothing to answer."""


# --- 6. admin gate --------------------------------------------------------------------------

def admin_gate(base_paths: list[str], token: str) -> Step:
    """With an admin token, the control plane answers 401 to any request without
    `Authorization: Bearer <token>`."""
    prefixes = tuple(base.rstrip("/") for base in base_paths)
    expected = f"Bearer {token}".encode()

    def step(incoming: Incoming) -> None:
        path = incoming.scope["path"]
        if any(_under(path, prefix) for prefix in prefixes):
            if not hmac.compare_digest(incoming.headers.get(b"authorization", b""), expected):
                raise HTTPException(401, "the control plane needs Authorization: Bearer <admin token>",
                                    headers={"WWW-Authenticate": "Bearer"})
    return step


# --- 7. SigV4 -------------------------------------------------------------------------------

def sigv4(wires, secrets: dict[str, str], regions: frozenset[str]) -> Step:
    """Verifies each AWS-family request's signature (web/sigv4.py) over the body as received."""
    from cancelgate.web.planes import SIGNED_PATH
    from cancelgate.web.sigv4 import require_botocore, verify
    from cancelgate.web.wire import AwsWire
    require_botocore()

    async def step(incoming: Incoming) -> None:
        scope = incoming.scope
        wire = wires.for_path(scope["path"])
        if not isinstance(wire, AwsWire):
            return
        body = await read_whole(incoming.receive)
        if body is None:
            raise _ClientGone()
        headers = {k.decode("latin-1").lower(): v.decode("latin-1").strip() for k, v in scope["headers"]}
        signed_path = scope.get("extensions", {}).get(SIGNED_PATH) or scope.get("raw_path", scope["path"].encode())
        verify(scope["method"], signed_path.decode("latin-1"),
               scope.get("query_string", b"").decode("latin-1"), headers, body, secrets,
               datetime.datetime.now(datetime.timezone.utc), service_name=wire.signing_name, regions=regions)
        incoming.receive = replaying(body, incoming.receive)
    return step


# --- the two middlewares --------------------------------------------------------------------

async def _run_steps(steps: list[tuple[Step, bool]], incoming: Incoming) -> None:
    for step, is_async in steps:
        if is_async:
            await step(incoming)
        else:
            step(incoming)


def _ordered(steps: list[Step]) -> list[tuple[Step, bool]]:
    return [(step, asyncio.iscoroutinefunction(step)) for step in steps]


class Gates:
    """Steps 4-7, inside Connexion's exception layer: `Gates(app, steps=[...])`."""

    def __init__(self, app: ASGIApp, steps: list[Step]):
        self.app = app
        self.steps = _ordered(steps)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        incoming = Incoming(scope, receive)
        try:
            await _run_steps(self.steps, incoming)
        except _ClientGone:
            return
        await self.app(incoming.scope, incoming.receive, send)


class Pages:
    """Step 3: fixed HTML pages answered by path (`GET`/`HEAD`)."""

    def __init__(self, pages: dict[str, HTMLResponse]):
        self.pages = pages

    def get(self, scope: Scope) -> HTMLResponse | None:
        if scope["method"] in ("GET", "HEAD"):
            return self.pages.get(scope["path"])
        return None


class Outer:
    """Steps 1-3, outside the exception layer: `Outer(app, before=[...], observer=..., pages=...)`."""

    def __init__(self, app: ASGIApp, before: list[Step], observer: "Observer | None", pages: Pages):
        self.app = app
        self.before = _ordered(before)
        self.observer = observer
        self.pages = pages

    async def _answer(self, scope: Scope, receive: Receive, send: Send) -> None:
        page = self.pages.get(scope)
        if page is not None:
            return await page(scope, receive, send)
        await self.app(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        incoming = Incoming(scope, receive)
        await _run_steps(self.before, incoming)
        scope = incoming.scope
        if self.observer is None or not self.observer.watches(scope):
            return await self._answer(scope, receive, send)
        await self.observer.observe(scope, receive, send, self._answer)


class Observer:
    """Step 2: the journal entry of each request (outermost, so it sees every answer, errors
    included) and the timeline entries of the documents it wrote."""

    def __init__(self, wires, journal, clock, transitions, unrecorded: tuple[str, ...] = ()):
        self.wires = wires
        self.journal = journal
        self.clock = clock
        self.transitions = transitions
        self.unrecorded = frozenset(unrecorded)

    def watches(self, scope: Scope) -> bool:
        return self.journal.enabled and not (scope["method"] == "GET" and scope["path"] in self.unrecorded)

    async def observe(self, scope: Scope, receive: Receive, send: Send, app) -> None:
        notes: dict = {"status": 500}
        keys: list = []
        notes_token, keys_token = request_notes.set(notes), touched_keys.set(keys)
        extensions = scope.setdefault("extensions", {})  # routing fills in the operation here
        started = time.perf_counter()

        async def watched(message: Message) -> None:
            if message["type"] == "http.response.start":
                notes["status"] = message["status"]
            await send(message)
        try:
            await app(scope, receive, watched)
        finally:
            request_notes.reset(notes_token)
            touched_keys.reset(keys_token)
            operation = operation_of({"extensions": extensions})
            entry = {
                "time": self.clock.now_ms(),
                "method": scope["method"],
                "path": scope["path"],
                "operationId": operation,
                "family": self.wires.family_for(scope["path"]),
                "status": notes["status"],
                "errorCode": notes.get("error"),
                "durationMs": round((time.perf_counter() - started) * 1000, 3),
                "touched": sorted({key for kind, key, _ in keys if kind != FAULTS}) if keys else [],
                **({"clientId": notes["clientId"]} if "clientId" in notes else {}),
            }
            self._record(entry, keys, notes["status"], operation)

    def _record(self, entry: dict, keys: list, status: int, operation: str | None) -> None:
        """After the answer: the timeline of what it wrote (the statuses its commits wrote, the
        last of each document's: nothing is read again), then the journal entry (which no
        store waits on: the Redis store queues it for its journal writer)."""
        if status < 400 and keys:
            from cancelgate.families import table_owner
            last = {(kind, key): doc_status for kind, key, doc_status in keys}
            now = self.clock.now_ms()
            for (kind, key), doc_status in sorted(last.items()):
                owner = table_owner(kind)
                if doc_status is not None and owner is not None:
                    self.transitions.request(now, owner.name, kind, key, doc_status, operation)
        self.journal.add(entry)
