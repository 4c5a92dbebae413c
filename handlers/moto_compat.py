"""The operations of openapi/moto.yaml: moto_server's `/moto-api/reset` and `/moto-api/reset-auth`."""
from __future__ import annotations

from cancelgate.runtime import current


async def reset(body=None):
    """An empty store, as moto's reset leaves it (not the fixtures: that is /_cancelgate/reset)."""
    rt = current()
    rt.store.reset(None)
    if rt.transitions is not None:
        rt.transitions.forget()
    return {"status": "ok"}


async def reset_auth(body=None):
    return {"status": "ok"}
