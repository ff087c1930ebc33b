"""Unsubscribe links: GET shows a button, POST (RFC 8058 one-click) removes the address.

GET never changes anything: mail scanners and link previews follow links. The token in the
path is an HMAC we issued when rendering the alert, so a guessed or forged one is a 404.
"""

from __future__ import annotations

import dataclasses

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from notifier.alerts.links import resolve_unsubscribe
from notifier.alerts.templating import render_template
from notifier.api.deps import get_redis
from notifier.core.redact import redact
from notifier.models import find_url
from notifier.settings import get_settings
from notifier.stories import store

router = APIRouter()

# The token is in the path: keep it out of caches, search engines and Referer headers.
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
}


def _target(r, token: str) -> tuple[str, str] | HTMLResponse:
    """(subscriber, url) behind a token we issued, or the page that answers instead."""
    found = resolve_unsubscribe(r, token)
    if found is None:
        return _page("unknown", status=404)
    subscriber, url_hash = found
    url = _url_of(r, subscriber, url_hash)
    return (subscriber, url) if url else _page("gone")  # a second click: the same answer, 200


@router.get("/unsubscribe/{token}")
def confirm(token: str) -> HTMLResponse:
    target = _target(get_redis(), token)
    if isinstance(target, HTMLResponse):
        return target
    return _page("confirm", subscriber=target[0], target=redact(target[1]))


@router.post("/unsubscribe/{token}")
def one_click(token: str) -> HTMLResponse:
    """Any POST with a valid token unsubscribes; mail providers send `List-Unsubscribe=One-Click`."""
    r = get_redis()
    target = _target(r, token)
    if isinstance(target, HTMLResponse):
        return target
    subscriber, url = target
    sub = store.get_subscriber(r, subscriber)
    store.add_subscriber(r, dataclasses.replace(sub, urls=tuple(u for u in sub.urls if u != url)))
    return _page("done", subscriber=subscriber, target=redact(url))


def _url_of(r, subscriber: str, url_hash: str) -> str | None:
    sub = store.get_subscriber(r, subscriber, missing_ok=True)
    return find_url(sub.urls, url_hash) if sub else None


def _page(state: str, status: int = 200, **data) -> HTMLResponse:
    body = render_template(get_settings(), "unsubscribe.html", {"state": state, **data})
    return HTMLResponse(body, status_code=status, headers=PAGE_HEADERS)
