"""Request validation as the specs mean it, compiled once, and strict about what a body is.

Connexion's validators build a Python jsonschema validator per request and use Python's `re`,
whose `$` also matches before a final newline, so `"reason": "abc\\n"` passed a no-control-
characters pattern. OpenAPI patterns are ECMA 262: jsonschema-rs implements them as written
and is compiled once per schema. Error messages keep Connexion's form, `<message> - '<path>'`.
"""
from __future__ import annotations

import itertools
import json
import re
import typing as t
from urllib.parse import parse_qsl

import jsonschema_rs
import orjson
from connexion.exceptions import BadRequestProblem, UnsupportedMediaTypeProblem
from connexion.middleware.request_validation import (RequestValidationAPI, RequestValidationMiddleware,
                                                     RequestValidationOperation)
from connexion.utils import is_nullable, is_null
from connexion.datastructures import MediaTypeDict
from connexion.validators import VALIDATOR_MAP, JSONRequestBodyValidator, ParameterValidator

_compiled: dict[int, tuple[dict, t.Any]] = {}


def _validator(schema: dict):
    # Connexion hands each operation the same schema object on every request, with its $refs
    # already inlined and the spec's `components` attached, which can make a cycle (a body
    # schema that is itself one of the components): compile without them.
    hit = _compiled.get(id(schema))
    if hit is None or hit[0] is not schema:
        inlined = {k: v for k, v in schema.items() if k != "components"}
        hit = (schema, jsonschema_rs.Draft4Validator(inlined))
        _compiled[id(schema)] = hit
    return hit[1]


def _describe(errors) -> str | None:
    """One line for the most useful of the errors: a missing field first (it names the field),
    else the first; a long offending value is abbreviated (the message would repeat it whole)."""
    found = list(itertools.islice(errors, 20))
    if not found:
        return None
    error = next((e for e in found if type(e.kind).__name__ == "Required"), found[0])
    message = error.message
    shown = json.dumps(error.instance, separators=(",", ":"), ensure_ascii=False, default=str)
    if len(shown) > 60 and message.startswith(shown):
        message = "the value" + message[len(shown):]
    path = "/".join(str(part) for part in error.instance_path)
    return f"{message} - '{path}'" if path else message


def first_error(schema: dict, instance: t.Any) -> str | None:
    """How `instance` breaks `schema`, as one line naming the field; None if valid."""
    validator = _validator(schema)
    if validator.is_valid(instance):   # one call, where listing no errors is several
        return None
    return _describe(validator.iter_errors(instance))


ABSENT = object()  # no body at all, as opposed to a JSON `null`
_ABSENT = ABSENT
# scope extension: the body as parsed here, so the dispatch app (web/dispatch.py) hands the
# operation this very object instead of parsing the JSON a second time
BODY = "cancelgate.body"


def _no_constants(name: str) -> t.NoReturn:
    raise ValueError(f"{name} is not JSON")


_DECODER = json.JSONDecoder(parse_constant=_no_constants)
ORJSON_BRACKETS = 400
_LONG_NUMBER = re.compile(rb"\d{19}")


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _holds_lone_surrogate(value: t.Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if any("\ud800" <= ch <= "\udfff" for ch in item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def parse_body(raw: bytes) -> t.Any:
    """A request body as JSON (RFC 8259: UTF-8, no NaN or Infinity, no lone surrogate), ABSENT
    when empty; what is not is a BadRequestProblem naming what is wrong.

    orjson refuses all that is refused here, and a BOM: what it refuses is read again by the
    standard parser, which words the error. It does not read everything as the standard parser
    does, so it is not given what it reads otherwise: a run of 19 digits or more (orjson 3.8
    makes an integer beyond 64 bits a float; the standard parser keeps it whole), or more
    brackets than the standard parser's recursion limit lets it nest (orjson takes any depth;
    the standard parser refuses what is nested too deeply, as before)."""
    if raw.count(b"[") + raw.count(b"{") < ORJSON_BRACKETS and not _LONG_NUMBER.search(raw):
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequestProblem(detail="request body is not valid UTF-8") from None
    if not text:
        return _ABSENT
    try:
        if text.startswith("\ufeff"):   # as json.loads refuses it
            raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
        parsed = _DECODER.decode(text)
    except RecursionError:
        raise BadRequestProblem(detail="request body is nested too deeply") from None
    except ValueError as error:
        raise BadRequestProblem(detail=f"request body is not valid JSON: {error}") from None
    if _SURROGATE_ESCAPE.search(text) and _holds_lone_surrogate(parsed):
        # JSON can escape half of a UTF-16 pair (\ud800) that is no Unicode character:
        # no API here takes one, and nothing could store or answer it
        raise BadRequestProblem(detail="request body holds a lone surrogate escape (\\ud800-\\udfff), "
                                       "which is not a Unicode character")
    return parsed


class StrictJSONBodyValidator(JSONRequestBodyValidator):
    """UTF-8 only (RFC 8259), no NaN or Infinity, a nesting bomb is a 400, ECMA patterns."""

    async def wrap_receive(self, receive, *, scope):
        """Connexion's `wrap_receive` (Connexion 3.3.0) reads the body through an async generator
        into `_parse`; here the messages are read in a plain loop, then parsed, validated and
        replayed for whatever reads the body after (the same steps, in the same order). A body
        without a Content-Length keeps Connexion's handling (its schema default)."""
        length = next((value for key, value in scope["headers"] if key == b"content-length"), b"")
        if not length.isdigit() or not int(length):
            return await super().wrap_receive(receive, scope=scope)
        messages = []
        while True:
            message = await receive()
            messages.append(message)
            if not message.get("more_body", False):
                break
        body = self._parse_bytes(b"".join(message.get("body", b"") for message in messages), scope)
        if not (body is None and self._nullable):
            self._validate(body)
        return self._insert_messages(receive, messages=messages), scope

    async def _parse(self, stream, scope) -> t.Any:
        return self._parse_bytes(b"".join([message async for message in stream]), scope)

    def _parse_bytes(self, raw: bytes, scope) -> t.Any:
        parsed = parse_body(raw)
        scope.setdefault("extensions", {})[BODY] = parsed
        return parsed

    def _validate(self, body: t.Any) -> t.Optional[dict]:
        if body is _ABSENT:
            if self._required:
                raise BadRequestProblem("Request body must not be empty")
            return None  # an optional body left out (IoT's CancelJobExecution, CreateThing)
        try:
            error = first_error(self._schema, body)
        except RecursionError:
            error = "request body is nested too deeply"
        if error:
            raise BadRequestProblem(detail=error)
        return None


class CompiledParameterValidator(ParameterValidator):
    """Path, query and header parameters checked with the same compiled, ECMA-pattern validator.
    A scalar query parameter given twice is refused: which one counts would be a guess
    (`?force=false&force=true` once force-cancelled)."""

    def validate_query_parameter(self, param, request):
        if param.get("schema", param).get("type") != "array":
            raw = request.scope.get("query_string", b"").decode("latin-1")
            if raw and sum(name == param["name"] for name, _ in parse_qsl(raw, keep_blank_values=True)) > 1:
                return f"query parameter '{param['name']}' is given more than once"
        return super().validate_query_parameter(param, request)

    @staticmethod
    def validate_parameter(parameter_type, value, param, param_name=None):
        if is_nullable(param) and is_null(value):
            return None
        if value is not None:
            error = first_error(param.get("schema", param), value)
            return f"{parameter_type} parameter '{param['name']}': {error}" if error else None
        if param.get("required"):
            return f"Missing {parameter_type} parameter '{param['name']}'"
        return None


_by_ref: dict[tuple[int, str], t.Any] = {}


def spec_schema_error(spec: dict, ref: str, instance: t.Any) -> str | None:
    """Validate `instance` against a schema of a spec (for bodies Connexion does not validate,
    such as Vault's CSV), with the same compiled ECMA validator; None if valid."""
    key = (id(spec), ref)
    if key not in _by_ref:
        _by_ref[key] = jsonschema_rs.Draft4Validator({"$ref": ref, "components": spec["components"]})
    return _describe(_by_ref[key].iter_errors(instance))


# Connexion's validator map with ours in: JSON bodies and parameters compiled once, ECMA patterns.
VALIDATORS = {"parameter": CompiledParameterValidator,
              "body": MediaTypeDict({**VALIDATOR_MAP["body"], "*/*json": StrictJSONBodyValidator})}


class PlannedRequestValidation(RequestValidationOperation):
    """Connexion's request validation of one operation, with what depends only on the operation
    made once: the parameter validator (skipped for an operation without parameters when the
    query string is empty: strict validation has nothing to refuse then), and per Content-Type
    value the media type, its check against the spec and the body validator (Connexion 3.3.0
    makes all of these per request in `RequestValidationOperation.__call__`, whose checks and
    errors this keeps, in its order)."""

    CACHED_TYPES = 32   # Content-Type values are the client's: only so many are remembered

    def __init__(self, next_app, *, operation, strict_validation=False, validator_map=None):
        super().__init__(next_app, operation=operation, strict_validation=strict_validation,
                         validator_map=validator_map)
        uri_parser = operation.uri_parser_class(operation.parameters, operation.body_definition())
        self._uri_parser = uri_parser
        self._has_parameters = bool(operation.parameters)
        self._parameter_validator = self._validator_map["parameter"](
            operation.parameters, uri_parser=uri_parser, strict_validation=strict_validation,
            security_query_params=self.security_query_params)
        self._by_type: dict[bytes | None, tuple] = {}

    def _plan_for(self, raw: bytes | None) -> tuple:
        """(415 detail or None, body validator or None) for a Content-Type value."""
        plan = self._by_type.get(raw)
        if plan is not None:
            return plan
        mime_type, encoding = self.extract_content_type([(b"content-type", raw)] if raw is not None else [])
        try:
            self.validate_mime_type(mime_type)
        except UnsupportedMediaTypeProblem as problem:
            plan = (problem.detail, None)   # raised anew each time: a raised object keeps its traceback
        else:
            validator = None
            schema = self._operation.body_schema(mime_type)
            if schema:
                try:
                    body_validator = self._validator_map["body"][mime_type]
                except KeyError:
                    pass   # Connexion skips validation of a media type it has no validator for
                else:
                    validator = body_validator(
                        schema=schema, required=self._operation.request_body.get("required", False),
                        nullable=is_nullable(self._operation.body_definition(mime_type)),
                        encoding=encoding, strict_validation=self.strict_validation,
                        uri_parser=self._uri_parser)
            plan = (None, validator)
        if len(self._by_type) < self.CACHED_TYPES:
            self._by_type[raw] = plan
        return plan

    async def __call__(self, scope, receive, send):
        if self._has_parameters or scope.get("query_string"):
            self._parameter_validator.validate(scope)
        raw = next((value for key, value in scope["headers"] if key == b"content-type"), None)
        error, validator = self._plan_for(raw)
        if error is not None:
            raise UnsupportedMediaTypeProblem(detail=error)
        if validator is not None:
            receive, scope = await validator.wrap_receive(receive, scope=scope)
        await self.next_app(scope, receive, send)


class PlannedValidationAPI(RequestValidationAPI):
    def make_operation(self, operation) -> PlannedRequestValidation:
        return PlannedRequestValidation(self.next_app, operation=operation,
                                        strict_validation=self.strict_validation,
                                        validator_map=self.validator_map)


class PlannedRequestValidationMiddleware(RequestValidationMiddleware):
    """Connexion's RequestValidationMiddleware, its operations planned at start."""

    api_cls = PlannedValidationAPI
