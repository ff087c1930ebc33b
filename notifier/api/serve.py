"""`notifier api`: the HTTP API under uvicorn, with tokens kept out of the access log."""

from __future__ import annotations

import logging

from notifier.core import admin, logs
from notifier.settings import Settings


def serve(settings: Settings) -> None:
    import uvicorn

    from notifier.api import app
    from notifier.api.requestid import RequestId

    logs.setup(settings.log_level, settings.log_format)
    admin.at_start(settings)
    logging.getLogger("uvicorn.access").addFilter(TokenPaths())
    app.add_middleware(RequestId)
    # log_config=None: uvicorn's records go to our root handler (format, redaction) as they are
    uvicorn.run(app, host=settings.api_host, port=settings.api_port, log_config=None)


TOKEN_PATHS = ("/unsubscribe/", "/websub/", "/manage/", "/confirm/", "/api/me/")


class TokenPaths(logging.Filter):
    """Access-log lines carry unsubscribe, manage and confirmation tokens and WebSub ids in
    their paths: mask them."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_masked_path(a) for a in record.args)
        return True


def _masked_path(value):
    if isinstance(value, str) and value.startswith(TOKEN_PATHS):
        prefix = next(p for p in TOKEN_PATHS if value.startswith(p))
        return f"{prefix}***"
    return value
