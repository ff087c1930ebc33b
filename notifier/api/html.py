"""Server-rendered pages: one Jinja2 environment with autoescape on, so everything from feeds
and readers is escaped; links from feeds are shown only when they are http(s)."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from pathlib import Path

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from notifier.alerts.render import web_link
from notifier.api.safety import csrf_token, keep_csrf_cookie
from notifier.settings import get_settings
from notifier.stories import latest

TEMPLATES = Path(__file__).parent / "templates"
PRIVATE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex"}


@cache
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = when
    return env


def when(iso: str | None) -> str:
    """`2026-11-30T06:27:00Z` as `30 Nov 06:27 UTC`: readable without JavaScript."""
    try:
        return datetime.fromisoformat(iso.replace("Z", "+00:00")).strftime("%d %b %H:%M UTC") if iso else ""
    except ValueError:
        return iso or ""


def page(request: Request, name: str, status: int = 200, private: bool = False, **data) -> HTMLResponse:
    """Render a page with this browser's CSRF token for its forms (and keep that token)."""
    token = csrf_token(request)
    body = environment().get_template(name).render(csrf=token, base_url=get_settings().base_url, **data)
    response = HTMLResponse(body, status_code=status, headers=PRIVATE if private else None)
    keep_csrf_cookie(response, token, secure=get_settings().base_url.startswith("https://"))
    return response


def wire_items(r, limit: int = 30) -> list[dict]:
    """The live wire, with links only where they are http(s) (never javascript: or data:)."""
    return [s | {"link": web_link(s["link"])} for s in latest.wire(r, limit)]
