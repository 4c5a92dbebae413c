"""ApiError: how a rule or an operation says a request failed. Standard library only, so that
importing a rule loads no web framework; handlers/web/wire.py renders it in each family's format."""
from __future__ import annotations


class ApiError(Exception):
    """A failure with a family error code (`ClientException`, `INVALID_DATA`, ...).

    `status` is only needed where the wire cannot derive it from the code (framework errors).
    """

    def __init__(self, code: str, message: str, status: int | None = None, *,
                 headers: dict[str, str] | None = None, extra: dict | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.headers = headers or {}
        self.extra = extra or {}  # fields a wire adds beside the error (Vault's `errorType`)

    def __repr__(self) -> str:
        return f"ApiError({self.code!r}, {self.message!r}, {self.status!r})"


class ConfigError(ValueError):
    """A configuration the server refuses to start with (`cancelgate serve` exits 2 with this
    one line); the message names the option or file, and the key."""
