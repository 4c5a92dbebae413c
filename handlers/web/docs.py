"""The landing page at `/`: each API with a link to its docs page and its raw spec; the docs pages."""
from __future__ import annotations

import html

from connexion.middleware.swagger_ui import SwaggerUIMiddleware
from starlette.types import Receive, Scope, Send


def landing_html(apis: list[tuple[str, dict, str]]) -> str:
    """`apis`: (name, spec, base path) for each spec served."""
    rows = []
    for name, spec, base in apis:
        info = spec.get("info", {})
        summary = " ".join((info.get("description") or "").strip().split("\n\n")[0].split())
        rows.append(
            f'<li class="api" id="{html.escape(name)}"><h2>{html.escape(info.get("title", name))}</h2>'
            f'<p>{html.escape(summary)}</p>'
            f'<p>base path <code>{html.escape(base or "/")}</code> · '
            f'<a href="{html.escape(base)}/ui/">docs</a> · '
            f'<a href="{html.escape(base)}/openapi.json">raw spec (JSON)</a></p></li>')
    return ("<!doctype html><html lang=en><head><meta charset=utf-8><title>cancelgate</title>"
            "<style>body{font-family:sans-serif;max-width:50em;margin:2em auto}li{margin:1em 0}</style>"
            "</head><body><h1>cancelgate</h1><p>A stateful, spec-driven emulator of job-cancellation APIs."
            f"</p><ul>{''.join(rows)}</ul></body></html>")


class DocsPages(SwaggerUIMiddleware):
    """Connexion's Swagger UI middleware (`<base>/ui/`, `<base>/openapi.json` and `.yaml`),
    asked only about paths that can be one of its pages. Connexion 3.3.0's middleware matches
    every request against every API's docs routes (a Starlette router of mounts) before passing
    it on; an operation's path never needs that."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if "/ui" in path or path.endswith(("/openapi.json", "/openapi.yaml")):
            return await super().__call__(scope, receive, send)
        await self.app(scope, receive, send)
