"""The request being answered, for the few operations that need more than their parameters
(Vault's Accept and Content-Type headers, its host for URLs, the SigV4 region of an AWS ARN):
Connexion's context-local request."""
from __future__ import annotations

from connexion import request

from cancelgate.web.planes import signing_scope

__all__ = ["request", "signing_region"]


def signing_region(default: str) -> str:
    """The region of the request's SigV4 credential scope (`default` when it is unsigned)."""
    headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in request.headers.items()
               if k.lower() == "authorization"]
    signed = signing_scope(headers)
    return signed[0] if signed else default
