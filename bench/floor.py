"""The Connexion floor: what routing and validating CancelJob by the spec costs, and nothing else.

`ConnexionMiddleware` around a plain ASGI app that answers `{}` for the operation the routing
middleware named in `scope["extensions"]["connexion_routing"]["operation_id"]`. Its
middlewares are the ones cancelgate needs to route and validate (server error, exception,
routing, Connexion's own request validation middleware, lifespan), with cancelgate's compiled
validators (handlers/web/validation.py's validator map) over the same spec (openapi/batch.yaml):
the configuration issue 18 measured at 0.31x bare Starlette. cancelgate's rows are compared with
this one: the ratio says what our layers, the rule and the store cost on top of Connexion.

    uvicorn bench.floor:app
"""
from __future__ import annotations

from pathlib import Path

import yaml
from connexion import ConnexionMiddleware
from connexion.middleware.exceptions import ExceptionMiddleware
from connexion.middleware.lifespan import LifespanMiddleware
from connexion.middleware.request_validation import RequestValidationMiddleware
from connexion.middleware.routing import RoutingMiddleware
from connexion.middleware.server_error import ServerErrorMiddleware
from connexion.resolver import Resolver

from cancelgate.web.validation import VALIDATORS

SPEC = Path(__file__).resolve().parent.parent / "openapi" / "batch.yaml"
ANSWER = [(b"content-type", b"application/json"), (b"content-length", b"2")]


async def handler(scope, receive, send):
    if scope["type"] != "http":
        return
    operation = scope["extensions"]["connexion_routing"].get("operation_id")
    status = 200 if operation else 404
    await send({"type": "http.response.start", "status": status, "headers": ANSWER})
    await send({"type": "http.response.body", "body": b"{}"})


def _resolve(_operation_id: str):
    return handler


def build() -> ConnexionMiddleware:
    spec = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    app = ConnexionMiddleware(handler, middlewares=[ServerErrorMiddleware, ExceptionMiddleware, RoutingMiddleware,
                                                    RequestValidationMiddleware, LifespanMiddleware])
    app.add_api(spec, base_path=spec["servers"][0]["url"].rstrip("/"), strict_validation=True,
                validator_map=VALIDATORS, resolver=Resolver(function_resolver=_resolve))
    return app


app = build()
