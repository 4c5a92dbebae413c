"""The running server's shared parts, set once by `app.create_app` and read by the handlers."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cancelgate.clock import RealClock
from cancelgate.store import Fixtures, Store


@dataclass
class Runtime:
    store: Store
    fixtures: Fixtures = field(default_factory=dict)
    clock: Any = field(default_factory=RealClock)
    region: str = "us-east-1"
    account: str = "123456789012"
    scheduler: Any = None  # cancelgate.scheduler.Scheduler, or None with --no-lifecycle
    journal: Any = None    # cancelgate.mock.journal.Journal
    wires: Any = None      # cancelgate.web.wire.WireMap: each family's answer format
    specs: dict = field(default_factory=dict)   # spec name -> the spec as loaded
    vault_session_idle_ms: int = 30 * 60 * 1000
    limits: Any = None     # cancelgate.settings.Settings: the connection limits web/protocol.py reads
    transitions: Any = None  # mock.transitions.Transitions: the state page's timeline
    offload: Any = None    # web.dispatch.Offload: where store calls made outside an operation run


_current: Runtime | None = None


def install(runtime: Runtime) -> None:
    global _current
    _current = runtime


def current() -> Runtime:
    if _current is None:
        raise RuntimeError("no cancelgate runtime installed: build the app with create_app()")
    return _current
