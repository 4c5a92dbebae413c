"""The request being answered, for the few operations that need more than their parameters
(Vault's Accept and Content-Type headers, its host for URLs, the SigV4 region of an AWS ARN).

The dispatch app (web/dispatch.py) binds it before it calls the operation; it is a Starlette
`Request` over the same scope Connexion routed and validated, made only when an operation
reads it."""
from __future__ import annotations

from contextvars import ContextVar

from starlette.requests import Request
from starlette.types import Receive, Scope

from cancelgate.web.planes import request_signing

__all__ = ["request", "signing", "signing_region", "bind_request"]

_bound: ContextVar[tuple[Scope, Receive] | None] = ContextVar("cancelgate_request", default=None)
_made: ContextVar[Request | None] = ContextVar("cancelgate_request_object", default=None)


def bind_request(scope: Scope, receive: Receive) -> None:
    _bound.set((scope, receive))
    _made.set(None)


def _current() -> Request:
    made = _made.get()
    if made is None:
        made = Request(_bound_scope(), _bound.get()[1])
        _made.set(made)
    return made


class _RequestProxy:
    """`request.headers`, `request.query_params`, `request.url`: of the request being answered."""

    def __getattr__(self, name: str):
        return getattr(_current(), name)


request = _RequestProxy()


def _bound_scope() -> Scope:
    bound = _bound.get()
    if bound is None:
        raise RuntimeError("no request is being answered")
    return bound[0]


def signing() -> tuple[str, str] | None:
    """(region, service) of the request's SigV4 credential scope, None when it is unsigned."""
    return request_signing(_bound_scope())


def signing_region(default: str) -> str:
    """The region of the request's SigV4 credential scope (`default` when it is unsigned)."""
    signed = signing()
    return signed[0] if signed else default
