"""The one summary `cancelgate serve` prints as it starts: where it answers, what state it holds,
how time moves, where the docs are and whether the control plane is protected."""
from __future__ import annotations

import urllib.parse
from pathlib import Path

from cancelgate.families import REGISTRY
from cancelgate.resources import data_dir
from cancelgate.settings import Settings


def base_url(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else "::1" if host == "::" else host
    return f"http://[{shown}]:{port}" if ":" in shown else f"http://{shown}:{port}"


def _redacted(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.password is None and parts.username is None:
        return url
    return urllib.parse.urlunsplit(parts._replace(netloc=f"***@{parts.hostname}:{parts.port or 6379}"))


def summary(settings: Settings, host: str, port: int, start_state: dict, workers: int = 1) -> str:
    from cancelgate import __version__
    url = base_url(host, port)
    if settings.store:
        store = f"Redis {_redacted(settings.store)} (key prefix {settings.store_prefix}), {workers} worker(s)"
    elif settings.db:
        store = f"TinyDB file {Path(settings.db).resolve()} (kept across restarts)"
    else:
        store = "in memory (TinyDB): gone when the server stops"
    if settings.use_fixtures:
        counts = ", ".join(f"{name} {sum(len(start_state.get(t, {})) for t in family.tables)}"
                           for name, family in REGISTRY.items())
        source = Path(settings.fixtures).resolve() if settings.fixtures else f"packaged {data_dir()}"
        fixtures = f"{counts} documents from {source}"
    else:
        fixtures = "none (--no-fixtures): every table starts empty"
    clock = ("manual: time moves only by POST /_cancelgate/clock/advance" if settings.clock == "manual"
             else "real")
    if not settings.use_lifecycle:
        lifecycle = "off (--no-lifecycle): jobs move only by requests and the control plane"
    else:
        lifecycle = str(Path(data_dir()) / "lifecycle.yaml")
        if settings.lifecycle:
            lifecycle += f" with {Path(settings.lifecycle).resolve()} merged over it"
    if settings.admin_token:
        control = "protected: Authorization: Bearer <--admin-token> required"
    else:
        control = "open to anyone who can reach the port (no --admin-token)"
    exposed = host not in ("127.0.0.1", "localhost", "::1")
    lines = [f"cancelgate {__version__} on {url}" + ("  (bound to all interfaces)" if exposed else ""),
             f"  store       {store}",
             f"  fixtures    {fixtures}",
             f"  clock       {clock}",
             f"  lifecycle   {lifecycle}",
             f"  docs        {url}/  (each API's reference under <base path>/ui/)",
             f"  state page  {url}/_cancelgate/",
             f"  control     {url}/_cancelgate: {control}"]
    return "\n".join(lines)
