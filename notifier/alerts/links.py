"""The links in every alert: unsubscribe (one token per subscriber and notification URL) and
manage (one token per subscriber: their own page, /manage/TOKEN).

A token is an HMAC with a secret made once and kept in Redis, so every process issues the same
token; it is recorded so the API can find the subscriber again, and is checked against the HMAC
before it is believed, so a token planted in Redis without the secret opens nothing.
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

SECRET_KEY = "secret:unsubscribe"
UNSUBSCRIBE, MANAGE = "token:unsubscribe:", "token:manage:"  # + token: what it was issued for
TOKEN_SHAPE = re.compile(r"[0-9a-f]{32}")
# An unsubscribe link in an old e-mail must keep working for a long while; each alert that
# carries a token renews it, so only tokens of readers we stopped writing to ever go.
TOKEN_TTL = 400 * 24 * 3600


@dataclass(frozen=True)
class Links:
    manage_url: str | None = None
    unsubscribe_url: str | None = None


def links_many(
    r: redis.Redis, settings: Settings, pairs: list[tuple[str, str]]
) -> dict[tuple[str, str], Links]:
    """Links for a batch of (subscriber, url), in three round trips; records each token."""
    key = _secret(r)
    links, tokens, manage, base = {}, {}, {}, settings.base_url
    for subscriber, url in set(pairs):
        uhash = url_hash(url)
        token, page = _hmac(key, subscriber, uhash), _hmac(key, "manage", subscriber)
        tokens[token] = json.dumps({"subscriber": subscriber, "url_hash": uhash})
        manage[page] = subscriber
        links[(subscriber, url)] = Links(
            manage_url=f"{base}/manage/{page}", unsubscribe_url=f"{base}/unsubscribe/{token}"
        )
    if tokens:
        pipe = r.pipeline(transaction=False)
        for token, entry in tokens.items():
            pipe.set(UNSUBSCRIBE + token, entry, ex=TOKEN_TTL)
        for page, subscriber in manage.items():
            pipe.set(MANAGE + page, subscriber, ex=TOKEN_TTL)
        pipe.execute()
    return links


def manage_token(r: redis.Redis, subscriber: str) -> str:
    """The token of a subscriber's own page (the same in every alert); recorded for `resolve_manage`."""
    token = _hmac(_secret(r), "manage", subscriber)
    r.set(MANAGE + token, subscriber, ex=TOKEN_TTL)
    return token


def resolve_manage(r: redis.Redis, token: str) -> str | None:
    """The subscriber a manage token was issued to; None for anything we did not issue."""
    subscriber = r.get(MANAGE + token) if TOKEN_SHAPE.fullmatch(token) else None
    if subscriber is None:
        return None
    return subscriber if hmac.compare_digest(_hmac(_secret(r), "manage", subscriber), token) else None


def resolve_unsubscribe(r: redis.Redis, token: str) -> tuple[str, str] | None:
    """(subscriber, url_hash) for a token we issued; None for anything else."""
    raw = r.get(UNSUBSCRIBE + token) if TOKEN_SHAPE.fullmatch(token) else None
    if raw is None:
        return None
    entry = json.loads(raw)
    expected = _hmac(_secret(r), entry["subscriber"], entry["url_hash"])
    return (entry["subscriber"], entry["url_hash"]) if hmac.compare_digest(expected, token) else None


def _secret(r: redis.Redis) -> bytes:
    r.set(SECRET_KEY, secrets.token_hex(32), nx=True)  # made once, shared by every process
    secret = r.get(SECRET_KEY)
    return secret.encode() if isinstance(secret, str) else secret


def _hmac(key: bytes, *parts: str) -> str:
    # a url hash is 12 hex digits, never "manage" or a purpose: the kinds of token cannot collide
    return hmac.new(key, "\0".join(parts).encode(), hashlib.sha256).hexdigest()[:32]


def sign(r: redis.Redis, purpose: str, value: str) -> str:
    """A 32-hex HMAC of `value` for one purpose (a confirmation link): unforgeable without the secret."""
    return _hmac(_secret(r), purpose, value)


def signed_by_us(r: redis.Redis, purpose: str, value: str, signature: str) -> bool:
    return hmac.compare_digest(sign(r, purpose, value), signature)
