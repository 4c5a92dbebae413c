"""cancelgate: a stateful, spec-driven emulator of job-cancellation APIs.

`cancelgate.Control` (the control-plane client) and `cancelgate.ControlError` are imported on
first use, so `import cancelgate` stays as light as the standard library.
"""
from __future__ import annotations

from importlib import metadata as _metadata

try:
    __version__ = _metadata.version("cancelgate")
except _metadata.PackageNotFoundError:  # a checkout that was never installed
    __version__ = "0+unknown"

__all__ = ["Control", "ControlError", "__version__"]


def __getattr__(name: str):
    if name in ("Control", "ControlError"):
        from cancelgate import control_client
        return getattr(control_client, name)
    raise AttributeError(f"module 'cancelgate' has no attribute {name!r}")
