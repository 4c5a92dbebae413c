"""JSON request bodies parsed strictly, so that no body can turn into a server error."""
from __future__ import annotations

import json
import typing as t

from connexion.exceptions import BadRequestProblem
from connexion.validators import JSONRequestBodyValidator


def _no_constants(name: str) -> t.NoReturn:
    raise ValueError(f"{name} is not JSON")


class StrictJSONBodyValidator(JSONRequestBodyValidator):
    """UTF-8 only (RFC 8259), no NaN or Infinity, and a nesting bomb is a 400, not a 500."""

    async def _parse(self, stream, scope) -> t.Any:
        raw = b"".join([message async for message in stream])
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise BadRequestProblem(detail="request body is not valid UTF-8") from None
        if not text:
            return None
        try:
            return json.loads(text, parse_constant=_no_constants)
        except RecursionError:
            raise BadRequestProblem(detail="request body is nested too deeply") from None
        except ValueError as error:
            raise BadRequestProblem(detail=f"request body is not valid JSON: {error}") from None

    def _validate(self, body: t.Any) -> t.Optional[dict]:
        try:
            return super()._validate(body)
        except RecursionError:
            raise BadRequestProblem(detail="request body is nested too deeply") from None
