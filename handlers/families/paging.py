"""Offset paging tokens, as the AWS families issue them: opaque to clients, checked when read."""
from __future__ import annotations

import base64
import binascii

from cancelgate.errors import ApiError


def encode(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def decode(token: str | None, error_code: str) -> int:
    """The offset a token of ours names; anything else is `error_code` (the family's 400)."""
    if not token:
        return 0
    try:
        kind, _, offset = base64.urlsafe_b64decode(token.encode("ascii")).decode("ascii").partition(":")
    except (UnicodeError, binascii.Error, ValueError):
        kind, offset = "", ""
    # str.isdigit() is true for "²" and "١", which int() refuses or reads as another number
    if kind != "offset" or not offset.isascii() or not offset.isdigit():
        raise ApiError(error_code, "nextToken is not a token this service issued")
    return int(offset)


def listed(items: list, token: str | None, size: int, error_code: str, key: str, view=None) -> dict:
    """One page of `items` as an AWS list answer: `{key: [view(item), ...]}`, with `nextToken`
    when more follow."""
    shown, following = page(items, token, size, error_code)
    answer: dict = {key: [view(item) for item in shown] if view else shown}
    if following:
        answer["nextToken"] = following
    return answer


def page(items: list, token: str | None, size: int, error_code: str) -> tuple[list, str | None]:
    """The page of `items` a token names, and the token of the next one (None after the last)."""
    start = decode(token, error_code)
    following = start + size
    return items[start:following], (encode(following) if following < len(items) else None)
