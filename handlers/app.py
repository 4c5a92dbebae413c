"""The composition root: specs -> Connexion, the pipeline, the store, the scheduler."""
from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import os
from pathlib import Path

import connexion
import yaml
from connexion.middleware import MiddlewarePosition
from connexion.options import SwaggerUIOptions

from cancelgate import fixtures as fixture_files
from cancelgate import lifecycle_config
from cancelgate.clock import ManualClock, RealClock
from cancelgate.families import indexes as family_indexes
from cancelgate.mock.journal import Journal
from cancelgate.mock.transitions import Transitions
from cancelgate.resources import data_dir, specs_dir
from cancelgate.runtime import Runtime, install
from cancelgate.scheduler import Scheduler
from cancelgate.settings import SCHEDULER_INTERVAL_S, Settings
from cancelgate.store import open_store
from cancelgate.web.docs import LandingPage
from cancelgate.web.error_handler import HANDLED, allowed_methods, base_path, error_handler
from cancelgate.web.middleware import AdminGate, CrossSiteGate, RequestShape, StampHeaders
from cancelgate.web.observe import InjectFaults, RecordRequests
from cancelgate.web.planes import SplitPlanes
from cancelgate.web.sigv4 import SigV4Gate, load_credentials
from cancelgate.web.state_page import RecordTransitions, StatePage, record_scheduler
from cancelgate.web.validation import VALIDATORS
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


def create_app(settings: Settings | None = None) -> connexion.AsyncApp:
    settings = settings or Settings()
    config = lifecycle_settings(settings) if settings.use_lifecycle else None
    start_state = (fixture_files.load(settings.fixtures or data_dir())
                   if settings.use_fixtures else {})
    store = open_store(settings.db, start_state, settings.store, settings.store_prefix,
                       check=fixture_files.check_tables, indexes=family_indexes())
    if warning := store.durability_warning():
        log.warning("Redis store: %s", warning)
    clock = ManualClock(shared=store) if settings.clock == "manual" else RealClock()
    scheduler = Scheduler(store, clock, config, threaded=bool(settings.store)) if config is not None else None
    journal = Journal(settings.journal_size, store)
    transitions = Transitions()
    if scheduler is not None:
        record_scheduler(scheduler, transitions)
    specs = load_specs()
    wires = WireMap()
    install(Runtime(store=store, fixtures=start_state, clock=clock, scheduler=scheduler, journal=journal,
                    wires=wires, specs=dict(specs), account=settings.aws_account,
                    vault_session_idle_ms=int(settings.vault_session_idle * 1000), limits=settings,
                    transitions=transitions))

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
            store.close()

    app = connexion.AsyncApp(__name__, lifespan=lifespan)
    control_base = "/_cancelgate"
    guarded = []  # base paths --admin-token guards: the control plane and moto's reset
    for name, spec in specs:
        wires.add(base_path(spec), wire_from_spec(spec["x-cancelgate-wire"]), name)
        if name == "control":
            control_base = base_path(spec)
        if name in ("control", "moto"):
            guarded.append(base_path(spec))
        # Docs page at <base>/ui/, the spec as JSON at <base>/openapi.json.
        # An explicit base path lets Connexion order the mounts most specific first; left to
        # the spec, every API sorts as "/" and the root-mounted IoT API can shadow the others.
        app.add_api(spec, name=name, base_path=base_path(spec), strict_validation=True,
                    validator_map=VALIDATORS,
                    validate_responses=settings.validate_responses,
                    swagger_ui_options=SwaggerUIOptions(swagger_ui=True))
    # First of all: a request signed for the IoT jobs data plane goes to its spec (web/planes.py).
    data_plane = dict(specs).get("iot-jobs-data")
    if data_plane is not None:
        app.add_middleware(SplitPlanes, MiddlewarePosition.BEFORE_EXCEPTION, service="iot-jobs-data",
                           host_prefix="data.jobs.iot", base_path=base_path(data_plane), keep=control_base)
    app.add_middleware(RecordRequests, MiddlewarePosition.BEFORE_EXCEPTION, wires=wires,
                       journal=journal, clock=clock, unrecorded=(f"{control_base}/state",))
    app.add_middleware(RecordTransitions, MiddlewarePosition.BEFORE_EXCEPTION, store=store, clock=clock,
                       transitions=transitions)
    app.add_middleware(StatePage, MiddlewarePosition.BEFORE_EXCEPTION, base_path=control_base)
    app.add_middleware(LandingPage, MiddlewarePosition.BEFORE_EXCEPTION,
                       apis=[(name, spec, base_path(spec)) for name, spec in specs])
    app.add_middleware(StampHeaders, MiddlewarePosition.BEFORE_CONTEXT, wires=wires)
    # Added in the order requests meet them, all inside the exception layer: where it comes
    # from, size and time limits, then who may call, then routing and validation.
    app.add_middleware(CrossSiteGate, MiddlewarePosition.BEFORE_SWAGGER, allowed_hosts=tuple(settings.allowed_hosts))
    app.add_middleware(RequestShape, MiddlewarePosition.BEFORE_SWAGGER, max_body=settings.max_body,
                       body_timeout=settings.body_timeout)
    token = admin_token(settings)
    for guarded_base in guarded:
        app.add_middleware(AdminGate, MiddlewarePosition.BEFORE_SWAGGER, base_path=guarded_base, token=token)
    if settings.aws_credentials:
        app.add_middleware(SigV4Gate, MiddlewarePosition.BEFORE_SWAGGER, wires=wires,
                           secrets=load_credentials(settings.aws_credentials), regions=settings.aws_regions)
    app.add_middleware(InjectFaults, MiddlewarePosition.BEFORE_SECURITY, wires=wires, store=store,
                       control_base=control_base)
    handler = error_handler(wires, allowed_methods(specs))
    for kind in HANDLED:
        app.add_error_handler(kind, handler)
    return app


SETTINGS_VARIABLE = "CANCELGATE_SETTINGS"


def app_from_environment() -> connexion.AsyncApp:
    """The app for each of several uvicorn workers, built from the settings `serve` put in the
    environment (uvicorn starts workers from an import string). Those hold no secret: workers
    read the credentials file and the admin token's file themselves."""
    return create_app(Settings(**json.loads(os.environ[SETTINGS_VARIABLE])))
