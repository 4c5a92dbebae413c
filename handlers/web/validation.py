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
from connexion.exceptions import BadRequestProblem
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
    return _describe(_validator(schema).iter_errors(instance))


ABSENT = object()  # no body at all, as opposed to a JSON `null`
_ABSENT = ABSENT
# scope extension: the body as parsed here, so the dispatch app (web/dispatch.py) hands the
# operation this very object instead of parsing the JSON a second time
BODY = "cancelgate.body"


def _no_constants(name: str) -> t.NoReturn:
    raise ValueError(f"{name} is not JSON")


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


class StrictJSONBodyValidator(JSONRequestBodyValidator):
    """UTF-8 only (RFC 8259), no NaN or Infinity, a nesting bomb is a 400, ECMA patterns."""

    async def _parse(self, stream, scope) -> t.Any:
        raw = b"".join([message async for message in stream])
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise BadRequestProblem(detail="request body is not valid UTF-8") from None
        if not text:
            scope.setdefault("extensions", {})[BODY] = _ABSENT
            return _ABSENT
        try:
            parsed = json.loads(text, parse_constant=_no_constants)
        except RecursionError:
            raise BadRequestProblem(detail="request body is nested too deeply") from None
        except ValueError as error:
            raise BadRequestProblem(detail=f"request body is not valid JSON: {error}") from None
        if _SURROGATE_ESCAPE.search(text) and _holds_lone_surrogate(parsed):
            # JSON can escape half of a UTF-16 pair (\ud800) that is no Unicode character:
            # no API here takes one, and nothing could store or answer it
            raise BadRequestProblem(detail="request body holds a lone surrogate escape (\\ud800-\\udfff), "
                                           "which is not a Unicode character")
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
