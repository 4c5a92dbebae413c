"""The app inside Connexion: calls the operation's function with the validated body and
parameters, and serialises its answer once.

Connexion's own `AsyncApp` builds a decorator chain per request (a parameter decorator, a
response decorator, a request object) and looks up per request what only depends on the
operation: the body's name, schema and default, the parameter definitions, the media type of
the answer. Here each operation gets an `OperationPlan` at start, holding all of that, plus
what our layers need of it (its wire, its family, whether faults apply), so that a request
does only the work that depends on the request.

Built on Connexion's documented extension points: a `RoutedMiddleware` whose `RoutedAPI`
makes one object per operation (as `AsyncApp`'s own `AsyncASGIApp` does), given to
`ConnexionMiddleware` as the app it wraps. Unrouted paths fall through to a Starlette router
that raises 404/405, as `AsyncASGIApp` does, so the error layer answers them.
"""
from __future__ import annotations

import asyncio
import random
import typing as t
from copy import deepcopy
from urllib.parse import parse_qsl

from connexion.apps.asynchronous import AsyncASGIApp
from connexion.datastructures import NoContent
from connexion.decorators.parameter import get_arguments, sanitized, unwrap_decorators
# Private helpers of connexion.decorators.parameter (Connexion 3.3.0): the exact casting and
# defaulting rules Connexion applies to query and path values. Reused rather than copied so a
# parameter reaches the function as it did under AsyncApp.
from connexion.decorators.parameter import _get_query_defaults, _get_val_from_param, _query_args_helper
from connexion.decorators.response import BaseResponseDecorator
from connexion.frameworks.starlette import Starlette as StarletteFramework
from connexion.http_facts import FORM_CONTENT_TYPES
from connexion.jsonifier import Jsonifier
from connexion.lifecycle import ConnexionRequest, ConnexionResponse
from connexion.middleware.abstract import RoutedAPI, RoutedMiddleware
from connexion.operations import AbstractOperation
from connexion.utils import deep_merge, inspect_function_arguments, is_json_mimetype, is_nullable
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response
from starlette.routing import Router
from starlette.types import Receive, Scope, Send

from cancelgate.errors import ApiError
from cancelgate.mock import faults
from cancelgate.mock.faults import FAULTS
from cancelgate.web.answer_json import AnswerJson
from cancelgate.web.context import bind_request
from cancelgate.web.pipeline import headers_of
from cancelgate.web.validation import BODY, ABSENT

FAULT_HEADER = b"x-cancelgate-fault"
FORM_TYPES = tuple(t.encode() for t in FORM_CONTENT_TYPES)
_MISSING = object()


class Offload:
    """Where store calls run. In memory (TinyDB) a transaction is a few microseconds of Python,
    run inline. On Redis it is network round trips (and, on a conflict, a retry's sleep):
    store/bridge.py runs it on the loop in a greenlet and awaits each wait there, so one worker
    overlaps the waits of many requests and none of them blocks the loop."""

    def __init__(self, bridged: bool, runs: int = 16):
        self.inline = not bridged
        if bridged:
            from cancelgate.store import bridge   # greenlet comes with the redis extra
            self._run = bridge.run
            # at most this many at once, each on a connection of its own: more would only
            # conflict more on a busy document (a vault's rate-limit counters)
            self._slots = asyncio.Semaphore(runs)

    async def run(self, fn: t.Callable[..., t.Any], *args: t.Any, thread: bool = False) -> t.Any:
        """`thread`: in a thread instead (with the caller's context), for code that holds a lock
        across store calls: in a greenlet it would hold it while the loop runs other requests,
        and one of them waiting for it would stop the loop."""
        if self.inline:
            return fn(*args)
        if thread:
            return await asyncio.to_thread(fn, *args)
        async with self._slots:
            return await self._run(fn, *args)


def _drive(coroutine: t.Coroutine) -> t.Any:
    """Run an operation's coroutine to its end here (in a bridge run, or a thread). The
    operations are `async def` but await nothing: their store transactions are synchronous
    calls."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value
    coroutine.close()
    raise RuntimeError("an operation awaited something; it cannot run beside a blocking store")


class OperationPlan:
    """What one operation needs per request, resolved once at start."""

    def __init__(self, operation: AbstractOperation, base_path: str, runtime: "DispatchRuntime"):
        self.operation = operation
        self.runtime = runtime
        self.fn = operation.function
        unwrapped = unwrap_decorators(self.fn)
        self.is_async = asyncio.iscoroutinefunction(unwrapped)
        self.arguments, self.has_kwargs = inspect_function_arguments(unwrapped)
        self.operation_id = operation.operation_id.rsplit(".", 1)[-1]
        self.uri_parser = operation.uri_parser_class(operation.parameters, operation.body_definition())
        consumes = {c.lower() for c in operation.consumes}
        # JSON bodies (or none) take the fast path; forms, CSV and the like go through
        # Connexion's own argument builder
        self.fast = consumes <= {"application/json"}
        self.body_name = None
        if operation.is_request_body_defined:
            name = sanitized(operation.body_name(None))
            if name in self.arguments or self.has_kwargs:
                self.body_name = name
        schema = operation.body_schema("application/json") if self.body_name and self.fast else {}
        self.body_default = schema.get("default", {})
        self.body_nullable = is_nullable(schema)
        self.path_defs = {p["name"]: p for p in operation.parameters if p["in"] == "path"}
        self.query_defs = {p["name"]: p for p in operation.parameters if p["in"] == "query"}
        self.query_defaults = _get_query_defaults(self.query_defs)
        produces = sorted(set(operation.produces))
        self.media_type = produces[0] if len(produces) == 1 else (
            "application/json" if "application/json" in produces or not produces else None)
        wires = runtime.wires
        self.wire = wires.for_path(base_path) if wires is not None else None
        self.family = wires.family_for(base_path) if wires is not None else None
        self.stamp = self.wire.stamp if self.wire is not None else dict
        # the control plane's operations (clock advances, resets) hold the scheduler's and the
        # manual clock's locks across store calls: on a blocking store they run in a thread
        self.in_thread = runtime.is_control(base_path)
        # a plain JSON object answered as Starlette's Response would, without making one
        self.json_type = (self.media_type.encode("latin-1")
                          if self.media_type and is_json_mimetype(self.media_type.split(";")[0]) else None)

    # --- arguments ------------------------------------------------------------------------

    def _fast_arguments(self, scope: Scope) -> dict:
        kwargs: dict = {}
        path_params = scope.get("path_params")
        if path_params:
            for name, value in self.uri_parser.resolve_path(path_params).items():
                key = sanitized(name)
                kwargs[key] = _get_val_from_param(value, self.path_defs[name]) if name in self.path_defs else value
        if self.query_defs:
            raw = scope.get("query_string", b"")
            given: dict = {}
            if raw:
                for name, value in parse_qsl(raw.decode("latin-1"), keep_blank_values=True):
                    given.setdefault(name, []).append(value)
                given = self.uri_parser.resolve_query(given)
            merged = deep_merge(deepcopy(self.query_defaults), given) if given else deepcopy(self.query_defaults)
            kwargs.update(_query_args_helper(self.query_defs, merged, self.arguments, self.has_kwargs, sanitized))
        if self.body_name is not None:
            body = scope.get("extensions", {}).get(BODY, _MISSING)
            if body is _MISSING or body is ABSENT:
                body = None
            if body is None and not self.body_nullable:
                body = deepcopy(self.body_default)
            kwargs[self.body_name] = body
        return kwargs

    async def _general_arguments(self, scope: Scope, receive: Receive) -> dict:
        """Connexion's own argument builder, for bodies that are not JSON (forms, CSV)."""
        request = ConnexionRequest(scope, receive, uri_parser=self.uri_parser)
        body = await request.get_body() if (self.body_name or self.has_kwargs
                                            or request.mimetype in FORM_CONTENT_TYPES) else None
        return get_arguments(self.operation, path_params=request.path_params, query_params=request.query_params,
                             body=body, files=await request.files(), arguments=self.arguments,
                             has_kwargs=self.has_kwargs, sanitize=sanitized, content_type=request.mimetype)

    # --- the answer -----------------------------------------------------------------------

    def _response(self, result: t.Any) -> Response:
        if isinstance(result, Response):
            return result
        if isinstance(result, ConnexionResponse):
            return StarletteFramework.connexion_to_framework_response(result)
        data, status, headers = BaseResponseDecorator._unpack_handler_response(result)
        headers = dict(headers or {})
        media_type = next((v for k, v in headers.items() if k.lower() == "content-type"), None) or self.media_type
        if data is None or data is NoContent:
            body = None
        elif media_type is None or is_json_mimetype(media_type.split(";")[0]):
            body = self.runtime.jsonifier.dumps(data)   # as Connexion does: a str becomes a JSON string
        else:
            body = data
        return Response(body, status_code=status or (204 if body is None else 200), headers=headers,
                        media_type=media_type)

    def _stamped(self, response: Response) -> Response:
        stamp = self.stamp()
        if stamp:
            present = {name for name, _ in response.raw_headers}
            response.raw_headers.extend((k.lower().encode(), v.encode()) for k, v in stamp.items()
                                        if k.lower().encode() not in present)
        return response

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # A form-typed request goes Connexion's way even where the spec takes no form: Connexion
        # reads the form of every request (a multipart one without a boundary is a 400)
        fast = self.fast and not headers_of(scope).get(b"content-type", b"").lower().startswith(FORM_TYPES)
        kwargs = self._fast_arguments(scope) if fast else await self._general_arguments(scope, receive)
        context = scope.get("extensions", {}).get("connexion_context")
        if context:
            for key, value in context.items():
                if self.has_kwargs or key in self.arguments:
                    kwargs[key] = value
        bind_request(scope, receive)
        if not self.is_async:
            result = await run_in_threadpool(self.fn, **kwargs)
        elif not self.runtime.offload.inline:
            result = await self.runtime.offload.run(_drive, self.fn(**kwargs), thread=self.in_thread)
        else:
            result = await self.fn(**kwargs)
        if type(result) is dict and self.json_type is not None:
            return await self._send_json(result, send)
        await self._stamped(self._response(result))(scope, receive, send)

    async def _send_json(self, data: dict, send: Send) -> None:
        body = self.runtime.jsonifier.dumps(data)
        if isinstance(body, str):
            body = body.encode("utf-8")
        headers = [(b"content-length", str(len(body)).encode("latin-1")), (b"content-type", self.json_type),
                   *((k.lower().encode(), v.encode()) for k, v in self.stamp().items())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})


class FaultOperation:
    """Faults for one operation of an emulated API (never the control plane), after routing and
    before security and validation, as a client meets throttling before its request is read:
    the `x-cancelgate-fault` header, then the fault rules (mock/faults.py). A fault answers
    before the operation runs, so it never changes stored state. The operation's wire, family
    and fault codes are resolved once."""

    def __init__(self, next_app, operation: AbstractOperation, base_path: str, runtime: "DispatchRuntime"):
        self.next_app = next_app
        self.runtime = runtime
        self.operation_id = operation.operation_id.rsplit(".", 1)[-1]
        self.wire = runtime.wires.for_path(base_path)
        self.family = runtime.wires.family_for(base_path)
        self.fault_codes = self.wire.fault_codes()

    def _header_fault(self, header: bytes) -> ApiError:
        code = header.decode("latin-1").strip()
        if not faults.CODE.match(code) or code not in self.fault_codes:
            return self.wire.from_status(400, f"x-cancelgate-fault names no error this API can answer; "
                                              f"one of {sorted(self.fault_codes)}")
        return ApiError(code, "fault injected by the x-cancelgate-fault header", self.wire.fault_status(code))

    async def _rule_fault(self) -> None:
        store = self.runtime.store
        if self.runtime.offload.inline and not store.count(FAULTS):
            return   # in memory, whether there are rules at all is a dict's length: asked at once
        roll = random.random()

        def fire():
            if not store.count(FAULTS):
                return None
            return store.transact(lambda tx: faults.fire(tx.table(FAULTS), self.operation_id, self.family, roll))
        rule = await self.runtime.offload.run(fire)
        if rule is None:
            return
        latency = rule.get("latency")
        if latency:
            low, high = latency.get("minMs", 0), latency.get("maxMs", latency.get("minMs", 0))
            await asyncio.sleep(random.uniform(low, max(low, high)) / 1000)
        fault = rule.get("fault")
        if fault:
            raise ApiError(fault["code"], fault.get("message", f"fault injected by rule {rule['id']}"),
                           self.wire.fault_status(fault["code"], fault.get("status")))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        header = headers_of(scope).get(FAULT_HEADER)
        if header is not None:
            raise self._header_fault(header)
        await self._rule_fault()
        await self.next_app(scope, receive, send)


class FaultApi(RoutedAPI[FaultOperation]):
    def __init__(self, *args, runtime: "DispatchRuntime", **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.runtime = runtime
        self.applies = not runtime.is_control(self.base_path)
        self.add_paths()

    def make_operation(self, operation: AbstractOperation):
        if not self.applies:
            return self.next_app   # the control plane's operations pass straight through
        return FaultOperation(self.next_app, operation, self.base_path, self.runtime)


class InjectFaults(RoutedMiddleware[FaultApi]):
    """`add_middleware(InjectFaults, position=BEFORE_SECURITY, runtime=...)`."""

    api_cls = FaultApi

    def __init__(self, app, runtime: "DispatchRuntime"):
        super().__init__(app)
        self.runtime = runtime

    def add_api(self, specification, **kwargs):
        return super().add_api(specification, runtime=self.runtime, **kwargs)


class DispatchRuntime:
    """What every plan shares: the wires, the store and where its calls run, the JSON writer."""

    def __init__(self, wires=None, store=None, offload: Offload | None = None, control_base: str | None = None,
                 jsonifier: AnswerJson | Jsonifier | None = None):
        self.wires = wires
        self.store = store
        self.offload = offload or Offload(bridged=False)
        self.control_base = control_base.rstrip("/") if control_base is not None else None
        self.jsonifier = jsonifier or AnswerJson()

    def is_control(self, base_path: str) -> bool:
        control = self.control_base
        return control is not None and (base_path == control or base_path.startswith(control + "/"))


class DispatchApi(RoutedAPI[OperationPlan]):
    def __init__(self, *args, runtime: DispatchRuntime, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.runtime = runtime
        self.router = Router()
        self.add_paths()

    def make_operation(self, operation: AbstractOperation) -> OperationPlan:
        return OperationPlan(operation, self.base_path, self.runtime)


class Dispatch(AsyncASGIApp):
    """`ConnexionMiddleware(Dispatch(runtime), middlewares=[...])`: the innermost app."""

    api_cls = DispatchApi

    def __init__(self, runtime: DispatchRuntime | None = None) -> None:
        super().__init__()
        self.runtime = runtime or DispatchRuntime()

    def add_api(self, *args, **kwargs):
        return super().add_api(*args, runtime=self.runtime, **kwargs)
