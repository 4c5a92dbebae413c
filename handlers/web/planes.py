"""Two AWS APIs on one port, told apart the way their real endpoints are.

AWS IoT's control plane (`iot`, openapi/iot.yaml at `/`) and its jobs data plane
(`iot-jobs-data`, openapi/iot-jobs-data.yaml) share four paths (`/things/{thing}/jobs...`).
Real clients reach them at different hosts and sign for different services, so the split-planes
step (web/pipeline.py) sends a request to the data plane's spec, served under its internal base
path, when

- its SigV4 credential scope names the `iot-jobs-data` service
  (`Authorization: AWS4-HMAC-SHA256 Credential=<key>/<day>/<region>/iot-jobs-data/aws4_request`), or
- it is unsigned and its Host is the data plane's (`data.jobs.iot...`).

Everything else keeps its path: unsigned, ambiguous requests go to the control plane. It runs
before everything else, so routing, validation, the error wire, faults and the journal all see
the internal path and treat the request as the data plane's.
"""
from __future__ import annotations

import re

SIGNED_PATH = "cancelgate.signed_path"  # scope extension: the raw path before the rewrite
SIGNING = "cancelgate.signing"          # scope extension: (the header list, its signing scope)
SCOPE = re.compile(rb"Credential=[^/,\s]+/\d{8}/(?P<region>[^/,\s]+)/(?P<service>[^/,\s]+)/aws4_request")


def signing_scope(headers: list[tuple[bytes, bytes]]) -> tuple[str, str] | None:
    """(region, service) of a SigV4-signed request, or None when it is not signed."""
    authorization = next((v for k, v in headers if k == b"authorization"), None)
    match = SCOPE.search(authorization) if authorization else None
    return (match["region"].decode("latin-1"), match["service"].decode("latin-1")) if match else None


def request_signing(scope) -> tuple[str, str] | None:
    """`signing_scope` of a request, worked out once per header list (kept in the scope)."""
    extensions = scope.setdefault("extensions", {})
    made = extensions.get(SIGNING)
    if made is None or made[0] is not scope["headers"]:
        made = extensions[SIGNING] = (scope["headers"], signing_scope(scope["headers"]))
    return made[1]
