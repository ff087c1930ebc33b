"""Unsubscribe links: one unguessable token per (subscriber, notification URL).

The token is an HMAC over the pair with a secret made once and kept in Redis, so every process
issues the same token; the token is recorded so the API can find the pair again, and is checked
against the HMAC before it is believed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass

import redis

from notifier.models import url_hash
from notifier.settings import Settings

SECRET_KEY, TOKENS_KEY = "secret:unsubscribe", "unsubscribe:tokens"


@dataclass(frozen=True)
class Links:
    manage_url: str | None = None
    unsubscribe_url: str | None = None


def links_many(
    r: redis.Redis, settings: Settings, pairs: list[tuple[str, str]]
) -> dict[tuple[str, str], Links]:
    """Links for a batch of (subscriber, url), in three round trips; records each token."""
    key = _secret(r)
    links, tokens, base = {}, {}, settings.base_url
    for subscriber, url in set(pairs):
        uhash = url_hash(url)
        token = _token(key, subscriber, uhash)
        tokens[token] = json.dumps({"subscriber": subscriber, "url_hash": uhash})
        links[(subscriber, url)] = Links(manage_url=f"{base}/", unsubscribe_url=f"{base}/unsubscribe/{token}")
    if tokens:
        r.hset(TOKENS_KEY, mapping=tokens)
    return links


def resolve_unsubscribe(r: redis.Redis, token: str) -> tuple[str, str] | None:
    """(subscriber, url_hash) for a token we issued; None for anything else."""
    raw = r.hget(TOKENS_KEY, token) if re.fullmatch(r"[0-9a-f]{32}", token) else None
    if raw is None:
        return None
    entry = json.loads(raw)
    expected = _token(_secret(r), entry["subscriber"], entry["url_hash"])
    return (entry["subscriber"], entry["url_hash"]) if hmac.compare_digest(expected, token) else None


def _secret(r: redis.Redis) -> bytes:
    r.set(SECRET_KEY, secrets.token_hex(32), nx=True)  # made once, shared by every process
    secret = r.get(SECRET_KEY)
    return secret.encode() if isinstance(secret, str) else secret


def _token(key: bytes, subscriber: str, uhash: str) -> str:
    return hmac.new(key, f"{subscriber}\0{uhash}".encode(), hashlib.sha256).hexdigest()[:32]
