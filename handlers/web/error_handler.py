"""One error layer: whatever went wrong (validation, routing, a wrong method, an ApiError from a
rule, a crash) is answered in the wire of the spec that owns the path."""
from __future__ import annotations

import logging
import re
import time

from connexion.exceptions import ProblemException
from connexion.lifecycle import ConnexionRequest, ConnexionResponse
from starlette.exceptions import HTTPException

from cancelgate.errors import ApiError
from cancelgate.store import StoreUnavailable
from cancelgate.web.observe import note
from cancelgate.web.wire import WireMap

log = logging.getLogger("cancelgate")
HANDLED = (ApiError, ProblemException, HTTPException, Exception)


def base_path(spec: dict) -> str:
    return spec["servers"][0]["url"].rstrip("/")


def _parameters(spec: dict, item: dict) -> list[dict]:
    """The parameters of a path's operations, with `$ref`s to components resolved."""
    found = []
    for operation in item.values():
        for param in (operation.get("parameters") or []) if isinstance(operation, dict) else []:
            if "$ref" in param:
                param = spec["components"]["parameters"][param["$ref"].rsplit("/", 1)[-1]]
            found.append(param)
    return found


def allowed_methods(specs: list[tuple[str, dict]]):
    """path -> the methods the specs define for it (for a 405's `Allow`: Starlette only names the
    methods of the first route it tried, one operation's worth)."""
    templates = []
    for _, spec in specs:
        for path, item in spec["paths"].items():
            # a parameter declared `format: path` may span segments (Connexion routes it so)
            spanning = {param["name"] for param in _parameters(spec, item)
                        if param.get("in") == "path" and (param.get("schema") or {}).get("format") == "path"}
            pattern = re.sub(r"\\{([^}]+)\\}",
                             lambda m, spanning=spanning: ".+" if m.group(1) in spanning else "[^/]+",
                             re.escape(base_path(spec) + path))
            methods = {m.upper() for m in item if m in ("get", "put", "post", "delete", "patch")}
            if "GET" in methods:
                methods.add("HEAD")
            templates.append((re.compile(pattern + r"\Z"), ", ".join(sorted(methods))))

    # a literal path (`/thing-groups/addThingToThingGroup`) before a template that also matches it
    templates.sort(key=lambda item: item[0].pattern.count("[^/]+"))

    def lookup(path: str) -> str | None:
        return next((methods for pattern, methods in templates if pattern.match(path)), None)
    return lookup


_last_outage_log = 0.0


def _log_outage(message: str) -> None:
    """One line per ten seconds of an outage, however many requests it refuses."""
    global _last_outage_log
    now = time.monotonic()
    if now - _last_outage_log >= 10:
        _last_outage_log = now
        log.warning("refusing changes: %s", message)


def error_handler(wires: WireMap, allow):
    def to_api_error(request: ConnexionRequest, exc: Exception) -> ApiError:
        wire = wires.for_path(request.url.path)
        if isinstance(exc, ApiError):
            return exc
        if isinstance(exc, StoreUnavailable):
            _log_outage(str(exc))
            error = wire.from_status(503, str(exc))
            error.headers["Retry-After"] = "1"
            return error
        if isinstance(exc, ProblemException):
            error = wire.from_status(exc.status, exc.detail or exc.title or "bad request")
            error.headers.update(exc.headers or {})
            return error
        if isinstance(exc, HTTPException):
            error = wire.from_status(exc.status_code, exc.detail or "error")
            error.headers.update(exc.headers or {})
            if exc.status_code == 405 and allow(request.url.path):
                error.headers["Allow"] = allow(request.url.path)
            return error
        log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return wire.from_status(500, "internal error")

    def handle(request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
        error = to_api_error(request, exc)
        note(error=error.code)
        rendered = wires.for_path(request.url.path).render(error, request.headers.get("accept", ""))
        return ConnexionResponse(status_code=rendered.status_code, body=rendered.body,
                                 headers=dict(rendered.headers), mimetype=rendered.media_type)
    return handle
