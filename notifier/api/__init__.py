"""The HTTP API: one FastAPI app, one router per concern."""

from __future__ import annotations

from fastapi import FastAPI

from notifier.api import health, metrics, unsubscribe, websub

app = FastAPI(title="notifier", docs_url=None, redoc_url=None)
app.include_router(health.router)
app.include_router(metrics.router)
app.include_router(websub.router)
app.include_router(unsubscribe.router)
