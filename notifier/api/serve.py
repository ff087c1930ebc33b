"""`notifier api`: the HTTP API under uvicorn, with tokens kept out of the access log."""

from __future__ import annotations

import logging
import secrets
from pathlib import Path

from notifier.settings import Settings


def admin_token(settings: Settings) -> tuple[str, bool]:
    """The operator token: from the setting, else kept in the data dir (created once).

    Returns the token and whether it was created now (the caller prints it, once).
    """
    if settings.admin_token:
        return settings.admin_token, False
    path = Path(settings.data_dir) / "admin_token"
    if path.exists():
        return path.read_text().strip(), False
    path.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    path.write_text(token)
    path.chmod(0o600)
    return token, True


def serve(settings: Settings) -> None:
    import uvicorn

    token, created = admin_token(settings)  # every way of starting the API makes sure one exists
    if created:
        print(f"admin token (shown once, kept in {settings.data_dir}/admin_token): {token}", flush=True)

    logging.getLogger("uvicorn.access").addFilter(TokenPaths())
    uvicorn.run(
        "notifier.api:app",
        host=settings.api_host,
        port=settings.api_port,
        log_level=settings.log_level.lower(),
    )


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
