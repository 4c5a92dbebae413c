"""The live state page at `/_cancelgate/` and what feeds its timeline.

The page is one static HTML file (web/state_page.html: no build step, no external asset) that
holds no state itself: its script polls `GET /_cancelgate/state` every second, sending the
admin token when the server has one (asked for on the page, or given as `#token=...`), so the
page honours `--admin-token` exactly as the control plane does.
"""
from __future__ import annotations

from importlib import resources

from cancelgate.families import REGISTRY


def page_html() -> str:
    return resources.files("cancelgate.web").joinpath("state_page.html").read_text(encoding="utf-8")


def record_scheduler(scheduler, transitions) -> None:
    """Every transition the scheduler applies (real clock or advanced) goes to the timeline too."""
    tables = {name: family.lifecycle.table for name, family in REGISTRY.items() if family.lifecycle}

    def recorded(family: str, changes: list[dict]) -> None:
        transitions.clock(family, tables[family], changes)
    scheduler.listeners.append(recorded)
