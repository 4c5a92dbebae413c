"""The router that finds an API by its path's first segment picks what Starlette's own search picks."""
from __future__ import annotations

import asyncio

import pytest
from starlette.routing import Router

from cancelgate.web.routing import SegmentRouter

# as Connexion orders them, most specific base path first; the last mounts shadowed or shared
MOUNTS = ["/api/v2", "/_iot-jobs-data", "/_cancelgate", "/moto-api", "/api", "/v1", "/", "/late"]
PATHS = ["/v1/canceljob", "/v1", "/v1/", "/v10/x", "/api/v2/jobs", "/api/v25.3/auth", "/api", "/_cancelgate/requests",
         "/_iot-jobs-data/things/a/jobs/b", "/moto-api/reset", "/things/dev-1/jobs/j/cancel", "/", "/late/x",
         "/V1/canceljob", "//v1/x", ""]


def answering(name):
    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": f"{name} {scope.get('root_path', '')}".encode()})
    return app


async def not_found(scope, receive, send):
    await send({"type": "http.response.start", "status": 404, "headers": []})
    await send({"type": "http.response.body", "body": b"none"})


def build(router_class):
    router = router_class(default=not_found)
    for path in MOUNTS:
        router.mount(path, app=answering(path))
    return router


def answer(router, path):
    sent = []

    async def send(message):
        sent.append(message)

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}
    scope = {"type": "http", "method": "GET", "path": path, "root_path": "", "query_string": b"", "headers": [],
             "app": "connexion"}
    asyncio.run(router(scope, receive, send))
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


@pytest.mark.parametrize("path", PATHS)
def test_every_path_reaches_the_api_starlettes_search_reaches(path):
    assert answer(build(SegmentRouter), path) == answer(build(Router), path)


def test_one_segment_mounts_are_found_at_once_and_the_others_are_searched():
    router = build(SegmentRouter)
    found = {segment: (mount.path if mount is not None else None) for segment, mount in router._by_segment.items()}
    # "api" starts two mounts: searched; nothing after the root mount is reachable by segment
    assert found == {"api": None, "_iot-jobs-data": "/_iot-jobs-data", "_cancelgate": "/_cancelgate",
                     "moto-api": "/moto-api", "v1": "/v1"}
