"""The operator's bearer token: NOTIFIER_ADMIN_TOKEN, or made by whichever process starts first.

Every way of starting (`notifier run`, `worker`, `beat`, `api`, each compose service) calls
`ensure`; one SET NX in Redis decides which process creates the token, and only that one
prints it. Redis keeps only its SHA-256, so it can never be shown or logged again: an operator
who lost it deletes `admin:token_sha256` and restarts, and a new one is printed.
A token an earlier version kept in the data dir (`admin_token`) is adopted, not replaced.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import sys
import time
from pathlib import Path

import redis

from notifier.core.db import shared_client
from notifier.core.redact import remember_secret
from notifier.settings import Settings

log = logging.getLogger(__name__)

KEY = "admin:token_sha256"
OLD_FILE = "admin_token"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def ensure(r: redis.Redis, settings: Settings) -> str | None:
    """Make sure a token exists; return it only if this call created it (print it, once)."""
    if settings.admin_token:
        remember_secret(settings.admin_token)
        return None
    old = Path(settings.data_dir) / OLD_FILE
    if old.exists():
        r.set(KEY, _digest(old.read_text().strip()), nx=True)
        return None
    token = secrets.token_urlsafe(32)
    if not r.set(KEY, _digest(token), nx=True):
        return None
    remember_secret(token)
    return token


def digest(r: redis.Redis, settings: Settings) -> str:
    """SHA-256 of the operator token, wherever it is kept; "" before any process made one."""
    if settings.admin_token:
        return _digest(settings.admin_token)
    return str(r.get(KEY) or "")


def verify(r: redis.Redis, settings: Settings, presented: str) -> bool:
    """Constant-time check of a presented bearer token."""
    if settings.admin_token:
        return hmac.compare_digest(presented.encode(), settings.admin_token.encode())
    stored = r.get(KEY)
    return bool(stored) and hmac.compare_digest(_digest(presented), str(stored))


def announce(token: str, settings: Settings) -> None:
    """Print the new token once, on stdout, not through logging (which must never carry it)."""
    note = "admin token (shown once; Redis keeps only its hash)"
    if settings.log_format == "json":
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        line = {"ts": stamp, "level": "WARNING", "logger": "notifier.admin", "message": note, "token": token}
        print(json.dumps(line), flush=True)
    else:
        print(f"{note}: {token}", flush=True)
    sys.stdout.flush()


def ensure_and_announce(r: redis.Redis, settings: Settings) -> None:
    token = ensure(r, settings)
    if token:
        announce(token, settings)


def at_start(settings: Settings) -> None:
    """What every process does as it starts; Redis not up yet is no reason to stop it."""
    try:
        ensure_and_announce(shared_client(), settings)
    except Exception as exc:  # noqa: BLE001 - the next process to start makes the token
        log.warning("admin token not checked yet: %s", exc)
