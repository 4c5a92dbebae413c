"""Two AWS APIs on one port, told apart the way their real endpoints are.

AWS IoT's control plane (`iot`, openapi/iot.yaml at `/`) and its jobs data plane
(`iot-jobs-data`, openapi/iot-jobs-data.yaml) share four paths (`/things/{thing}/jobs...`).
Real clients reach them at different hosts and sign for different services, so this middleware
sends a request to the data plane's spec, served under its internal base path, when

- its SigV4 credential scope names the `iot-jobs-data` service
  (`Authorization: AWS4-HMAC-SHA256 Credential=<key>/<day>/<region>/iot-jobs-data/aws4_request`), or
- it is unsigned and its Host is the data plane's (`data.jobs.iot...`).

Everything else keeps its path: unsigned, ambiguous requests go to the control plane. It runs
before everything else, so routing, validation, the error wire, faults and the journal all see
the internal path and treat the request as the data plane's.
"""
from __future__ import annotations

import re

from starlette.types import ASGIApp, Receive, Scope, Send

SIGNED_PATH = "cancelgate.signed_path"  # scope extension: the raw path before the rewrite
SCOPE = re.compile(rb"Credential=[^/,\s]+/\d{8}/(?P<region>[^/,\s]+)/(?P<service>[^/,\s]+)/aws4_request")


def signing_scope(headers: list[tuple[bytes, bytes]]) -> tuple[str, str] | None:
    """(region, service) of a SigV4-signed request, or None when it is not signed."""
    authorization = next((v for k, v in headers if k == b"authorization"), None)
    match = SCOPE.search(authorization) if authorization else None
    return (match["region"].decode("latin-1"), match["service"].decode("latin-1")) if match else None


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


class SplitPlanes:
    """Prefixes `base_path` to the path of requests meant for `service` (by signing scope, or by
    a Host starting with `host_prefix` when unsigned); paths under `keep` (the control plane)
    are never moved."""

    def __init__(self, app: ASGIApp, service: str, host_prefix: str, base_path: str, keep: str):
        self.app = app
        self.service = service
        self.host_prefix = host_prefix.encode()
        self.base = base_path.rstrip("/")
        self.keep = keep.rstrip("/")

    def _wanted(self, headers: list[tuple[bytes, bytes]]) -> bool:
        signed = signing_scope(headers)
        if signed is not None:
            return signed[1] == self.service
        host = next((v for k, v in headers if k == b"host"), b"")
        return host.lower().startswith(self.host_prefix)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if (scope["type"] == "http" and not _under(path, self.base) and not _under(path, self.keep)
                and self._wanted(scope["headers"])):
            raw = scope.get("raw_path") or path.encode()
            # the signature covers the path the client sent: web/sigv4.py verifies that one
            extensions = {**scope.get("extensions", {}), SIGNED_PATH: raw}
            scope = {**scope, "path": self.base + path, "raw_path": self.base.encode() + raw,
                     "extensions": extensions}
        await self.app(scope, receive, send)
