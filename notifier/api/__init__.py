"""The HTTP side: one FastAPI app, one router per concern.

health (/healthz), websub (hub callbacks), unsubscribe (RFC 8058 links in every alert); the
operator API behind the bearer token (feeds and topics, subscribers, activity: stories,
deliveries, status) with its OpenAPI at /docs; the readers' JSON API (readers); and the
server-rendered pages: the live wire and sign-up (pages), a reader's own page (manage), and the
operator's dashboard (dashboard). auth, safety (CSP, CSRF, rate limits), clientip, errors and
html are what those routers share; templates/ and static/ hold the pages and their scripts.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from notifier.api import (
    activity,
    dashboard,
    errors,
    feeds,
    health,
    manage,
    metrics,
    pages,
    readers,
    subscribers,
    unsubscribe,
    websub,
)
from notifier.api.safety import SecurityHeaders

DESCRIPTION = """Breaking-news alerts from feeds, to each subscriber exactly once.

Operator endpoints need `Authorization: Bearer $NOTIFIER_ADMIN_TOKEN`. A reader's own endpoints
(`/api/me/{token}`) are reached only through the manage token in their links. Every error is
JSON: `{"error": "..."}`."""

app = FastAPI(title="notifier", description=DESCRIPTION, version="1", redoc_url=None)
errors.install(app)
app.add_middleware(SecurityHeaders)
app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
for module in (
    health,
    metrics,
    websub,
    unsubscribe,
    feeds,
    subscribers,
    activity,
    readers,
    pages,
    manage,
    dashboard,
):
    app.include_router(module.router)
