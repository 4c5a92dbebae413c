"""The wire formats of the families: how an error, and the headers every answer carries, look.

Each spec names its wire in the top-level extension `x-cancelgate-wire`; this module is the only
place that knows what those formats are. Everything that goes wrong, anywhere, becomes an
`ApiError` and is rendered by the wire of the spec that owns the request's path.
"""
from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass, field
from xml.etree import ElementTree

from starlette.responses import Response

from cancelgate.errors import ApiError


def one_line(text: object, limit: int = 300) -> str:
    """Messages go into JSON bodies only, but still: one printable line of bounded length."""
    flat = " ".join(str(text).split())
    flat = "".join(ch if ch.isprintable() else "?" for ch in flat)
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def request_id() -> str:
    """A random (version 4) UUID in its text form, the id every answer carries. An id needs to
    be unique, not secret: it comes from `random` (seeded from the OS in each process), which
    spares every answer the system call of uuid.uuid4() and the UUID object it builds."""
    x = "%032x" % random.getrandbits(128)
    return f"{x[:8]}-{x[8:12]}-4{x[13:16]}-{'89ab'[int(x[16], 16) & 3]}{x[17:20]}-{x[20:]}"


def _json(body: object, status: int, headers: dict[str, str], media_type: str) -> Response:
    return Response(json.dumps(body, separators=(",", ":")), status_code=status,
                    headers=headers, media_type=media_type)


@dataclass
class AwsWire:
    """rest-json: status code, `x-amzn-ErrorType` header and `{"__type", "message"}` body.

    botocore reads the code from the header first, then from `__type`; both are sent.
    """

    statuses: dict[str, int]
    client_error: str
    server_error: str
    # framework statuses that have a modelled exception of their own (for example 404 routes)
    by_status: dict[int, str] = field(default_factory=dict)
    # the SigV4 service name its clients sign with (the model's signingName)
    signing_name: str | None = None

    def render(self, error: ApiError, accept: str = "") -> Response:
        status = error.status or self.statuses.get(error.code, 400)
        headers = {**self.stamp(), "x-amzn-ErrorType": error.code, **error.headers}
        # extra: fields the model puts beside the message (IoT Jobs' `executionState`)
        return _json({"__type": error.code, "message": one_line(error.message), **error.extra},
                     status, headers, "application/json")

    def from_status(self, status: int, message: str) -> ApiError:
        default = self.server_error if status >= 500 else self.client_error
        return ApiError(self.by_status.get(status, default), message, status)

    def stamp(self) -> dict[str, str]:
        return {"x-amzn-RequestId": request_id()}

    def fault_codes(self) -> set[str]:
        return set(self.statuses)

    def fault_status(self, code: str, status: int | None = None) -> int:
        return status or self.statuses.get(code, 500)


# Vault's XML: lists become repeated child elements named for what they hold.
XML_ROOT = "ApiRestResult"
XML_ITEMS = {"errors": "error", "data": "job", "vaultIds": "vault", "links": "link", "warnings": "warning",
             "jobs": "job", "users": "user", "progress": "task"}


# What XML 1.0 cannot carry at all, not even as a character reference (its `Char` production):
# such a character in a stored value is sent as U+FFFD, so the document stays well-formed.
NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def to_xml(body: dict) -> bytes:
    """The JSON answer as XML under <ApiRestResult>, built with ElementTree."""
    def fill(element: ElementTree.Element, value: object, name: str) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                fill(ElementTree.SubElement(element, key), inner, key)
        elif isinstance(value, list):
            for inner in value:
                fill(ElementTree.SubElement(element, XML_ITEMS.get(name, "item")), inner, name)
        elif isinstance(value, bool):
            element.text = "true" if value else "false"
        elif value is not None:
            element.text = NOT_XML.sub("\ufffd", str(value))
    root = ElementTree.Element(XML_ROOT)
    fill(root, body, XML_ROOT)
    return ElementTree.tostring(root, encoding="utf-8", xml_declaration=True)


def wants_xml(accept: str) -> bool:
    """JSON unless the client prefers XML (the first of the two it names, by q then order)."""
    ranked = []
    for position, part in enumerate(accept.split(",")):
        media, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        ranked.append((-quality, position, media.strip().lower()))
    for _, _, media in sorted(ranked):
        if media in ("application/json", "application/*", "*/*"):
            return False
        if media in ("application/xml", "text/xml"):
            return True
    return False


@dataclass
class VaultWire:
    """Vault answers HTTP 200 for user errors, with `responseStatus: FAILURE` and an errors list,
    in JSON or, when asked, XML; every answer names its status in `X-VaultAPI-Status`."""

    by_status: dict[int, str]

    def respond(self, body: dict, accept: str = "", headers: dict[str, str] | None = None) -> Response:
        headers = {**self.stamp(), "X-VaultAPI-Status": body.get("responseStatus", "SUCCESS"), **(headers or {})}
        if wants_xml(accept):
            return Response(to_xml(body), status_code=200, headers=headers, media_type="application/xml")
        return _json(body, 200, headers, "application/json")

    def render(self, error: ApiError, accept: str = "") -> Response:
        body = {"responseStatus": "FAILURE",
                "errors": [{"type": error.code, "message": one_line(error.message)}], **error.extra}
        return self.respond(body, accept, error.headers)

    def from_status(self, status: int, message: str) -> ApiError:
        code = self.by_status.get(status, "UNEXPECTED_ERROR")
        if code == "INVALID_DATA" and ("is a required property" in message or message.startswith("Missing")):
            code = "PARAMETER_REQUIRED"
        if code == "INVALID_SESSION_ID":
            message = "Invalid or expired session ID."
        return ApiError(code, message, status)

    def stamp(self) -> dict[str, str]:
        return {"X-VaultAPI-ExecutionId": request_id()}

    def fault_codes(self) -> set[str]:
        return {"API_LIMIT_EXCEEDED", "INTERNAL_SERVER_ERROR", "UNEXPECTED_ERROR", "RACE_CONDITION",
                "OPERATION_IN_PROGRESS", "INVALID_SESSION_ID"}

    def fault_status(self, code: str, status: int | None = None) -> int:
        return 200  # Vault answers every failure with HTTP 200


@dataclass
class ProblemWire:
    """Our own control plane: RFC 7807 problem documents, sent as plain `application/json` so
    that each operation produces one media type (Connexion needs that to serialise answers)."""

    def render(self, error: ApiError, accept: str = "") -> Response:
        status = error.status or 400
        body = {"type": "about:blank", "title": error.code, "status": status,
                "detail": one_line(error.message)}
        return _json(body, status, dict(error.headers), "application/json")

    def from_status(self, status: int, message: str) -> ApiError:
        return ApiError("Error" if status >= 500 else "Bad Request", message, status)

    def stamp(self) -> dict[str, str]:
        return {}

    def fault_codes(self) -> set[str]:
        return set()

    def fault_status(self, code: str, status: int | None = None) -> int:
        return status or 500


Wire = AwsWire | VaultWire | ProblemWire


def wire_from_spec(extension: dict) -> Wire:
    """Build a wire from a spec's `x-cancelgate-wire` extension."""
    kind = extension["format"]
    by_status = {int(k): v for k, v in extension.get("byStatus", {}).items()}
    if kind == "aws":
        return AwsWire(statuses=dict(extension["statuses"]), client_error=extension["clientError"],
                       server_error=extension["serverError"], by_status=by_status,
                       signing_name=extension.get("signingName"))
    if kind == "vault":
        return VaultWire(by_status=by_status)
    if kind == "problem":
        return ProblemWire()
    raise ValueError(f"unknown wire format {kind!r}")


class WireMap:
    """Which wire answers for a path: the spec with the longest base path that contains it."""

    KNOWN = 4096         # paths whose owner is remembered (a path with ids in it is one of many)
    KNOWN_LENGTH = 256   # of at most this length

    def __init__(self) -> None:
        self._prefixes: list[tuple[str, Wire, str]] = []
        self._known: dict[str, tuple[Wire, str]] = {}

    def add(self, base_path: str, wire: Wire, family: str) -> None:
        self._prefixes.append((base_path.rstrip("/"), wire, family))
        self._prefixes.sort(key=lambda item: len(item[0]), reverse=True)
        self._known.clear()

    def _owner(self, path: str) -> tuple[Wire, str]:
        known = self._known.get(path)
        if known is None:
            known = next(((wire, family) for prefix, wire, family in self._prefixes
                          if not prefix or path == prefix or path.startswith(prefix + "/")),
                         (ProblemWire(), "unknown"))
            if len(path) <= self.KNOWN_LENGTH:   # a client chooses its paths: keep the memory small
                if len(self._known) >= self.KNOWN:
                    self._known.clear()
                self._known[path] = known
        return known

    def for_path(self, path: str) -> Wire:
        return self._owner(path)[0]

    def for_family(self, family: str) -> Wire:
        return next(wire for _, wire, name in self._prefixes if name == family)

    def family_for(self, path: str) -> str:
        """The name of the spec that owns `path` (its file name: batch, iot, vault, control)."""
        return self._owner(path)[1]
