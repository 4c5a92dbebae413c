"""Reading a request body whole in a middleware and handing it on: what the SigV4 gate (which
hashes the body) and RequestShape (which gives a chunked body its length) both need."""
from __future__ import annotations

from starlette.types import Message, Receive


async def read_whole(receive: Receive) -> bytes | None:
    """The whole request body, or None if the client went away first."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


def replaying(body: bytes, receive: Receive) -> Receive:
    """A receive channel that hands on `body` in one message, then whatever `receive` brings."""
    delivered = False

    async def replay() -> Message:
        nonlocal delivered
        if delivered:
            return await receive()
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}
    return replay
