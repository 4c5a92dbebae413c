"""Builds the ASGI app: one Connexion API per spec in openapi/, one error layer, the middlewares."""
from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

import connexion
import yaml
from connexion.exceptions import ProblemException
from connexion.lifecycle import ConnexionRequest, ConnexionResponse
from connexion.middleware import MiddlewarePosition
from connexion.options import SwaggerUIOptions
from connexion.validators import VALIDATOR_MAP
from connexion.datastructures import MediaTypeDict
from starlette.exceptions import HTTPException

from handlers import fixtures as fixture_files
from handlers import lifecycle
from handlers.clock import ManualClock, RealClock
from handlers.docs import LandingPage
from handlers.middleware import AdminGate, RequestShape, StampHeaders
from handlers.observe import InjectFaults, Journal, RecordRequests, note
from handlers.sigv4 import SigV4Gate
from handlers.resources import data_dir, specs_dir
from handlers.runtime import Runtime, install
from handlers.store import open_store
from handlers.validation import CompiledParameterValidator, StrictJSONBodyValidator
from handlers.wire import ApiError, WireMap, wire_from_spec

log = logging.getLogger("cancelgate")

VALIDATORS = {"parameter": CompiledParameterValidator,
              "body": MediaTypeDict({**VALIDATOR_MAP["body"], "*/*json": StrictJSONBodyValidator})}


@dataclass
class Settings:
    db: str | None = None
    fixtures: str | None = None          # a file or folder; None means the packaged data/
    use_fixtures: bool = True
    max_body: int = 1024 * 1024
    body_timeout: float = 10.0
    validate_responses: bool = True
    admin_token: str | None = None
    aws_secrets: dict[str, str] | None = None  # access key id -> secret; None accepts any signature
    clock: str = "real"                  # or "manual": time moves only through the control plane
    lifecycle: str | None = None         # a lifecycle YAML; None means data/lifecycle.yaml
    use_lifecycle: bool = True
    journal_size: int = 1000             # 0 switches the request journal off
    store: str | None = None             # redis://host:port/db for the shared Redis store
    store_prefix: str = "cancelgate"     # namespace of this deployment's keys in Redis
    vault_cancel_delay: float | None = None  # seconds CANCELLING lasts; None: the lifecycle file's
    vault_session_idle: float = 1800.0   # seconds a Vault session may sit unused


def load_specs() -> list[tuple[str, dict]]:
    """(name, spec) for each spec file, in name order."""
    return [(path.stem, yaml.safe_load(path.read_text(encoding="utf-8")))
            for path in sorted(Path(specs_dir()).glob("*.yaml"))]


def base_path(spec: dict) -> str:
    return spec["servers"][0]["url"].rstrip("/")


def allowed_methods(specs: list[tuple[str, dict]]):
    """path -> the methods the specs define for it (for a 405's `Allow`: Starlette only names the
    methods of the first route it tried, one operation's worth)."""
    templates = []
    for _, spec in specs:
        for path, item in spec["paths"].items():
            pattern = re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(base_path(spec) + path))
            methods = {m.upper() for m in item if m in ("get", "put", "post", "delete", "patch")}
            if "GET" in methods:
                methods.add("HEAD")
            templates.append((re.compile(pattern + r"\Z"), ", ".join(sorted(methods))))

    def lookup(path: str) -> str | None:
        return next((methods for pattern, methods in templates if pattern.match(path)), None)
    return lookup


def _error_handler(wires: WireMap, allow):
    def to_api_error(request: ConnexionRequest, exc: Exception) -> ApiError:
        wire = wires.for_path(request.url.path)
        if isinstance(exc, ApiError):
            return exc
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


def create_app(settings: Settings | None = None) -> connexion.AsyncApp:
    settings = settings or Settings()
    start_state = (fixture_files.load(settings.fixtures or data_dir())
                   if settings.use_fixtures else {})
    store = open_store(settings.db, start_state, settings.store, settings.store_prefix)
    if hasattr(store, "durability_warning") and (warning := store.durability_warning()):
        log.warning("Redis store: %s", warning)
    clock = ManualClock(shared=store) if settings.clock == "manual" else RealClock()
    scheduler = None
    if settings.use_lifecycle:
        config = lifecycle.load_config(settings.lifecycle or Path(data_dir()) / "lifecycle.yaml")
        if settings.vault_cancel_delay is not None:
            vault = config.setdefault("vault", {"durations": {}})
            vault.setdefault("durations", {})["CANCELLING"] = settings.vault_cancel_delay
        scheduler = lifecycle.Scheduler(store, clock, config)
    journal = Journal(settings.journal_size, store)
    specs = load_specs()
    wires = WireMap()
    install(Runtime(store=store, fixtures=start_state, clock=clock, scheduler=scheduler, journal=journal,
                    wires=wires, specs=dict(specs),
                    vault_session_idle_ms=int(settings.vault_session_idle * 1000)))

    @contextlib.asynccontextmanager
    async def lifespan(_app):
        # The fixtures and specs live as long as the server: keep the cyclic collector from
        # rescanning them on every full collection (at 100k jobs those scans were 300 ms pauses).
        gc.collect()
        gc.freeze()
        ticking = (asyncio.create_task(scheduler.run_forever())
                   if scheduler is not None and not clock.manual else None)
        try:
            yield
        finally:
            if ticking is not None:
                ticking.cancel()
            store.close()

    app = connexion.AsyncApp(__name__, lifespan=lifespan)
    control_base = "/_cancelgate"
    for name, spec in specs:
        wires.add(base_path(spec), wire_from_spec(spec["x-cancelgate-wire"]), name)
        if name == "control":
            control_base = base_path(spec)
        # Docs page at <base>/ui/, the spec as JSON at <base>/openapi.json.
        # An explicit base path lets Connexion order the mounts most specific first; left to
        # the spec, every API sorts as "/" and the root-mounted IoT API can shadow the others.
        app.add_api(spec, name=name, base_path=base_path(spec), strict_validation=True,
                    validator_map=VALIDATORS,
                    validate_responses=settings.validate_responses,
                    swagger_ui_options=SwaggerUIOptions(swagger_ui=True))
    app.add_middleware(RecordRequests, MiddlewarePosition.BEFORE_EXCEPTION, wires=wires,
                       journal=journal, clock=clock)
    app.add_middleware(LandingPage, MiddlewarePosition.BEFORE_EXCEPTION,
                       apis=[(name, spec, base_path(spec)) for name, spec in specs])
    app.add_middleware(StampHeaders, MiddlewarePosition.BEFORE_CONTEXT, wires=wires)
    # Added in the order requests meet them, all inside the exception layer: size and time
    # limits first, then who may call, then routing and validation.
    app.add_middleware(RequestShape, MiddlewarePosition.BEFORE_SWAGGER, max_body=settings.max_body,
                       body_timeout=settings.body_timeout)
    app.add_middleware(AdminGate, MiddlewarePosition.BEFORE_SWAGGER, base_path=control_base,
                       token=settings.admin_token)
    app.add_middleware(SigV4Gate, MiddlewarePosition.BEFORE_SWAGGER, wires=wires,
                       secrets=settings.aws_secrets)
    app.add_middleware(InjectFaults, MiddlewarePosition.BEFORE_SECURITY, wires=wires, store=store,
                       control_base=control_base)
    handler = _error_handler(wires, allowed_methods(specs))
    for kind in (ApiError, ProblemException, HTTPException, Exception):
        app.add_error_handler(kind, handler)
    return app


SETTINGS_VARIABLE = "CANCELGATE_SETTINGS"


def app_from_environment() -> connexion.AsyncApp:
    """The app for each of several uvicorn workers, built from the settings `serve` put in the
    environment (uvicorn starts workers from an import string)."""
    return create_app(Settings(**json.loads(os.environ[SETTINGS_VARIABLE])))
