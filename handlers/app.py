"""The composition root: specs -> Connexion, the pipeline, the store, the scheduler."""
from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import json
import logging
import os
from pathlib import Path

import yaml
from connexion import ConnexionMiddleware
from connexion.middleware import MiddlewarePosition
from connexion.middleware.exceptions import ExceptionMiddleware
from connexion.middleware.lifespan import LifespanMiddleware
from connexion.middleware.response_validation import ResponseValidationMiddleware
from connexion.middleware.security import SecurityMiddleware
from connexion.middleware.server_error import ServerErrorMiddleware
from connexion.options import SwaggerUIOptions
from starlette.responses import HTMLResponse

from cancelgate import fixtures as fixture_files
from cancelgate import lifecycle_config
from cancelgate.clock import ManualClock, RealClock
from cancelgate.families import indexes as family_indexes
from cancelgate.families import started
from cancelgate.mock.journal import Journal
from cancelgate.mock.transitions import Transitions
from cancelgate.resources import data_dir, specs_dir
from cancelgate.runtime import Runtime, install
from cancelgate.scheduler import Scheduler
from cancelgate.settings import SCHEDULER_INTERVAL_S, Settings
from cancelgate.store import open_store
from cancelgate.web import pipeline
from cancelgate.web.dispatch import Dispatch, DispatchRuntime, InjectFaults, Offload
from cancelgate.web.docs import DocsPages, landing_html
from cancelgate.web.error_handler import HANDLED, allowed_methods, base_path, error_handler
from cancelgate.web.sigv4 import aws_regions, load_credentials, require_botocore
from cancelgate.web.state_page import page_html, record_scheduler
from cancelgate.web.routing import SegmentRouting
from cancelgate.web.validation import VALIDATORS, PlannedRequestValidationMiddleware
from cancelgate.web.wire import WireMap, wire_from_spec

log = logging.getLogger("cancelgate")


def load_specs() -> list[tuple[str, dict]]:
    """(name, spec) for each spec file, in name order."""
    return [(path.stem, yaml.safe_load(path.read_text(encoding="utf-8")))
            for path in sorted(Path(specs_dir()).glob("*.yaml"))]


def lifecycle_settings(settings: Settings) -> dict:
    config = lifecycle_config.load(settings.lifecycle, Path(data_dir()) / "lifecycle.yaml")
    if settings.vault_cancel_delay is not None:
        config["vault"] = {**config["vault"], "durations": {**config["vault"]["durations"],
                                                            "CANCELLING": settings.vault_cancel_delay}}
    return config


def admin_token(settings: Settings) -> str | None:
    if settings.admin_token_file:
        return Path(settings.admin_token_file).read_text(encoding="utf-8").strip() or None
    return settings.admin_token


def connexion_layers(settings: Settings, gates: list) -> list:
    """The middlewares, outermost first: Connexion's server-error and exception layers, our
    gates (web/pipeline.py), the docs pages, routing (web/routing.py), security (Vault's session header),
    request validation, response validation only when asked for (so it costs nothing when off),
    the lifespan. Request validation is Connexion's, each operation's validators made once
    (web/validation.py); the docs pages are Connexion's, asked only about docs paths
    (web/docs.py). Not Connexion's ContextMiddleware: the dispatch app binds what an operation
    reads of its request (web/context.py)."""
    layers = [ServerErrorMiddleware, ExceptionMiddleware, functools.partial(pipeline.Gates, steps=gates),
              DocsPages, SegmentRouting, SecurityMiddleware, PlannedRequestValidationMiddleware]
    if settings.validate_responses:
        layers.append(ResponseValidationMiddleware)
    return [*layers, LifespanMiddleware]


def create_app(settings: Settings | None = None) -> ConnexionMiddleware:
    settings = settings or Settings()
    config = lifecycle_settings(settings) if settings.use_lifecycle else None
    start_state = (fixture_files.load(settings.fixtures or data_dir())
                   if settings.use_fixtures else {})
    # when the fixtures' clocks start (families.started), and the manual clock's start: on a
    # shared store, the worker that loads the fixtures sets the shared clock to it as it does
    start_ms = RealClock().now_ms()
    manual = settings.clock == "manual"
    store = open_store(settings.db, started(start_state, start_ms, config), settings.store, settings.store_prefix,
                       check=fixture_files.check_tables, indexes=family_indexes(),
                       clock_start=start_ms if manual else None)
    if warning := store.durability_warning():
        log.warning("Redis store: %s", warning)
    clock = ManualClock(start_ms=start_ms, shared=store) if manual else RealClock()
    scheduler = Scheduler(store, clock, config, threaded=bool(settings.store)) if config is not None else None
    journal = Journal(settings.journal_size, store)
    transitions = Transitions()
    if scheduler is not None:
        record_scheduler(scheduler, transitions)
    specs = load_specs()
    wires = WireMap()
    # Redis round trips (and a conflict's retry sleep) are awaited on the loop (store/bridge.py)
    offload = Offload(bridged=getattr(store, "blocking", False))
    install(Runtime(store=store, fixtures=start_state, clock=clock, scheduler=scheduler, journal=journal,
                    wires=wires, specs=dict(specs), account=settings.aws_account,
                    vault_session_idle_ms=int(settings.vault_session_idle * 1000), limits=settings,
                    transitions=transitions, offload=offload))

    @contextlib.asynccontextmanager
    async def lifespan(_app):
        # The fixtures and specs live as long as the server: keep the cyclic collector from
        # rescanning them on every full collection (at 100k jobs those scans were 300 ms pauses).
        gc.collect()
        gc.freeze()
        ticking = (asyncio.create_task(scheduler.run_forever(SCHEDULER_INTERVAL_S))
                   if scheduler is not None and not clock.manual else None)
        try:
            yield
        finally:
            if ticking is not None:
                ticking.cancel()
            if hasattr(store, "aclose"):
                await store.aclose()
            store.close()

    control_base = "/_cancelgate"
    guarded = []  # base paths --admin-token guards: the control plane and moto's reset
    for name, spec in specs:
        wires.add(base_path(spec), wire_from_spec(spec["x-cancelgate-wire"]), name)
        if name == "control":
            control_base = base_path(spec)
        if name in ("control", "moto"):
            guarded.append(base_path(spec))
    # Inside the exception layer, so what they raise is answered in the family's wire: where a
    # request comes from, size and time limits, who may call, then the docs, routing, validation.
    gates = [pipeline.cross_site(tuple(settings.allowed_hosts)),
             pipeline.request_shape(settings.max_body, settings.body_timeout)]
    token = admin_token(settings)
    if token:
        gates.append(pipeline.admin_gate(guarded, token))
    if settings.aws_credentials:
        require_botocore()
        secrets = load_credentials(settings.aws_credentials)
        regions = frozenset(settings.aws_regions) if settings.aws_regions else aws_regions()
        gates.append(pipeline.sigv4(wires, secrets, regions))
    dispatch = DispatchRuntime(wires=wires, store=store, offload=offload, control_base=control_base)
    app = ConnexionMiddleware(Dispatch(dispatch), import_name=__name__, lifespan=lifespan,
                              middlewares=connexion_layers(settings, gates))
    for name, spec in specs:
        # Docs page at <base>/ui/, the spec as JSON at <base>/openapi.json.
        # An explicit base path lets Connexion order the mounts most specific first; left to
        # the spec, every API sorts as "/" and the root-mounted IoT API can shadow the others.
        app.add_api(spec, name=name, base_path=base_path(spec), strict_validation=True,
                    validator_map=VALIDATORS,
                    validate_responses=settings.validate_responses,
                    swagger_ui_options=SwaggerUIOptions(swagger_ui=True))
    # Our layers, in the order web/pipeline.py documents. Outside the exception layer:
    # which plane a request is for, its journal entry and timeline, the two HTML pages.
    before = []
    data_plane = dict(specs).get("iot-jobs-data")
    if data_plane is not None:
        before.append(pipeline.split_planes(service="iot-jobs-data", host_prefix="data.jobs.iot",
                                            base_path=base_path(data_plane), keep=control_base))
    observer = pipeline.Observer(wires, journal, clock, transitions,
                                 unrecorded=(f"{control_base}/state",))
    state_page = HTMLResponse(page_html().replace("__CONTROL_BASE__", control_base.rstrip("/")),
                              headers={"Cache-Control": "no-store"})
    pages = pipeline.Pages({"/": HTMLResponse(landing_html([(name, spec, base_path(spec)) for name, spec in specs])),
                            control_base.rstrip("/"): state_page, control_base.rstrip("/") + "/": state_page})
    app.add_middleware(pipeline.Outer, position=MiddlewarePosition.BEFORE_EXCEPTION, before=before,
                       observer=observer, pages=pages)
    # After routing, before security and validation: faults, planned per operation
    app.add_middleware(InjectFaults, position=MiddlewarePosition.BEFORE_SECURITY, runtime=dispatch)
    handler = error_handler(wires, allowed_methods(specs))
    for kind in HANDLED:
        app.add_error_handler(kind, handler)
    return app


SETTINGS_VARIABLE = "CANCELGATE_SETTINGS"


def app_from_environment() -> ConnexionMiddleware:
    """The app for each of several uvicorn workers, built from the settings `serve` put in the
    environment (uvicorn starts workers from an import string). Those hold no secret: workers
    read the credentials file and the admin token's file themselves."""
    return create_app(Settings(**json.loads(os.environ[SETTINGS_VARIABLE])))
